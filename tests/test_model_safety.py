"""Trained models are data, not code: loading a shared model file can never run code.

A crafted pickle whose unpickling writes a marker file is offered to ``load_model`` under every
disguise (``.json``, ``.pkl``, joblib, protocol 0 text, inside a run configuration); the marker
must never appear. Malformed JSON models are refused with an :class:`InputError` naming the file.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from leadertrack.config import RunConfig
from leadertrack.errors import InputError
from leadertrack.model import DEFAULT_FEATURES, MAX_MODEL_BYTES, LeaderModel, load_model, save_model


class _WritesMarker:
    """Unpickling this object opens ``path`` for writing, which creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _payloads(marker: Path) -> dict[str, bytes]:
    evil = _WritesMarker(marker)
    joblib_buffer = io.BytesIO()
    joblib.dump(evil, joblib_buffer)
    compressed = io.BytesIO()
    joblib.dump(evil, compressed, compress=3)
    return {
        "pickle_v5": pickle.dumps(evil, protocol=5),
        "pickle_v2": pickle.dumps(evil, protocol=2),
        "pickle_v0_text": pickle.dumps(evil, protocol=0),
        "joblib": joblib_buffer.getvalue(),
        "joblib_zlib": compressed.getvalue(),
    }


def test_the_crafted_pickle_is_live(tmp_path):
    """Sanity check: unpickling the payload really does write the marker."""
    marker = tmp_path / "marker"
    for name, payload in _payloads(marker).items():
        if name == "joblib_zlib":
            continue  # joblib's compressed container is not a bare pickle
        marker.unlink(missing_ok=True)
        pickle.loads(payload)
        assert marker.exists(), name


@pytest.mark.parametrize("suffix", [".json", ".pkl", ".joblib", ".skops"])
@pytest.mark.parametrize("kind", ["pickle_v5", "pickle_v2", "pickle_v0_text", "joblib", "joblib_zlib"])
def test_pickles_are_refused_and_never_run(tmp_path, kind, suffix):
    marker = tmp_path / "marker"
    path = tmp_path / f"model{suffix}"
    path.write_bytes(_payloads(marker)[kind])
    with pytest.raises(InputError) as err:
        load_model(path)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_a_pickled_model_in_a_run_configuration_never_runs(tmp_path):
    from leadertrack.pipeline import analyze_tracks
    from leadertrack.synthetic import simulate_tracks

    marker = tmp_path / "marker"
    path = tmp_path / "leaders.json"
    path.write_bytes(_payloads(marker)["pickle_v5"])
    config = RunConfig()
    config.classify.model_path = str(path)
    sim = simulate_tracks(geometry="planar", n_frames=6, seed=0)
    with pytest.raises(InputError, match="pickle"):
        analyze_tracks(_trackset(sim), config)
    assert not marker.exists()


def _trackset(sim):
    from leadertrack.formats.trackset import TrackSet, cells_from_tracks, check_tracks

    tracks = check_tracks(sim.tracks[["track_id", "frame", "y", "x"]], source="sim")
    return TrackSet(tracks, cells_from_tracks(tracks), 1.0, 1.0, "sim", "sim")


def test_skops_zip_file_is_refused(tmp_path):
    """skops (and any zip container) is refused too: a model file is plain JSON."""
    path = tmp_path / "model.json"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps({"__class__": "LogisticRegression"}))
    with pytest.raises(InputError, match="pickle/joblib/skops"):
        load_model(path)


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> dict:
    n = len(DEFAULT_FEATURES)
    model = LeaderModel(
        features=list(DEFAULT_FEATURES), mean=np.zeros(n), scale=np.ones(n), coef=np.linspace(-1, 1, n),
        intercept=0.5, n_train=10, fill=np.zeros(n),
    )
    path = tmp_path_factory.mktemp("model") / "good.json"
    save_model(model, path)
    return json.loads(path.read_text())


_NAN = float("nan")
MALFORMED_MODELS = {
    "deeply nested arrays": "[" * 100_000 + "]" * 100_000,
    "deeply nested objects": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "a 5000-digit integer": '{"format": "leadertrack-model", "version": ' + "9" * 5000 + "}",
    "a JSON list": "[1, 2, 3]",
    "empty": "",
    "not JSON": "{features: leader_fraction",
    "jsonpickle object": json.dumps({"py/reduce": [{"py/function": "builtins.open"}, ["x", "w"]]}),
}
MALFORMED_FIELDS = {
    "version as text": ({"version": "1"}, "version"),
    "version as bool": ({"version": True}, "version"),
    "future version": ({"version": 3}, "version"),
    "unknown kind": ({"kind": "forest"}, "kind"),
    "no features": ({"features": []}, "feature list"),
    "features not names": ({"features": list(range(len(DEFAULT_FEATURES)))}, "distinct column names"),
    "duplicated features": ({"features": ["persistence"] * len(DEFAULT_FEATURES)}, "distinct column names"),
    "NaN weights": ({"coef": [_NAN] * len(DEFAULT_FEATURES)}, "finite"),
    "infinite intercept": ({"intercept": float("inf")}, "finite"),
    "zero scale": ({"scale": [0.0] * len(DEFAULT_FEATURES)}, "scales must be positive"),
    "weights as text": ({"mean": ["a"] * len(DEFAULT_FEATURES)}, "bad"),
    "nested weights": ({"mean": [[0.0] * len(DEFAULT_FEATURES)]}, "do not match"),
    "too few weights": ({"coef": [1.0]}, "do not match"),
    "missing intercept": ({"intercept": None}, "bad"),
    "n_train as text": ({"n_train": "many"}, "bad"),
    "cv_accuracy as text": ({"cv_accuracy": "high"}, "bad"),
    "cv_f1 as text": ({"cv_f1": "high"}, "bad"),
    "NaN rule weight": ({"rule_weight": _NAN}, "finite"),
    "rule weight as a list": ({"rule_weight": [10.0]}, "bad"),
    "no rule weight in a version-2 file": ({"rule_weight": None}, "bad"),
    "penalty as text": ({"penalty": "strong"}, "bad"),
    "intercept as true": ({"intercept": True}, "intercept must hold numbers, not true/false"),
    "weights as booleans": ({"coef": [True] * len(DEFAULT_FEATURES)}, "coef must hold numbers, not true/false"),
}


@pytest.mark.parametrize("text", MALFORMED_MODELS.values(), ids=MALFORMED_MODELS.keys())
def test_malformed_model_files_are_refused(tmp_path, text):
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_model(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize("change, message", MALFORMED_FIELDS.values(), ids=MALFORMED_FIELDS.keys())
def test_malformed_model_fields_are_refused(tmp_path, good_model, change, message):
    data = {**good_model, **change}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))  # json writes NaN/Infinity, which Python's json reads back
    with pytest.raises(InputError, match=message) as err:
        load_model(path)
    assert str(err.value).startswith(str(path))


def test_oversized_file_is_refused_unread(tmp_path, good_model):
    path = tmp_path / "model.json"
    data = dict(good_model)
    data["padding"] = "x" * MAX_MODEL_BYTES
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="MiB"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_model(tmp_path / "absent.json")


def test_good_model_still_loads_and_scores_in_unit_interval(tmp_path, good_model):
    data = good_model
    path = tmp_path / "again.json"
    path.write_text(json.dumps(data))
    model = load_model(path)
    rng = np.random.default_rng(2)
    cells = pd.DataFrame({f: rng.normal(size=30) * 1e6 for f in DEFAULT_FEATURES})
    cells.iloc[0] = np.nan  # a track without features gets the training medians
    with np.errstate(all="raise"):
        score = model.predict_score(cells)
    assert np.isfinite(score).all() and (score >= 0).all() and (score <= 1).all()
