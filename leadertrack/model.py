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

__all__ = ["DEFAULT_FEATURES", "MAX_MODEL_BYTES", "MODEL_FORMAT_VERSION", "LeaderModel", "load_model", "save_model", "train_model"]

MODEL_FORMAT_VERSION = 1
#: A model file larger than this is refused unread (a logistic model takes a few kB).
MAX_MODEL_BYTES = 2**20
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
        # the logistic function, without overflow for extreme features
        from scipy.special import expit

        return expit(((x - self.mean) / self.scale) @ self.coef + self.intercept)


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

    The file is read as JSON data only: a pickle, joblib or skops file is refused without being
    unpickled, so a model shared between labs cannot run code when it is loaded.

    Raises
    ------
    InputError
        When the file is missing, larger than :data:`MAX_MODEL_BYTES`, a pickle, not JSON, not a
        leadertrack model, of another format version, its feature list is not a list of distinct
        names, or its weights are not finite numbers matching the feature list.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the model file ({exc.strerror or exc})") from exc
    if len(raw) > MAX_MODEL_BYTES:
        raise InputError(f"{path}: larger than {MAX_MODEL_BYTES // 2**20} MiB; not a leadertrack model file")
    if raw.startswith((b"\x80", b"PK\x03\x04", b"x\x9c", b"\x1f\x8b")):
        raise InputError(
            f"{path}: is a pickle/joblib/skops or compressed file; leadertrack models are JSON, and pickles "
            "are refused because loading one can run code"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read the model file: not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != "leadertrack-model":
        raise InputError(f"{path}: not a leadertrack model file")
    version = data.get("version")
    if type(version) is not int or version != MODEL_FORMAT_VERSION:
        raise InputError(f"{path}: model format version {version!r} is not supported (need {MODEL_FORMAT_VERSION})")
    if data.get("kind") != "logistic":
        raise InputError(f"{path}: unknown model kind {data.get('kind')!r}")
    features = data.get("features")
    if not features or not isinstance(features, list):
        raise InputError(f"{path}: the model has no feature list")
    if not all(isinstance(f, str) and f for f in features) or len(set(features)) != len(features):
        raise InputError(f"{path}: the model's feature list must hold distinct column names")
    n = len(features)
    try:
        arrays = {k: np.asarray(data[k], float) for k in ("mean", "scale", "coef", "fill")}
        intercept = float(data["intercept"])
        cv = data.get("cv_accuracy")
        cv_accuracy = float("nan") if cv is None else float(cv)
        n_train = int(data.get("n_train", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: the model is missing or has a bad {exc}") from None
    if any(a.shape != (n,) for a in arrays.values()):
        raise InputError(f"{path}: the model's weights do not match its {n} features")
    if not (all(np.isfinite(a).all() for a in arrays.values()) and np.isfinite(intercept)):
        raise InputError(f"{path}: the model's weights must be finite numbers")
    if (arrays["scale"] <= 0).any():
        raise InputError(f"{path}: the model's feature scales must be positive")
    return LeaderModel(
        features=features, mean=arrays["mean"], scale=arrays["scale"], coef=arrays["coef"], intercept=intercept,
        cv_accuracy=cv_accuracy, n_train=n_train, fill=arrays["fill"],
    )
