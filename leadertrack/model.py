"""A trainable leader classifier: the documented rule, corrected by a logistic regression fitted on
labelled tracks, saved as plain JSON data.

Train it from labelled tracks (a user's corrections in the napari widget, or simulator ground
truth) on the per-track features of :func:`leadertrack.classify.classify`, which are relative to
each movie's own statistics so a model carries over between movies. The rule's own leader score
enters as a fixed offset, ``RULE_WEIGHT x (rule score - 0.5)``, and the learned weights, pulled
toward zero by an L2 penalty, only add to it: with no weights learned the model calls exactly the
rule's leaders. The penalty is chosen by cross-validation on the labels (folds by movie when the
tracks come from several), and the rule itself is one of the choices: the simplest choice whose
cross-validated leader F1 is within one standard error of the best wins, so the model departs
from the rule only as far as the labels show it helps. (A plain logistic regression fitted on the
same features, as ``train_model`` did before, lost up to 0.46 of leader F1 against the rule on
held-out movies, where this model stays within 0.004 of it: ``benchmarks/bench_model.py``.)

The file holds the feature list, the scaler, the weights, the rule's weight and a format version:
never a pickle, so loading a model file cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leadertrack.atomic import atomic_write
from leadertrack.errors import InputError

__all__ = [
    "DEFAULT_FEATURES", "MAX_MODEL_BYTES", "MODEL_FORMAT_VERSION", "ONE_MOVIE_MIN_PENALTY", "PENALTIES", "RULE_WEIGHT",
    "LeaderModel",
    "load_model", "model_summary", "save_model", "train_model",
]

MODEL_FORMAT_VERSION = 2
"""Version of the model files written; version 1 files (a plain logistic regression, no rule) still load."""
_READABLE_VERSIONS = (1, 2)
#: A model file larger than this is refused unread (a logistic model takes a few kB).
MAX_MODEL_BYTES = 2**20
DEFAULT_FEATURES = (
    "leader_fraction", "frac_at_front", "frac_not_trailing", "frac_fast_outward", "frac_persistent",
    "speed_ratio", "persistence", "directionality",
)
"""Per-track columns (from :func:`leadertrack.classify.classify`) a model uses by default."""
RULE_WEIGHT = 10.0
"""The rule's leader score enters the model's log-odds as ``RULE_WEIGHT x (score - 0.5)``: a track the rule
scores 0.6 starts at odds e to 1 of leading."""
PENALTIES = (100.0, 30.0, 10.0, 3.0)
"""L2 penalties on the learned weights that cross-validation chooses from (besides the rule alone), most
regularised first."""
ONE_MOVIE_MIN_PENALTY = 30.0
"""Trained on a single movie, the penalty is at least this: folds of one movie's tracks say little about other
movies (on the second simulator, a penalty of 3 chosen on one movie lowered leader F1 on the others)."""
MAX_WEIGHT = 1e6
"""Largest weight a loaded model may hold: trained weights on standardised features stay far below; beyond it
scores overflow (a hand-edited file)."""


@dataclass
class LeaderModel:
    """A fitted model: ``leader_score = sigmoid(rule_weight (rule score - 0.5) + coef · (x - mean) / scale + intercept)``,
    the rule score being :func:`leadertrack.classify.rule_score` of ``leader_fraction`` (at a threshold other than
    0.5, see :meth:`predict_score`).

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
    n_train, n_movies
        Number of labelled tracks it was trained on, and of movies they came from.
    rule_weight
        Weight of the rule's score (0 for a version-1 file: a plain logistic regression).
    penalty
        The L2 penalty cross-validation chose; None when it chose the rule alone (``coef`` all 0).
    cv_f1, rule_cv_f1
        Mean cross-validated leader F1 of the model, and of the rule on the same folds (NaN when
        too few labels to split, or read from a version-1 file).
    """

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    cv_accuracy: float = float("nan")
    n_train: int = 0
    n_movies: int = 1
    kind: str = "logistic"
    fill: np.ndarray = field(default=None)
    rule_weight: float = RULE_WEIGHT
    penalty: float | None = None
    cv_f1: float = float("nan")
    rule_cv_f1: float = float("nan")

    def predict_score(self, cells: pd.DataFrame, *, threshold: float = 0.5) -> np.ndarray:
        """Leader score in [0, 1] for each row of ``cells``, to be compared with ``threshold``.

        At another threshold than 0.5 the rule's part of the log-odds is centred on the threshold, and the score
        shifted so that it crosses ``threshold`` where those log-odds cross 0: with no weights learned the model
        then calls the rule's leaders at any threshold (``rule score >= threshold``), not only at 0.5.

        Raises
        ------
        InputError
            When ``cells`` lacks a feature the model needs.
        """
        from scipy.special import expit, logit

        if not self.rule_weight:  # a version-1 file: a plain logistic regression, no rule to centre
            return expit(self.log_odds(cells))  # the logistic function, without overflow for extreme log-odds
        shift = self.rule_weight * (threshold - 0.5)  # the rule's part, centred on the threshold (0 at 0.5)
        return expit(self.log_odds(cells) - shift + logit(float(np.clip(threshold, 1e-9, 1 - 1e-9))))

    def log_odds(self, cells: pd.DataFrame) -> np.ndarray:
        """The model's log-odds of leading for each row of ``cells`` (leader when >= 0 at threshold 0.5)."""
        x = _matrix(cells, self.features, fill=self.fill)
        learned = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return learned + self.rule_weight * (_rule_score(cells) - 0.5) if self.rule_weight else learned


def _rule_score(cells: pd.DataFrame) -> np.ndarray:
    """The rule's leader score of each track, from its ``leader_fraction``."""
    from leadertrack.classify import rule_score

    if "leader_fraction" not in cells.columns:
        raise InputError("cells table: missing feature column leader_fraction; run classify() first")
    return rule_score(np.nan_to_num(cells["leader_fraction"].to_numpy(float), nan=0.0))  # no fraction: never led


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
    groups: np.ndarray | pd.Series | None = None,
) -> LeaderModel:
    """Train a leader classifier on labelled tracks: the rule, corrected as far as the labels show it helps.

    For the rule alone and for each penalty of :data:`PENALTIES` (at least
    :data:`ONE_MOVIE_MIN_PENALTY` when the tracks come from one movie), the leader F1 is
    cross-validated; the simplest choice within one standard error of the best is fitted on all
    the labels.

    Parameters
    ----------
    cells
        Per track table from :func:`leadertrack.classify.classify` (one or many movies
        concatenated); it must hold ``leader_fraction``.
    labels
        True for leaders, aligned with ``cells`` (same index) or indexed by ``track_id``.
    kind
        ``"logistic"`` (the only kind so far; it stores as a handful of numbers).
    cv
        Folds of cross-validation (fewer when a class is rare or there are fewer movies).
    seed
        Seed for the fold shuffling.
    features
        The per-track columns to use.
    groups
        The movie of each row of ``cells``: folds then hold out whole movies, so the cross-validated
        F1 says how the model does on movies it has not seen. None = one movie.

    Returns
    -------
    LeaderModel
        With ``penalty`` (None: the rule), ``cv_f1``, ``rule_cv_f1``, ``cv_accuracy`` and ``features``.

    Examples
    --------
    A lab that calls a cell a leader only when it leads in at least 60 % of its frames (the rule
    needs 35 %):

    >>> rng = np.random.default_rng(0)
    >>> cells = pd.DataFrame({f: rng.normal(size=400) for f in DEFAULT_FEATURES})
    >>> cells["leader_fraction"] = rng.uniform(0, 1, 400)
    >>> theirs = cells["leader_fraction"] >= 0.6
    >>> model = train_model(cells, theirs)
    >>> model.penalty is not None, bool(model.cv_f1 > model.rule_cv_f1)
    (True, True)
    >>> by_model, by_rule = model.predict_score(cells) >= 0.5, cells["leader_fraction"] >= 0.35
    >>> float((by_model == theirs).mean()), float((by_rule == theirs).mean())
    (0.91, 0.7625)
    """
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    if kind != "logistic":
        raise InputError(f"model kind must be 'logistic', not {kind!r}")
    features = list(features)
    if not features or len(set(features)) != len(features):
        raise InputError(f"features must be distinct column names, at least one; got {features}")
    if not labels.index.equals(cells.index) and "track_id" in cells.columns:
        labels = labels.reindex(cells["track_id"]).set_axis(cells.index)
    if labels.isna().any():
        raise InputError("labels: some tracks have no label (give one per row of cells)")
    y = labels.to_numpy().astype(bool)
    if y.all() or not y.any():
        raise InputError(
            f"the tracks to learn from are all {'leaders' if y.all() else 'non-leaders'} (after the corrections): "
            "training needs both; add results, or movies reviewed in napari, with leaders and other cells"
        )
    x = _matrix(cells, features)
    fill = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    x = np.where(np.isfinite(x), x, fill)
    prior = RULE_WEIGHT * (_rule_score(cells) - 0.5)
    n_movies = 1 if groups is None else len(np.unique(np.asarray(groups)))
    if n_movies >= 2:
        splits = list(GroupKFold(n_splits=min(cv, n_movies)).split(x, y, np.asarray(groups)))
    else:
        folds = int(min(cv, y.sum(), (~y).sum()))
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y)) if folds >= 2 else []
    choices = (None, *(p for p in PENALTIES if n_movies >= 2 or p >= ONE_MOVIE_MIN_PENALTY))
    scores = {c: _cross_validate(x, y, prior, splits, c) for c in choices} if splits else {None: (np.nan, 0.0, np.nan)}
    best = max(scores, key=lambda c: scores[c][0])
    # the simplest choice (the rule, then the most regularised) within one standard error of the best
    penalty = next(c for c in choices if scores[c][0] >= scores[best][0] - scores[best][1]) if splits else None
    mean, scale, coef, intercept = _fit(x, y, prior, penalty)
    return LeaderModel(
        features=features, mean=mean, scale=scale, coef=coef, intercept=intercept, cv_accuracy=scores[penalty][2],
        n_train=len(y), n_movies=n_movies, fill=fill, penalty=penalty, cv_f1=scores[penalty][0], rule_cv_f1=scores[None][0],
    )


def model_summary(model: LeaderModel) -> str:
    """One sentence on what training chose and what cross-validation says of it, for people."""
    held_out = "on held-out movies" if model.n_movies >= 2 else "on held-out tracks of this movie"
    if not np.isfinite(model.cv_f1):
        return "Too few labelled leaders to cross-validate: the model is the rule."
    scores = f"cross-validated leader F1 {held_out}: {model.cv_f1:.3f}, the rule's {model.rule_cv_f1:.3f}"
    if model.penalty is None:
        return f"The model is the rule: your labels did not show a better one ({scores})."
    return f"The model corrects the rule ({scores}; L2 penalty {model.penalty:g})."


def _fit(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray, penalty: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardisation and L2-penalised logistic weights on top of the rule's log-odds ``prior``
    (all zero for ``penalty`` None: the rule alone)."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if penalty is None:
        return mean, scale, np.zeros(x.shape[1]), 0.0
    z = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    sign = np.where(y, 1.0, -1.0)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (prior + z @ w)
        return -log_expit(margin).sum() + 0.5 * penalty * (w @ w), z.T @ (-sign * expit(-margin)) + penalty * w

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return mean, scale, w[:-1], float(w[-1])


def _cross_validate(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray, splits: list, penalty: float | None
) -> tuple[float, float, float]:
    """Mean leader F1 over the folds, its standard error, and the mean accuracy."""
    from sklearn.metrics import f1_score

    f1, accuracy = [], []
    for train, test in splits:
        mean, scale, coef, intercept = _fit(x[train], y[train], prior[train], penalty)
        called = prior[test] + ((x[test] - mean) / scale) @ coef + intercept >= 0
        f1.append(f1_score(y[test], called, zero_division=1.0))
        accuracy.append(float((called == y[test]).mean()))
    return float(np.mean(f1)), float(np.std(f1) / np.sqrt(len(f1))), float(np.mean(accuracy))


def save_model(model: LeaderModel, path: str | Path) -> None:
    """Write ``model`` to ``path`` as JSON (atomically: a temporary file, then a rename).

    Raises
    ------
    InputError
        ``path`` is a folder (:func:`leadertrack.atomic.atomic_write` never replaces one by a file).
    """
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
        "rule_weight": float(model.rule_weight),
        "penalty": None if model.penalty is None else float(model.penalty),
        "cv_accuracy": _number_or_none(model.cv_accuracy),
        "cv_f1": _number_or_none(model.cv_f1),
        "rule_cv_f1": _number_or_none(model.rule_cv_f1),
        "n_train": int(model.n_train),
        "n_movies": int(model.n_movies),
    }
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2), encoding="utf-8"))


def _number_or_none(value: float) -> float | None:
    """JSON has no NaN: a missing number is null."""
    return float(value) if np.isfinite(value) else None


def load_model(path: str | Path) -> LeaderModel:
    """Read a model written by :func:`save_model`.

    The file is read as JSON data only: a pickle, joblib or skops file is refused without being
    unpickled, so a model shared between labs cannot run code when it is loaded.

    Raises
    ------
    InputError
        When the file is missing, larger than :data:`MAX_MODEL_BYTES`, a pickle, not JSON, not a
        leadertrack model, of another format version, its feature list is not a list of distinct
        names, its weights are not finite numbers matching the feature list (or beyond
        :data:`MAX_WEIGHT`), or its fields disagree with its version (a ``rule_weight`` in a version-1
        file, none or one at or below 0 in a version-2 file).
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
        data = json.loads(raw.decode("utf-8-sig"))  # a byte-order mark (saved by Notepad) is no harm
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read the model file: not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != "leadertrack-model":
        raise InputError(f"{path}: not a leadertrack model file")
    version = data.get("version")
    if type(version) is not int or version not in _READABLE_VERSIONS:
        raise InputError(
            f"{path}: model format version {version!r} is not supported (need one of "
            f"{', '.join(map(str, _READABLE_VERSIONS))}; a newer leadertrack wrote it?)"
        )
    if data.get("kind") != "logistic":
        raise InputError(f"{path}: unknown model kind {data.get('kind')!r}")
    features = data.get("features")
    if not features or not isinstance(features, list):
        raise InputError(f"{path}: the model has no feature list")
    if not all(isinstance(f, str) and f for f in features) or len(set(features)) != len(features):
        raise InputError(f"{path}: the model's feature list must hold distinct column names")
    n = len(features)
    numbers = ("mean", "scale", "coef", "fill", "intercept", "rule_weight", "penalty", "cv_accuracy", "cv_f1",
               "rule_cv_f1", "n_train", "n_movies")
    flags = [k for k in numbers if any(isinstance(v, bool) for v in np.ravel(np.asarray(data.get(k), dtype=object)))]
    if flags:  # Python reads true as 1.0: a number edited into true/false
        raise InputError(f"{path}: the model's {flags[0]} must hold numbers, not true/false; this file was edited")
    try:
        arrays = {k: np.asarray(data[k], float) for k in ("mean", "scale", "coef", "fill")}
        intercept = float(data["intercept"])
        cv_accuracy, cv_f1, rule_cv_f1 = (
            float("nan") if data.get(key) is None else float(data[key]) for key in ("cv_accuracy", "cv_f1", "rule_cv_f1")
        )
        n_train = int(data.get("n_train", 0))
        n_movies = int(data.get("n_movies", 1))
        # version 1: a plain logistic regression, without the rule's score
        rule_weight = float(data["rule_weight"]) if version >= 2 else 0.0
        penalty = None if data.get("penalty") is None else float(data["penalty"])
    except KeyError as exc:
        raise InputError(f"{path}: the model has no {exc.args[0]!r} field") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: a field of the model has a bad value, not a number ({exc})") from None
    if version == 1 and "rule_weight" in data:
        raise InputError(f"{path}: a version-1 model has no rule_weight; this file was edited (a version-2 model?)")
    if any(a.shape != (n,) for a in arrays.values()):
        raise InputError(f"{path}: the model's weights do not match its {n} features")
    if not (all(np.isfinite(a).all() for a in arrays.values()) and np.isfinite(intercept) and np.isfinite(rule_weight)):
        raise InputError(f"{path}: the model's weights must be finite numbers")
    if version >= 2 and not rule_weight > 0:
        raise InputError(f"{path}: the model's rule_weight must be positive, got {rule_weight}")
    if max(np.abs(arrays["coef"]).max(), abs(intercept), rule_weight) > MAX_WEIGHT:
        raise InputError(f"{path}: the model's weights reach beyond ±{MAX_WEIGHT:g}; no training gives such a model")
    if (arrays["scale"] <= 0).any():
        raise InputError(f"{path}: the model's feature scales must be positive")
    return LeaderModel(
        features=features, mean=arrays["mean"], scale=arrays["scale"], coef=arrays["coef"], intercept=intercept,
        cv_accuracy=cv_accuracy, n_train=n_train, n_movies=n_movies, fill=arrays["fill"], rule_weight=rule_weight, penalty=penalty,
        cv_f1=cv_f1, rule_cv_f1=rule_cv_f1,
    )
