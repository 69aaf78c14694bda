"""Fit, calibrate, combine and score: the calibrated ensemble of the vetting classifier.

``train`` is what the site's retrain task calls: it estimates cross-validated metrics and
out-of-fold probabilities (grouped by star), then fits the final ensemble on all labels.
``score`` (:mod:`classifier.scoring`, re-exported here) turns a fitted ensemble and a design
matrix into everything the site stores per candidate (probabilities, p_planet, p_triage,
uncertainty, committee disagreement).

How the ensemble is built (:class:`VettingEnsemble`), with a single level of cross-fitting:

1. Folds: stratified, grouped by star (no star in both halves).
2. Each model family (:mod:`classifier.estimators`) is fitted once per fold on the training
   part and predicts the held-out part: out-of-fold (OOF) probabilities of every family.
3. Second level, fitted on the OOF probabilities: one calibrator per family and a combination
   of the calibrated families (:mod:`classifier.combination`: the plain average, the average
   with one temperature, stacking, ...). Both are chosen by cross-validation: for each
   calibration map (isotonic when there are enough labels, else a multinomial sigmoid; one
   temperature per family; per-class scale and bias per family, :mod:`classifier.calibration`)
   the combination with the lowest out-of-fold log loss among those at least as accurate as the
   plain average of the calibrated members, then the calibration whose pair has the lowest
   out-of-fold log loss.
4. Honest OOF ensemble probabilities (``oof_proba_``) come from cross-fitting step 3 over the
   same folds; :func:`train` reports its metrics from them, so no nested cross-validation is
   needed (the final model's fold models are the ones that produced the OOF predictions).
5. Final prediction: the mean of a family's fold models, its calibrator, then the combination.

(A little over 500 lines: :class:`VettingEnsemble` is one unit whose fit, cross-fitted
calibration and stacking share its fold state; scoring lives in :mod:`classifier.scoring`.)
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from classifier.calibration import ScalingCalibrator
from classifier.combination import COMBINATIONS, Combiner, choose_combination
from classifier.estimators import (
    FAMILY_NAMES,
    PROFILE_FAMILIES,
    MirrorAugmented,
    cv_folds_for,
    make_family,
    mirrors,
)
from classifier.evaluation import classification_metrics, grouped_splits
from classifier.scoring import Scores, score, scores_from_proba  # re-exported: fit and score from one module
from classifier.vocabulary import CLASS_CODES, validate_class

#: Isotonic calibration needs enough held-out examples per class; below this, sigmoid.
MIN_PER_CLASS_FOR_ISOTONIC = 40
#: Calibration maps ``calibration="auto"`` chooses from by cross-validation. ``by_count`` is the
#: former rule (isotonic with :data:`MIN_PER_CLASS_FOR_ISOTONIC` labels per class, else sigmoid);
#: ``temperature`` and ``vector`` (:mod:`classifier.calibration`) were added for small label sets
#: (bench/bench_calibration.py). Ties go to the earlier one.
AUTO_CALIBRATIONS = ("by_count", "temperature", "vector")
CALIBRATIONS = ("by_count", "isotonic", "sigmoid", "temperature", "vector")
#: Combinations ``combine="auto"`` chooses from by cross-validation (see classifier.combination).
#: ``shrunk`` (the tempered average shrunk towards the class frequencies) was added for small
#: label sets (bench/bench_calibration.py); the previous list was mean, tempered, stack.
AUTO_COMBINATIONS = ("mean", "tempered", "stack", "shrunk")
#: Stacking is tried only with this many held-out predictions per class.
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


def _full_proba(model, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``model.predict_proba`` widened to all ``n_classes`` columns (classes are 0..k-1).

    A fold whose training part lacks a class gives that class probability 0.
    """
    inner = model.predict_proba(X)
    out = np.zeros((len(X), n_classes))
    out[:, np.asarray(model.classes_, dtype=int)] = inner
    return out


def _fit_fold(name: str, fold: int, base, X, y_idx, train_idx, test_idx, n_classes: int):
    """Fit one family on one fold's training part, single-threaded; predict its held-out part.

    Returns (name, fold, fitted model or None, held-out proba (n_test, k) or None,
    error message or None, CPU seconds).
    """
    start = time.process_time()
    try:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            model = clone(base).fit(X[train_idx], y_idx[train_idx])
            proba = _full_proba(model, X[test_idx], n_classes)
            return name, fold, model, proba, None, time.process_time() - start
    except (ValueError, np.linalg.LinAlgError, IndexError) as exc:
        return name, fold, None, None, f"{type(exc).__name__}: {exc}", time.process_time() - start


class ProbabilityCalibrator(BaseEstimator):
    """Recalibrate one family's class probabilities (n, k) -> (n, k).

    Parameters
    ----------
    method : {"isotonic", "sigmoid", "temperature", "vector"}
        ``isotonic``: one-vs-rest isotonic regression per class, then rows renormalised
        (as :class:`sklearn.calibration.CalibratedClassifierCV` does). ``sigmoid``: a
        multinomial logistic regression on the log-probabilities (2 parameters per class in
        the binary case, ``k * (k + 1)`` with k classes). ``temperature`` (1 parameter) and
        ``vector`` (a scale and a bias per class): :class:`classifier.calibration.ScalingCalibrator`.
    """

    def __init__(self, method: str = "sigmoid"):
        self.method = method

    def fit(self, P: np.ndarray, y_idx: np.ndarray, n_classes: int):
        self.n_classes_ = n_classes
        present = np.unique(y_idx)
        if self.method in ("temperature", "vector"):
            self.models_ = ScalingCalibrator(self.method).fit(P, y_idx, n_classes)
        elif self.method == "isotonic":
            self.models_ = []
            for j in range(n_classes):
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                self.models_.append(iso.fit(P[:, j], (y_idx == j).astype(float)))
        elif len(present) < 2:
            self.models_ = None
            self.constant_ = np.bincount(y_idx, minlength=n_classes) / len(y_idx)
        else:
            self.models_ = LogisticRegression(C=1.0, max_iter=1000).fit(_log(P), y_idx)
        return self

    def predict_proba(self, P: np.ndarray) -> np.ndarray:
        if self.method in ("temperature", "vector"):
            return self.models_.predict_proba(P)
        if self.method == "isotonic":
            out = np.column_stack([m.predict(P[:, j]) for j, m in enumerate(self.models_)])
            total = out.sum(axis=1, keepdims=True)
            # A row every class calls impossible falls back to uniform, as in scikit-learn.
            return np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / self.n_classes_)
        if self.models_ is None:
            return np.tile(self.constant_, (len(P), 1))
        return _full_proba(self.models_, _log(P), self.n_classes_)


def _log(P: np.ndarray) -> np.ndarray:
    return np.log(np.clip(P, 1e-6, 1.0))


class CalibratedFamily(BaseEstimator):
    """One fitted family: its per-fold models (averaged) followed by a calibrator.

    Parameters
    ----------
    fold_models : list of fitted classifiers
        Each fitted on one fold's training part; their probabilities are averaged
        (like ``CalibratedClassifierCV(ensemble=True)``).
    calibrator : ProbabilityCalibrator
        Fitted on the out-of-fold predictions of ``fold_models``.
    n_classes : int
    """

    def __init__(self, fold_models=None, calibrator=None, n_classes: int = 2):
        self.fold_models = fold_models
        self.calibrator = calibrator
        self.n_classes = n_classes

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated probabilities (n, k): mean over the fold models."""
        return np.mean(self.fold_raw_proba(X), axis=0)

    def fold_raw_proba(self, X: np.ndarray) -> list[np.ndarray]:
        """Uncalibrated probabilities (n, k) of each fold model."""
        return [_full_proba(m, X, self.n_classes) for m in self.fold_models]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, k)."""
        return self.calibrator.predict_proba(self.raw_proba(X))

    def proba_and_members(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Calibrated probabilities (n, k) and those of each fold model alone, from one pass of the
        fold models. The calibrator was fitted on out-of-fold predictions of single fold models, so
        it applies to one member as it does to their mean."""
        folds = self.fold_raw_proba(X)
        return (self.calibrator.predict_proba(np.mean(folds, axis=0)),
                [self.calibrator.predict_proba(p) for p in folds])


class VettingEnsemble(ClassifierMixin, BaseEstimator):
    """Calibrated multi-family ensemble over the label classes present in ``y``.

    Parameters
    ----------
    families : sequence of str, optional
        Model families (:data:`classifier.estimators.FAMILY_NAMES`); default from ``profile``.
    profile : {"full", "fast"}
        ``fast``: fewer, cheaper families for small label sets and active-learning rounds.
    n_calibration_folds : int, optional
        Grouped folds for calibration, whose fold models are averaged to predict (reduced
        automatically for tiny label sets); default from ``profile``
        (:data:`classifier.estimators.PROFILE_CV_FOLDS`).
    calibration : {"auto", "by_count", "isotonic", "sigmoid", "temperature", "vector"} or sequence
        Calibration map of each family (:class:`ProbabilityCalibrator`). ``by_count``: isotonic
        when every class has at least :data:`MIN_PER_CLASS_FOR_ISOTONIC` examples, else sigmoid.
        ``auto``: chosen by cross-validation among :data:`AUTO_CALIBRATIONS` (a sequence: among
        those), jointly with the combination (see the module docstring).
    combine : {"auto", "mean", "tempered", "stack", "shrunk"} or sequence of them
        ``auto``: chosen by cross-validation among the average, the tempered average, the
        tempered average shrunk towards the class frequencies and (with
        :data:`MIN_PER_CLASS_FOR_STACKING` examples per class) stacking; see
        :mod:`classifier.combination`. One name forces that combination; a sequence is chosen
        from by cross-validation (``stack`` only with enough labels, as in ``auto``).
    gp_max_samples : int, optional
        Override of the Gaussian-process subsample size.
    mirror : bool, optional
        Train every family (but ``rocket``, which has its own) on the rows plus their
        time-reversed views (:class:`classifier.estimators.MirrorAugmented`); default from
        ``profile`` and the number of labeled rows (:func:`classifier.estimators.mirrors`).
    random_state : int
    n_jobs : int, optional
        Threads for all models (OpenMP/BLAS and tree ensembles). Default: 1 below
        :data:`MIN_ROWS_FOR_THREADS` rows, else 2.

    Attributes
    ----------
    classes_ : ndarray of str, shape (n_classes,)
        Class codes present in the training labels, in vocabulary order.
    families_ : dict name -> CalibratedFamily
    dropped_families_ : dict name -> str
        Families that could not be fitted, with the reason.
    calibration_method_ : str
        The calibration map used (``isotonic``, ``sigmoid``, ``temperature`` or ``vector``).
    calibration_scores_ : dict method -> {"combine", "log_loss", "accuracy"}
        Out-of-fold figures of each calibration map tried, with the combination chosen for it
        (the basis of the choice of ``calibration_method_``).
    calibration_temperatures_ : dict name -> float
        Temperature of each family's calibrator (``temperature`` and ``vector``; for ``vector``
        the inverse of its mean scale); empty for the other maps.
    combine_ : str
        The combination used (``mean``, ``tempered``, ``stack`` or ``shrunk``).
    combination_scores_ : dict method -> {"log_loss", "accuracy"}
        Out-of-fold figures of every combination tried with ``calibration_method_`` (the basis
        of the choice).
    combiner_ : classifier.combination.Combiner
    stacker_ : LogisticRegression or None
    fit_seconds_ : float
        Wall-clock seconds of ``fit``.
    family_cpu_seconds_ : dict name -> float
        CPU seconds spent fitting each family (single-threaded, in whichever process ran it).
    splits_ : list of (train_index, test_index)
        The grouped folds used.
    mirror_ : bool
        Whether the families were trained on mirrored views too.
    n_folds_requested_ : int
        The folds asked for (``n_calibration_folds`` or the profile's); ``n_calibration_folds_``
        can be fewer on tiny label sets.
    oof_proba_ : ndarray (n, n_classes)
        Out-of-fold ensemble probabilities of the training rows (base models and second level
        both cross-fitted), columns ``classes_``.
    oof_family_proba_ : dict name -> ndarray (n, n_classes)
        Out-of-fold calibrated probabilities of each family.
    """

    def __init__(
        self,
        families: Sequence[str] | None = None,
        profile: str = "full",
        n_calibration_folds: int | None = None,
        calibration: str = "auto",
        combine: str = "auto",
        gp_max_samples: int | None = None,
        mirror: bool | None = None,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.families = families
        self.profile = profile
        self.n_calibration_folds = n_calibration_folds
        self.calibration = calibration
        self.combine = combine
        self.gp_max_samples = gp_max_samples
        self.mirror = mirror
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
        calibs = [self.calibration] if isinstance(self.calibration, str) else list(self.calibration)
        if not calibs or any(c not in ("auto",) + CALIBRATIONS for c in calibs) or ("auto" in calibs
                                                                                   and len(calibs) > 1):
            raise ValueError(f"calibration must be auto, one of {', '.join(CALIBRATIONS)} or a sequence of them; "
                             f"got {self.calibration!r}")
        named = [self.combine] if isinstance(self.combine, str) else list(self.combine)
        if not named or any(m not in ("auto",) + COMBINATIONS for m in named) or ("auto" in named and len(named) > 1):
            raise ValueError(f"combine must be auto, one of {', '.join(COMBINATIONS)} or a sequence of them; "
                             f"got {self.combine!r}")
        present = set(y.tolist())
        if len(present) < 2:
            raise ValueError(f"need labels of at least two classes to train; got only {sorted(present)}")
        self.classes_ = np.array([c for c in CLASS_CODES if c in present], dtype=object)
        k = len(self.classes_)
        y_idx = np.array([list(self.classes_).index(v) for v in y])
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"groups must have one entry per row of X ({len(y)}); got {len(groups)}")
        counts = np.bincount(y_idx, minlength=k)
        by_count = "isotonic" if counts.min() >= MIN_PER_CLASS_FOR_ISOTONIC else "sigmoid"
        calibs = list(AUTO_CALIBRATIONS) if calibs == ["auto"] else calibs
        calibs = list(dict.fromkeys(by_count if c == "by_count" else c for c in calibs))
        # Folds from the class codes (not their indices): the same folds as grouped_splits(y, ...)
        # of any caller, so baselines evaluated on those folds compare like for like.
        self.mirror_ = mirrors(self.profile, len(y)) if self.mirror is None else bool(self.mirror)
        self.n_folds_requested_ = cv_folds_for(self.profile, self.n_calibration_folds)
        splits = grouped_splits(y, groups, n_splits=self.n_folds_requested_, random_state=self.random_state)
        # A fold whose training part holds a single class cannot fit a classifier (tiny label
        # sets). Drop such folds; if none is left, calibrate in-sample with a sigmoid (2
        # parameters per class, so the optimism stays small) rather than fail.
        splits = [(tr, te) for tr, te in splits if len(np.unique(y_idx[tr])) >= 2]
        in_sample = not splits
        if in_sample:
            everything = np.arange(len(y_idx))
            splits = [(everything, everything)]
            calibs = ["sigmoid"]
        self.n_calibration_folds_ = len(splits)
        self.splits_ = splits

        # One job per (family, fold): the folds of the slow families spread over the workers
        # instead of one process owning a whole family.
        n_fit = min(len(tr) for tr, _ in splits)
        bases = {name: self._family_estimator(name, n_fit) for name in families}
        jobs = [(name, f, bases[name], tr, te) for name in families for f, (tr, te) in enumerate(splits)]
        if threads > 1 and len(jobs) > 1:
            # Processes with one thread each scale better than threads inside each model (no
            # OpenMP synchronisation, which is slow on a busy machine).
            results = Parallel(n_jobs=min(threads, len(jobs)), backend="loky")(
                delayed(_fit_fold)(name, f, base, X, y_idx, tr, te, k) for name, f, base, tr, te in jobs
            )
        else:
            results = [_fit_fold(name, f, base, X, y_idx, tr, te, k) for name, f, base, tr, te in jobs]

        self.family_cpu_seconds_ = {name: 0.0 for name in families}
        fold_models: dict[str, list] = {name: [None] * len(splits) for name in families}
        oof_raw = {name: np.full((len(y), k), np.nan) for name in families}
        self.dropped_families_ = {}
        for name, f, model, proba, error, cpu in results:
            self.family_cpu_seconds_[name] += cpu
            if error is not None:
                # A family that cannot fit this label set (e.g. a class missing from a fold of a
                # tiny set) is dropped, not fatal: the others still give a calibrated answer.
                self.dropped_families_.setdefault(name, error)
                continue
            fold_models[name][f] = model
            oof_raw[name][splits[f][1]] = proba
        kept = [name for name in families if name not in self.dropped_families_]
        if not kept:
            raise ValueError(f"no model family could be fitted: {self.dropped_families_}")
        covered = np.zeros(len(y), dtype=bool)
        for _, te in splits:
            covered[te] = True
        for name in kept:
            if not covered.all():
                # Rows in no held-out fold (their fold was dropped): the average of the fold models.
                oof_raw[name][~covered] = np.mean(
                    [_full_proba(m, X[~covered], k) for m in fold_models[name]], axis=0)

        # Second level (calibrators + combination) on the out-of-fold predictions. First
        # cross-fitted over the same folds, for honest out-of-fold ensemble probabilities of every
        # candidate combination (the metrics and mislabel ranking of ``train``, and the choice of
        # the combination: no nested cross-validation needed), then once on all rows.
        # Each calibration map is cross-fitted with every combination; per map, the combination
        # is chosen as before (never less accurate than the average of the calibrated members),
        # then the map whose choice has the lowest out-of-fold log loss.
        methods = self._candidate_combinations(counts, kept)
        raw = {name: oof_raw[name] for name in kept}
        per_calib = {}
        for calib in calibs:
            oof = {m: np.zeros((len(y), k)) for m in methods}
            oof_fam = {name: np.zeros((len(y), k)) for name in kept}
            for tr, te in splits:
                calibrators = self._fit_calibrators(raw, y_idx, tr, kept, calib)
                fam_tr = {name: calibrators[name].predict_proba(raw[name][tr]) for name in kept}
                fam = {name: calibrators[name].predict_proba(raw[name][te]) for name in kept}
                for name in kept:
                    oof_fam[name][te] = fam[name]
                for m in methods:
                    comb = Combiner(m, kept, self.random_state).fit(fam_tr, y_idx[tr], k)
                    oof[m][te] = comb.predict_proba(fam)
            chosen, scores = choose_combination(oof, y_idx)
            per_calib[calib] = (chosen, scores, oof[chosen], oof_fam)
        self.calibration_scores_ = {c: {"combine": v[0], **v[1][v[0]]} for c, v in per_calib.items()}
        self.calibration_method_ = min(calibs, key=lambda c: (round(self.calibration_scores_[c]["log_loss"], 6),
                                                              calibs.index(c)))
        self.combine_, self.combination_scores_, self.oof_proba_, self.oof_family_proba_ = \
            per_calib[self.calibration_method_]
        calibrators = self._fit_calibrators(raw, y_idx, np.arange(len(y)), kept, self.calibration_method_)
        self.calibration_temperatures_ = {
            name: c.models_.temperature_ for name, c in calibrators.items() if isinstance(c.models_, ScalingCalibrator)}
        fam_all = {name: calibrators[name].predict_proba(raw[name]) for name in kept}
        self.combiner_ = Combiner(self.combine_, kept, self.random_state).fit(fam_all, y_idx, k)
        self.stacker_ = self.combiner_.stacker_
        self.families_ = {
            name: CalibratedFamily([m for m in fold_models[name] if m is not None], calibrators[name], k)
            for name in kept
        }
        self.n_features_in_ = X.shape[1]
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _candidate_combinations(self, counts: np.ndarray, kept: list[str]) -> list[str]:
        """Combinations tried by cross-validation: the one asked for, or (``auto`` or a sequence)
        the average, the tempered average, the shrunk tempered average and, with enough labels
        per class and two families or more, stacking."""
        if isinstance(self.combine, str) and self.combine != "auto":
            return [self.combine]
        wanted = AUTO_COMBINATIONS if self.combine == "auto" else tuple(self.combine)
        stack = len(kept) >= 2 and counts.min() >= MIN_PER_CLASS_FOR_STACKING
        tried = [m for m in wanted if m != "stack" or stack]
        return ["mean"] + [m for m in tried if m != "mean"]

    def _fit_calibrators(self, raw: dict, y_idx: np.ndarray, rows: np.ndarray, kept: list[str], method: str) -> dict:
        """One ``method`` calibrator per family, fitted on ``rows`` of the out-of-fold ``raw`` probabilities."""
        k = len(self.classes_)
        counts = np.bincount(y_idx[rows], minlength=k)
        if method == "isotonic" and counts.min() < MIN_PER_CLASS_FOR_ISOTONIC:
            method = "sigmoid"  # a cross-fitting part can fall short of the whole set's counts
        return {name: ProbabilityCalibrator(method).fit(raw[name][rows], y_idx[rows], k) for name in kept}

    def _family_estimator(self, name: str, n_samples: int):
        base = make_family(name, random_state=self.random_state, profile=self.profile, n_jobs=1, n_samples=n_samples)
        if name == "gp" and self.gp_max_samples is not None:
            base.set_params(max_samples=self.gp_max_samples)
        return MirrorAugmented(base) if self.mirror_ and name != "rocket" else base

    def _combine(self, family_proba: dict, names) -> np.ndarray:
        combiner = getattr(self, "combiner_", None)
        if combiner is not None:
            return combiner.predict_proba(family_proba)
        # Artifacts written before ``combiner_`` existed: a stacker or the plain average.
        if self.stacker_ is not None:
            Z = np.hstack([_log(family_proba[n]) for n in names])
            return _full_proba(self.stacker_, Z, len(self.classes_))
        return np.mean([family_proba[n] for n in names], axis=0)

    # -- prediction -----------------------------------------------------------------------
    def _checked_input(self, X) -> np.ndarray:
        """``X`` as a float matrix, after checking the model is fitted and the width matches."""
        check_is_fitted(self, "families_")
        X = _check_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was trained on {self.n_features_in_}")
        return X

    def family_proba(self, X) -> dict[str, np.ndarray]:
        """Calibrated probabilities of each fitted family: name -> ndarray (n, n_classes)."""
        X = self._checked_input(X)
        with threadpool_limits(limits=_n_threads(self.n_jobs, len(X))):
            return {name: model.predict_proba(X) for name, model in self.families_.items()}

    def committee_proba(self, X) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-family probabilities (as :meth:`family_proba`) and the committee whose disagreement
        the site shows and the ``committee`` query strategy uses: the families when there are two
        or more, else the one family's fold models, each trained on a different part of the labels
        (query by bagging, Abe & Mamitsuka 1998). Both: name -> ndarray (n, n_classes)."""
        check_is_fitted(self, "families_")
        if self.committee_kind() == "families":
            family = self.family_proba(X)
            return family, family
        X = self._checked_input(X)
        (name, model), = self.families_.items()
        with threadpool_limits(limits=_n_threads(self.n_jobs, len(X))):
            proba, members = model.proba_and_members(X)
        return {name: proba}, {f"{name} fold {i + 1}": p for i, p in enumerate(members)}

    def committee_kind(self) -> str:
        """What :meth:`committee_proba` returns as the committee: ``"families"``, ``"fold models"`` or
        ``"none"`` (one family with one fold model left: a committee of one cannot disagree)."""
        if len(self.families_) > 1:
            return "families"
        (model,) = self.families_.values()
        return "fold models" if len(model.fold_models) > 1 else "none"

    def combine_proba(self, family_proba: dict[str, np.ndarray]) -> np.ndarray:
        """Ensemble probabilities (n, n_classes) from per-family probabilities."""
        return self._combine(family_proba, list(self.families_))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, shape (n, n_classes), columns ``classes_``."""
        return self.combine_proba(self.family_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class code per row, shape (n,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


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
        Cross-validated :func:`~classifier.evaluation.classification_metrics` (grouped by star), plus
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

    One ensemble fit: its folds are the cross-validation folds and its cross-fitted
    ``oof_proba_`` are the out-of-fold probabilities (see the module docstring).

    Returns
    -------
    oof : ndarray (n, k)
        Columns in the order of ``classes`` (all classes present in ``y``); a class absent
        from a fold's training part gets probability 0 there.
    classes : list of str
    splits : list of (train_index, test_index)
    """
    X, y = _check_xy(X, y)
    model_params.setdefault("n_calibration_folds", n_splits)
    model = VettingEnsemble(random_state=seed, **model_params).fit(X, y, np.asarray(groups))
    return model.oof_proba_, list(model.classes_), model.splits_


def train(
    X,
    y,
    groups,
    *,
    seed: int = 0,
    profile: str = "full",
    n_splits: int | None = None,
    cross_validate: bool = True,
    **model_params,
) -> TrainResult:
    """Fit the calibrated ensemble and estimate its quality by grouped cross-validation.

    The ensemble is fitted once with ``n_splits`` star-grouped folds; the metrics come from its
    cross-fitted out-of-fold probabilities (no nested cross-validation: about ``n_splits + 1``
    times cheaper than refitting the whole ensemble per outer fold).

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
    n_splits : int, optional
        Cross-validation folds (reduced automatically for tiny label sets); also the folds
        of the ensemble's calibration unless ``n_calibration_folds`` is given. Default: the
        profile's (:data:`classifier.estimators.PROFILE_CV_FOLDS`).
    cross_validate : bool
        If False, report no cross-validated metrics and no ``oof_proba`` (the fit costs the same).
    **model_params
        Passed to :class:`VettingEnsemble` (``families``, ``calibration``, ``combine``, ...).

    Returns
    -------
    TrainResult
    """
    X, y = _check_xy(X, y)
    groups = np.asarray(groups)
    model_params.setdefault("n_calibration_folds", n_splits)
    model = VettingEnsemble(profile=profile, random_state=seed, **model_params).fit(X, y, groups)
    metrics: dict = {}
    oof = None
    if cross_validate:
        oof = model.oof_proba_
        metrics = classification_metrics(y, oof, list(model.classes_))
        metrics["n_cv_folds"] = model.n_calibration_folds_
    # The folds asked for (n_cv_folds can be fewer on tiny label sets): part of the settings
    # that make two fits on the same labels the same fit.
    metrics["cv_folds_requested"] = model.n_folds_requested_
    metrics.update({
        "fit_seconds": model.fit_seconds_,
        "families": list(model.families_),
        "mirrored_views": bool(model.mirror_),
        "committee": model.committee_kind(),
        "dropped_families": dict(model.dropped_families_),
        "calibration": model.calibration_method_,
        "calibration_scores": dict(model.calibration_scores_),
        "calibration_temperatures": dict(model.calibration_temperatures_),
        "combine": model.combine_,
        "combination_scores": dict(model.combination_scores_),
        "profile": profile,
    })
    return TrainResult(model=model, metrics=metrics, oof_proba=oof, classes=list(model.classes_))


__all__ = ["CalibratedFamily", "ProbabilityCalibrator", "Scores", "TrainResult", "VettingEnsemble", "cross_val_proba",
           "score", "scores_from_proba", "train"]
