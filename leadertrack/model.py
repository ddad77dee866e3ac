"""A trainable leader classifier (scikit-learn logistic regression), saved as plain JSON data.

Train it from labelled tracks (a user's corrections in the napari widget, or simulator ground
truth) on the per-track features of :func:`leadertrack.classify.classify`, which are relative to
each movie's own statistics so a model carries over between movies. The file holds the feature
list, the scaler and the coefficients and a format version: never a pickle, so loading a model
file cannot run code.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leadertrack.errors import InputError

__all__ = ["LeaderModel", "train_model", "save_model", "load_model", "DEFAULT_FEATURES", "MODEL_FORMAT_VERSION"]

MODEL_FORMAT_VERSION = 1
DEFAULT_FEATURES = (
    "leader_fraction", "frac_at_front", "frac_not_trailing", "frac_fast_outward", "frac_persistent",
    "speed_ratio", "persistence", "directionality",
)
"""Per-track columns (from :func:`leadertrack.classify.classify`) a model uses by default."""


@dataclass
class LeaderModel:
    """A fitted logistic model: ``leader_score = sigmoid(coef · (x - mean) / scale + intercept)``.

    Attributes
    ----------
    features
        The per-track columns it reads, in order.
    mean, scale
        Standardisation of each feature (from the training data).
    coef, intercept
        Logistic regression weights on the standardised features.
    cv_accuracy
        Mean cross-validated accuracy on the training data (NaN when too few labels to split).
    n_train
        Number of labelled tracks it was trained on.
    """

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    cv_accuracy: float = float("nan")
    n_train: int = 0
    kind: str = "logistic"
    fill: np.ndarray = field(default=None)

    def predict_score(self, cells: pd.DataFrame) -> np.ndarray:
        """Leader score in [0, 1] for each row of ``cells``.

        Raises
        ------
        InputError
            When ``cells`` lacks a feature the model needs.
        """
        x = _matrix(cells, self.features, fill=self.fill)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


def _matrix(cells: pd.DataFrame, features: list[str], *, fill: np.ndarray | None = None) -> np.ndarray:
    missing = [f for f in features if f not in cells.columns]
    if missing:
        raise InputError(f"cells table: missing feature column(s) {', '.join(missing)}; run classify() first")
    x = cells[list(features)].to_numpy(float)
    if fill is not None:
        x = np.where(np.isfinite(x), x, fill)
    return x


def train_model(
    cells: pd.DataFrame,
    labels: pd.Series,
    *,
    kind: str = "logistic",
    cv: int = 5,
    seed: int = 0,
    features: tuple[str, ...] = DEFAULT_FEATURES,
) -> LeaderModel:
    """Train a leader classifier on labelled tracks.

    Parameters
    ----------
    cells
        Per track table from :func:`leadertrack.classify.classify` (one or many movies
        concatenated).
    labels
        True for leaders, aligned with ``cells`` (same index) or indexed by ``track_id``.
    kind
        ``"logistic"`` (the only kind so far; it stores as a handful of numbers).
    cv
        Folds of stratified cross-validation for ``cv_accuracy`` (fewer when a class is rare).
    seed
        Seed for the fold shuffling.
    features
        The per-track columns to use.

    Returns
    -------
    LeaderModel
        With ``cv_accuracy`` and ``features``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cells = pd.DataFrame({"a": rng.normal(size=40)})
    >>> model = train_model(cells, cells["a"] > 0, features=("a",))
    >>> bool(model.cv_accuracy > 0.8), model.features
    (True, ['a'])
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind != "logistic":
        raise InputError(f"model kind must be 'logistic', not {kind!r}")
    features = list(features)
    if not labels.index.equals(cells.index) and "track_id" in cells.columns:
        labels = labels.reindex(cells["track_id"]).set_axis(cells.index)
    if labels.isna().any():
        raise InputError("labels: some tracks have no label (give one per row of cells)")
    y = labels.to_numpy().astype(bool)
    if y.all() or not y.any():
        raise InputError("labels: need both leaders and non-leaders to train a model")
    x = _matrix(cells, features)
    fill = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    x = np.where(np.isfinite(x), x, fill)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    folds = int(min(cv, y.sum(), (~y).sum()))
    accuracy = float("nan")
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        accuracy = float(np.mean(cross_val_score(pipe, x, y, cv=splitter)))
    pipe.fit(x, y)
    scaler, logistic = pipe[0], pipe[1]
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return LeaderModel(
        features=features, mean=scaler.mean_.copy(), scale=scale, coef=logistic.coef_[0].copy(),
        intercept=float(logistic.intercept_[0]), cv_accuracy=accuracy, n_train=len(y), fill=fill,
    )


def save_model(model: LeaderModel, path: str | Path) -> None:
    """Write ``model`` to ``path`` as JSON (atomically: a temporary file, then a rename)."""
    path = Path(path)
    data = {
        "format": "leadertrack-model",
        "version": MODEL_FORMAT_VERSION,
        "kind": model.kind,
        "features": list(model.features),
        "mean": [float(v) for v in model.mean],
        "scale": [float(v) for v in model.scale],
        "coef": [float(v) for v in model.coef],
        "intercept": float(model.intercept),
        "fill": [float(v) for v in (model.fill if model.fill is not None else np.zeros(len(model.features)))],
        "cv_accuracy": None if not np.isfinite(model.cv_accuracy) else float(model.cv_accuracy),
        "n_train": int(model.n_train),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
        json.dump(data, tmp, indent=2)
    os.replace(tmp.name, path)


def load_model(path: str | Path) -> LeaderModel:
    """Read a model written by :func:`save_model`.

    Raises
    ------
    InputError
        When the file is missing, not JSON, not a leadertrack model, of another format version,
        or its lists do not match its feature list.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the model file ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict) or data.get("format") != "leadertrack-model":
        raise InputError(f"{path}: not a leadertrack model file")
    if data.get("version") != MODEL_FORMAT_VERSION:
        raise InputError(f"{path}: model format version {data.get('version')} is not supported (need {MODEL_FORMAT_VERSION})")
    if data.get("kind") != "logistic":
        raise InputError(f"{path}: unknown model kind {data.get('kind')!r}")
    features = data.get("features")
    if not features or not isinstance(features, list):
        raise InputError(f"{path}: the model has no feature list")
    n = len(features)
    try:
        arrays = {k: np.asarray(data[k], float) for k in ("mean", "scale", "coef", "fill")}
        intercept = float(data["intercept"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: the model is missing or has a bad {exc}") from exc
    if any(a.shape != (n,) for a in arrays.values()):
        raise InputError(f"{path}: the model's weights do not match its {n} features")
    cv = data.get("cv_accuracy")
    return LeaderModel(
        features=features, mean=arrays["mean"], scale=arrays["scale"], coef=arrays["coef"], intercept=intercept,
        cv_accuracy=float("nan") if cv is None else float(cv), n_train=int(data.get("n_train", 0)), fill=arrays["fill"],
    )
