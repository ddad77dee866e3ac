"""Tests for leadertrack.model: training, cross-validation, JSON save/load, refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leadertrack.errors import InputError
from leadertrack.model import DEFAULT_FEATURES, load_model, save_model, train_model


def labelled(seed: int, n: int = 80) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    cells = pd.DataFrame({f: rng.normal(size=n) for f in DEFAULT_FEATURES})
    cells["leader_fraction"] = np.where(y, rng.uniform(0.4, 1, n), rng.uniform(0, 0.3, n))
    cells["track_id"] = np.arange(1, n + 1)
    return cells, pd.Series(y, index=cells.index)


@pytest.mark.parametrize("seed", [0, 1])
def test_train_predict_and_cv(seed):
    cells, y = labelled(seed)
    model = train_model(cells, y, seed=seed)
    assert model.features == list(DEFAULT_FEATURES)
    assert model.cv_accuracy > 0.85
    score = model.predict_score(cells)
    assert ((score >= 0.5) == y).mean() > 0.9
    assert score.min() >= 0 and score.max() <= 1


def test_labels_by_track_id():
    cells, y = labelled(2)
    by_id = pd.Series(y.to_numpy(), index=cells["track_id"].to_numpy())
    a = train_model(cells, y).coef
    b = train_model(cells, by_id).coef
    assert np.allclose(a, b)


def test_save_load_roundtrip(tmp_path):
    cells, y = labelled(3)
    model = train_model(cells, y)
    path = tmp_path / "leaders.json"
    save_model(model, path)
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["features"] == list(DEFAULT_FEATURES)
    again = load_model(path)
    assert np.allclose(again.predict_score(cells), model.predict_score(cells))
    assert again.cv_accuracy == pytest.approx(model.cv_accuracy)


def test_load_refuses_bad_files(tmp_path):
    cells, y = labelled(4)
    path = tmp_path / "m.json"
    save_model(train_model(cells, y), path)
    data = json.loads(path.read_text())
    for change, message in [
        ({"version": 99}, "version"),
        ({"features": []}, "feature"),
        ({"coef": [1.0]}, "do not match"),
        ({"format": "other"}, "not a leadertrack model"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, **change}))
        with pytest.raises(InputError, match=message) as err:
            load_model(bad)
        assert str(err.value).startswith(str(bad))
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(InputError, match="junk.json"):
        load_model(tmp_path / "junk.json")


def test_missing_feature_when_predicting():
    cells, y = labelled(5)
    model = train_model(cells, y)
    with pytest.raises(InputError, match="persistence"):
        model.predict_score(cells.drop(columns="persistence"))


def test_training_needs_both_classes():
    cells, y = labelled(6)
    with pytest.raises(InputError, match="both"):
        train_model(cells, pd.Series(True, index=cells.index))
    with pytest.raises(InputError, match="kind"):
        train_model(cells, y, kind="forest")
