"""Fit, calibrate, combine and score: the calibrated ensemble of the vetting classifier.

``train`` is what the site's retrain task calls: it estimates cross-validated metrics and
out-of-fold probabilities (grouped by star), then fits the final ensemble on all labels.
``score`` turns a fitted ensemble and a design matrix into everything the site stores per
candidate (probabilities, p_planet, p_triage, uncertainty, committee disagreement).

How the ensemble is built (:class:`VettingEnsemble`):

1. Calibration folds: stratified, grouped by star (no star in both halves).
2. Each model family (:mod:`classifier.estimators`) is wrapped in
   ``CalibratedClassifierCV(cv=<those folds>, ensemble=True)``: per fold one model fitted on
   the training part and one calibrator (isotonic when there are enough labels, else sigmoid)
   fitted on the held-out part.
3. The calibrated family probabilities are combined. ``combine="stack"``: a multinomial
   logistic regression on the log-probabilities of the families, fitted on the held-out-fold
   predictions of step 2, which also re-calibrates the average (averaging calibrated models
   makes them under-confident). ``combine="mean"``: plain average (used for tiny label sets).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from classifier.estimators import FAMILY_NAMES, PROFILE_FAMILIES, make_family
from classifier.evaluation import (
    grouped_splits,
    model_disagreement,
    normalized_entropy,
    planet_probability,
    triage_probability,
    vetting_metrics,
)
from classifier.vocabulary import CLASS_CODES, validate_class

#: Isotonic calibration needs enough held-out examples per class; below this, sigmoid.
MIN_PER_CLASS_FOR_ISOTONIC = 40
#: Stacking needs enough held-out predictions per class; below this, average.
MIN_PER_CLASS_FOR_STACKING = 15
#: Below this many rows, models run single-threaded: OpenMP start-up and spin-waiting on a
#: busy machine cost far more than the parallel speed-up on small data.
MIN_ROWS_FOR_THREADS = 5000


def _n_threads(n_jobs: int | None, n_rows: int) -> int:
    if n_jobs is not None:
        return max(1, int(n_jobs))
    return 1 if n_rows < MIN_ROWS_FOR_THREADS else 2


def _check_xy(X, y=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_candidates, n_features); got shape {X.shape}")
    if np.isinf(X).any():
        raise ValueError("X contains infinite values; use NaN for missing values")
    if y is None:
        return X
    y = np.asarray(y, dtype=object)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be 1-D with one label per row of X ({len(X)}); got shape {y.shape}")
    if any(v is None or v != v for v in y):
        raise ValueError("y contains unlabeled rows (None/NaN); drop them before fitting")
    for v in set(y.tolist()):
        validate_class(v)
    return X, y


def _heldout_proba(model: CalibratedClassifierCV, X: np.ndarray, splits) -> np.ndarray:
    """Probabilities of each fold's calibrated model on its own held-out fold, shape (n, k).

    The base model never saw these rows; the fold's calibrator did (low-capacity, so the
    optimism is small). Rows in no test fold keep the full prediction.
    """
    out = model.predict_proba(X)
    for (_, test), fold_model in zip(splits, model.calibrated_classifiers_):
        out[test] = fold_model.predict_proba(X[test])
    return out


def _fit_family(name: str, model: CalibratedClassifierCV, X, y_idx, splits):
    """Fit one calibrated family single-threaded.

    Returns (name, model, held-out proba, error message or None, CPU seconds).
    """
    start = time.process_time()
    try:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            model.fit(X, y_idx)
            proba = _heldout_proba(model, X, splits)
            return name, model, proba, None, time.process_time() - start
    except (ValueError, np.linalg.LinAlgError, IndexError) as exc:
        return name, None, None, f"{type(exc).__name__}: {exc}", time.process_time() - start


class VettingEnsemble(ClassifierMixin, BaseEstimator):
    """Calibrated multi-family ensemble over the label classes present in ``y``.

    Parameters
    ----------
    families : sequence of str, optional
        Model families (:data:`classifier.estimators.FAMILY_NAMES`); default from ``profile``.
    profile : {"full", "fast"}
        ``fast``: fewer, cheaper families for small label sets and active-learning rounds.
    n_calibration_folds : int
        Grouped folds for calibration (reduced automatically for tiny label sets).
    calibration : {"auto", "isotonic", "sigmoid"}
        ``auto``: isotonic when every class has at least
        :data:`MIN_PER_CLASS_FOR_ISOTONIC` examples, else sigmoid.
    combine : {"auto", "stack", "mean"}
        ``auto``: stack when every class has :data:`MIN_PER_CLASS_FOR_STACKING` examples.
    gp_max_samples : int, optional
        Override of the Gaussian-process subsample size.
    random_state : int
    n_jobs : int, optional
        Threads for all models (OpenMP/BLAS and tree ensembles). Default: 1 below
        :data:`MIN_ROWS_FOR_THREADS` rows, else 2.

    Attributes
    ----------
    classes_ : ndarray of str, shape (n_classes,)
        Class codes present in the training labels, in vocabulary order.
    families_ : dict name -> CalibratedClassifierCV
    dropped_families_ : dict name -> str
        Families that could not be fitted, with the reason.
    calibration_method_ : str
    combine_ : str
    stacker_ : LogisticRegression or None
    fit_seconds_ : float
        Wall-clock seconds of ``fit``.
    family_cpu_seconds_ : dict name -> float
        CPU seconds spent fitting each family (single-threaded, in whichever process ran it).
    """

    def __init__(
        self,
        families: Sequence[str] | None = None,
        profile: str = "full",
        n_calibration_folds: int = 3,
        calibration: str = "auto",
        combine: str = "auto",
        gp_max_samples: int | None = None,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.families = families
        self.profile = profile
        self.n_calibration_folds = n_calibration_folds
        self.calibration = calibration
        self.combine = combine
        self.gp_max_samples = gp_max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X, y, groups=None):
        """Fit on ``X`` (n, d) with labels ``y`` (n,) grouped by star ``groups`` (n,)."""
        X, y = _check_xy(X, y)
        threads = _n_threads(self.n_jobs, len(X))
        with threadpool_limits(limits=threads):
            return self._fit(X, y, groups, threads)

    def _fit(self, X, y, groups, threads):
        start = time.perf_counter()
        if self.profile not in PROFILE_FAMILIES:
            raise ValueError(f"profile must be one of {', '.join(PROFILE_FAMILIES)}; got {self.profile!r}")
        families = list(self.families) if self.families is not None else list(PROFILE_FAMILIES[self.profile])
        unknown = [f for f in families if f not in FAMILY_NAMES]
        if unknown or not families:
            raise ValueError(f"unknown or empty model families {unknown}; expected some of {', '.join(FAMILY_NAMES)}")
        if self.calibration not in ("auto", "isotonic", "sigmoid"):
            raise ValueError(f"calibration must be auto, isotonic or sigmoid; got {self.calibration!r}")
        if self.combine not in ("auto", "stack", "mean"):
            raise ValueError(f"combine must be auto, stack or mean; got {self.combine!r}")
        present = set(y.tolist())
        if len(present) < 2:
            raise ValueError(f"need labels of at least two classes to train; got only {sorted(present)}")
        self.classes_ = np.array([c for c in CLASS_CODES if c in present], dtype=object)
        y_idx = np.array([list(self.classes_).index(v) for v in y])
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"groups must have one entry per row of X ({len(y)}); got {len(groups)}")
        counts = np.bincount(y_idx, minlength=len(self.classes_))
        self.calibration_method_ = self.calibration
        if self.calibration == "auto":
            self.calibration_method_ = "isotonic" if counts.min() >= MIN_PER_CLASS_FOR_ISOTONIC else "sigmoid"
        splits = grouped_splits(y_idx, groups, n_splits=self.n_calibration_folds, random_state=self.random_state)
        # A fold whose training part holds a single class cannot fit a classifier (tiny label
        # sets). Drop such folds; if none is left, calibrate in-sample with a sigmoid (2
        # parameters per class, so the optimism stays small) rather than fail.
        splits = [(tr, te) for tr, te in splits if len(np.unique(y_idx[tr])) >= 2]
        if not splits:
            everything = np.arange(len(y_idx))
            splits = [(everything, everything)]
            self.calibration_method_ = "sigmoid"
        self.n_calibration_folds_ = len(splits)

        self.families_, self.dropped_families_ = {}, {}
        heldout = {}
        jobs = [(name, self._family_estimator(name, splits)) for name in families]
        if threads > 1 and len(jobs) > 1:
            # Families in parallel processes, one thread each: scales better than threads inside
            # each model (no OpenMP synchronisation, which is slow on a busy machine).
            results = Parallel(n_jobs=min(threads, len(jobs)), backend="loky")(
                delayed(_fit_family)(name, model, X, y_idx, splits) for name, model in jobs
            )
        else:
            results = [_fit_family(name, model, X, y_idx, splits) for name, model in jobs]
        self.family_cpu_seconds_ = {r[0]: r[4] for r in results}
        for name, model, proba, error, _ in results:
            if error is not None:
                # A family that cannot fit this label set (e.g. a class missing from a fold of a
                # tiny set) is dropped, not fatal: the others still give a calibrated answer.
                self.dropped_families_[name] = error
                continue
            self.families_[name] = model
            heldout[name] = proba
        if not self.families_:
            raise ValueError(f"no model family could be fitted: {self.dropped_families_}")

        self.combine_ = self.combine
        if self.combine == "auto":
            self.combine_ = "stack" if (counts.min() >= MIN_PER_CLASS_FOR_STACKING and len(self.families_) > 1) else "mean"
        self.stacker_ = None
        if self.combine_ == "stack":
            Z = self._stack_features(heldout)
            self.stacker_ = LogisticRegression(C=1.0, max_iter=2000, random_state=self.random_state)
            self.stacker_.fit(Z, y_idx)
        self.n_features_in_ = X.shape[1]
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _family_estimator(self, name: str, splits) -> CalibratedClassifierCV:
        base = make_family(
            name, random_state=self.random_state, profile=self.profile, n_jobs=1,
            n_samples=min(len(tr) for tr, _ in splits),
        )
        if name == "gp" and self.gp_max_samples is not None:
            base.set_params(max_samples=self.gp_max_samples)
        return CalibratedClassifierCV(base, method=self.calibration_method_, cv=splits, ensemble=True)

    def _stack_features(self, family_proba: dict) -> np.ndarray:
        return np.hstack([np.log(np.clip(family_proba[n], 1e-6, 1.0)) for n in self.families_])

    # -- prediction -----------------------------------------------------------------------
    def family_proba(self, X) -> dict[str, np.ndarray]:
        """Calibrated probabilities of each fitted family: name -> ndarray (n, n_classes)."""
        check_is_fitted(self, "families_")
        X = _check_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was trained on {self.n_features_in_}")
        with threadpool_limits(limits=_n_threads(self.n_jobs, len(X))):
            return {name: model.predict_proba(X) for name, model in self.families_.items()}

    def combine_proba(self, family_proba: dict[str, np.ndarray]) -> np.ndarray:
        """Ensemble probabilities (n, n_classes) from per-family probabilities."""
        if self.stacker_ is not None:
            return self.stacker_.predict_proba(self._stack_features(family_proba))
        return np.mean([family_proba[n] for n in self.families_], axis=0)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, shape (n, n_classes), columns ``classes_``."""
        return self.combine_proba(self.family_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class code per row, shape (n,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

@dataclass
class Scores:
    """Scores of n candidates by a fitted :class:`VettingEnsemble`.

    Attributes
    ----------
    classes : list of str, length k
    proba : ndarray (n, k)
        Calibrated ensemble probabilities.
    predicted : ndarray (n,) of str
    p_planet, p_triage : ndarray (n,)
        Sums over PLANET_CLASSES / TRIAGE_CLASSES.
    uncertainty : ndarray (n,)
        Normalised entropy of ``proba`` in [0, 1].
    least_confidence : ndarray (n,)
        1 - max probability.
    margin : ndarray (n,)
        Top probability minus the second (small = uncertain).
    disagreement : ndarray (n,)
        Committee disagreement between families (see :func:`model_disagreement`).
    family_proba : dict name -> ndarray (n, k)
    """

    classes: list[str]
    proba: np.ndarray
    predicted: np.ndarray
    p_planet: np.ndarray
    p_triage: np.ndarray
    uncertainty: np.ndarray
    least_confidence: np.ndarray
    margin: np.ndarray
    disagreement: np.ndarray
    family_proba: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.predicted)

    def records(self, candidate_ids: Sequence[str] | None = None) -> list[dict]:
        """One JSON-serialisable dict per candidate (what the site stores as a Prediction)."""
        ids = list(candidate_ids) if candidate_ids is not None else [None] * len(self)
        out = []
        for i, cid in enumerate(ids):
            out.append({
                "candidate_id": cid,
                "probabilities": {c: float(self.proba[i, j]) for j, c in enumerate(self.classes)},
                "predicted": str(self.predicted[i]),
                "p_planet": float(self.p_planet[i]),
                "p_triage": float(self.p_triage[i]),
                "uncertainty": float(self.uncertainty[i]),
                "disagreement": float(self.disagreement[i]),
                "family_probabilities": {
                    name: {c: float(p[i, j]) for j, c in enumerate(self.classes)}
                    for name, p in self.family_proba.items()
                },
            })
        return out


def scores_from_proba(proba: np.ndarray, classes: Sequence[str], family_proba: dict | None = None) -> Scores:
    """Build :class:`Scores` from ensemble (and optional per-family) probabilities."""
    classes = list(classes)
    proba = np.asarray(proba, dtype=float)
    srt = np.sort(proba, axis=1)
    family_proba = dict(family_proba or {})
    return Scores(
        classes=classes,
        proba=proba,
        predicted=np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)],
        p_planet=planet_probability(proba, classes),
        p_triage=triage_probability(proba, classes),
        uncertainty=normalized_entropy(proba),
        least_confidence=1.0 - srt[:, -1],
        margin=srt[:, -1] - (srt[:, -2] if proba.shape[1] > 1 else 0.0),
        disagreement=model_disagreement(family_proba) if family_proba else np.zeros(len(proba)),
        family_proba=family_proba,
    )


def score(model: VettingEnsemble, X) -> Scores:
    """Score candidates: probabilities, p_planet, p_triage, uncertainty, disagreement.

    Parameters
    ----------
    model : fitted VettingEnsemble
    X : ndarray (n, d)
        Built by :func:`classifier.dataset.design_matrix` with the model's feature names.
    """
    fam = model.family_proba(X)
    return scores_from_proba(model.combine_proba(fam), model.classes_, fam)


# --------------------------------------------------------------------------------------------
# Training with cross-validated metrics
# --------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """Output of :func:`train`.

    Attributes
    ----------
    model : VettingEnsemble
        Fitted on all labeled rows.
    metrics : dict
        Cross-validated :func:`~classifier.evaluation.vetting_metrics` (grouped by star), plus
        ``n_cv_folds``, ``fit_seconds``, ``families`` and ``dropped_families``.
    oof_proba : ndarray (n, k) or None
        Out-of-fold probabilities, columns ``classes`` (for mislabel ranking); None if
        ``cross_validate=False``.
    classes : list of str
    """

    model: VettingEnsemble
    metrics: dict
    oof_proba: np.ndarray | None
    classes: list[str]


def cross_val_proba(
    X, y, groups, *, n_splits: int = 5, seed: int = 0, **model_params
) -> tuple[np.ndarray, list[str], list[tuple[np.ndarray, np.ndarray]]]:
    """Out-of-fold ensemble probabilities with star-grouped stratified folds.

    Returns
    -------
    oof : ndarray (n, k)
        Columns in the order of ``classes`` (all classes present in ``y``); a class absent
        from a fold's training part gets probability 0 there.
    classes : list of str
    splits : list of (train_index, test_index)
    """
    X, y = _check_xy(X, y)
    groups = np.asarray(groups)
    classes = [c for c in CLASS_CODES if c in set(y.tolist())]
    splits = grouped_splits(y, groups, n_splits=n_splits, random_state=seed)
    oof = np.zeros((len(y), len(classes)))
    for train_idx, test_idx in splits:
        if len(set(y[train_idx].tolist())) < 2:
            oof[test_idx] = np.bincount([classes.index(v) for v in y[train_idx]], minlength=len(classes)) / len(train_idx)
            continue
        model = VettingEnsemble(random_state=seed, **model_params).fit(X[train_idx], y[train_idx], groups[train_idx])
        cols = [classes.index(c) for c in model.classes_]
        oof[np.ix_(test_idx, cols)] = model.predict_proba(X[test_idx])
    return oof, classes, splits


def train(
    X,
    y,
    groups,
    *,
    seed: int = 0,
    profile: str = "full",
    n_splits: int = 5,
    cross_validate: bool = True,
    **model_params,
) -> TrainResult:
    """Fit the calibrated ensemble and estimate its quality by grouped cross-validation.

    Parameters
    ----------
    X : ndarray (n, d)
        Design matrix from :func:`classifier.dataset.design_matrix`.
    y : ndarray (n,)
        Class codes (every row labeled).
    groups : ndarray (n,)
        Star ids; no star is split between training and evaluation folds.
    seed : int
        Seed of every random component (folds, models, subsamples).
    profile : {"full", "fast"}
    n_splits : int
        Outer cross-validation folds (reduced automatically for tiny label sets).
    cross_validate : bool
        If False, skip the outer cross-validation (metrics then only hold fit figures).
    **model_params
        Passed to :class:`VettingEnsemble` (``families``, ``calibration``, ``combine``, ...).

    Returns
    -------
    TrainResult
    """
    X, y = _check_xy(X, y)
    groups = np.asarray(groups)
    metrics: dict = {}
    oof = None
    if cross_validate:
        oof, classes, splits = cross_val_proba(X, y, groups, n_splits=n_splits, seed=seed, profile=profile, **model_params)
        metrics = vetting_metrics(y, oof, classes)
        metrics["n_cv_folds"] = len(splits)
    model = VettingEnsemble(profile=profile, random_state=seed, **model_params).fit(X, y, groups)
    if oof is not None and list(model.classes_) != classes:
        raise AssertionError("class order mismatch between cross-validation and final model")
    metrics.update({
        "fit_seconds": model.fit_seconds_,
        "families": list(model.families_),
        "dropped_families": dict(model.dropped_families_),
        "calibration": model.calibration_method_,
        "combine": model.combine_,
        "profile": profile,
    })
    return TrainResult(model=model, metrics=metrics, oof_proba=oof, classes=list(model.classes_))
