import pytest
from pydantic import ValidationError

from leadertrack.config import RunConfig, config_to_toml, load_config


def test_defaults_round_trip_through_toml(tmp_path):
    config = RunConfig()
    config.segment.nucleus_diameter_um = 12.5
    config.output.export = ["ctc"]
    path = tmp_path / "params.toml"
    path.write_text(config_to_toml(config, with_comments=False))
    assert load_config(path) == config


def test_commented_toml_is_valid_and_documents_every_field(tmp_path):
    text = config_to_toml(RunConfig())
    path = tmp_path / "params.toml"
    path.write_text(text)
    assert load_config(path) == RunConfig()
    assert "# Typical nucleus diameter in µm" in text
    assert "memory = 3" in text


def test_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "params.toml"
    path.write_text("[segment]\nnucleus_diameter = 10\n")
    with pytest.raises(ValidationError, match="nucleus_diameter"):
        load_config(path)


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "params.toml"
    path.write_text("[segment\n")
    with pytest.raises(ValueError, match="params.toml"):
        load_config(path)


def test_non_positive_units_rejected():
    with pytest.raises(ValidationError):
        RunConfig.model_validate({"units": {"pixel_size_um": 0}})
