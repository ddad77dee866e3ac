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


def test_a_run_json_gives_the_settings_of_that_run(tmp_path):
    """``--config OUT/movie/run.json`` runs again with what that run was given."""
    import json

    config = RunConfig()
    config.segment.nucleus_diameter_um = 11.0
    config.link.memory = 5
    config.front.geometry = "radial"
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"leadertrack_version": "0.1.0", "config": config.model_dump(mode="json"), "warnings": []}))
    assert load_config(path) == config
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"segment": {"nucleus_diameter_um": 11.0}}))
    with pytest.raises(ValueError, match="not a leadertrack run.json"):
        load_config(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="broken.json: cannot read"):
        load_config(broken)


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
