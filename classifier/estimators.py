"""Model families of the vetting ensemble.

Each family is a scikit-learn estimator (a pipeline with imputation where the model needs it),
class-imbalance aware, with an explicit ``random_state``. :mod:`classifier.training` wraps each
one in :class:`sklearn.calibration.CalibratedClassifierCV` and combines them.

Families
--------
``hgb``          histogram gradient boosting (handles NaN natively), balanced class weights
``extra_trees``  extremely randomised trees after median imputation, balanced bootstrap weights
``logistic``     standardised multinomial logistic regression, balanced class weights
``mlp``          standardised one-hidden-layer perceptron, balanced sample weights
``gp``           Gaussian process classifier (RBF) on a PCA of a stratified subsample
``rocket``       MiniRocket random-convolution features of the global and local views with a
                 balanced logistic head (:mod:`classifier.rocket`); needs the view columns
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.gaussian_process.kernels import RBF, ConstantKernel
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted, validate_data

from classifier.dataset import GLOBAL_VIEW_COLUMNS, mirror_views, rows_with_views
from classifier.lightcurves import LOCAL_VIEW_BINS
from classifier.rocket import ViewRocketClassifier

FAMILY_NAMES: tuple[str, ...] = ("hgb", "extra_trees", "logistic", "mlp", "gp", "rocket")

#: Lengths of the view blocks that end every row of the design matrix
#: (:func:`classifier.dataset.feature_names_for`): downsampled global view, local view.
VIEW_COLUMN_LENGTHS: tuple[int, int] = (GLOBAL_VIEW_COLUMNS, LOCAL_VIEW_BINS)

#: Families per profile. ``fast`` is for small label sets and per-round active-learning fits.
#: ``full`` was chosen by star-grouped 3-fold CV inside the Astronet-Triage train split (issue 15),
#: ensemble out-of-fold planet AP, fold seeds 0 and 1, with mirrored views (``PROFILE_MIRROR_MIN_LABELS``):
#: hgb alone 0.7176 / 0.7258, hgb + extra_trees 0.7189 / 0.7149. The rule, fixed before the second
#: seed was seen: the mean, and the fewer families when the means differ by less than 0.005, so
#: ``full`` is the calibrated hgb alone (the former hgb + extra_trees had been chosen in the same
#: way on an older hgb, 0.694 against 0.681). The ``rocket`` family (0.440 alone) added nothing
#: to any subset, so it is available (by name, e.g. ``VETTING_TRAINING_FAMILIES``) but in no
#: profile. With one family the ensemble's committee is that family's fold models
#: (:meth:`classifier.training.VettingEnsemble.committee_proba`).
PROFILE_FAMILIES: dict[str, tuple[str, ...]] = {
    "full": ("hgb",),
    "fast": ("hgb", "extra_trees", "logistic"),
}

#: From how many labeled rows each profile trains its families on the rows plus their
#: time-reversed views (:class:`MirrorAugmented`); see :func:`mirrors`. Chosen by the same train
#: CV. ``full`` (hgb alone, fold seeds 0 and 1): planet AP 0.6979 -> 0.7176 and 0.6848 -> 0.7258
#: (fit 29 -> 47 s). ``fast`` (random subsets of the train split, three seeds each, mean planet AP
#: without -> with): 300 labels 0.246 -> 0.254, 1,000 0.557 -> 0.553, 2,000 0.618 -> 0.668, 3,000
#: 0.634 -> 0.676, 6,000 0.668 -> 0.674; the rule: the smallest size from which every larger
#: size tried gains too.
PROFILE_MIRROR_MIN_LABELS: dict[str, int] = {"full": 0, "fast": 2000}


def mirrors(profile: str, n_labels: int) -> bool:
    """Whether ``profile`` trains on mirrored views too when it has ``n_labels`` labeled rows."""
    return n_labels >= PROFILE_MIRROR_MIN_LABELS[profile]


#: Star-grouped folds of each profile: the calibration folds, and the fold models whose average
#: predicts. ``full``: 4, chosen by the same train CV (hgb with mirrored views, fold seeds 0 and
#: 1: planet AP 0.7176 -> 0.7488 and 0.7258 -> 0.7372; each fold model sees 3/4 of the labels
#: instead of 2/3, and four jobs take two rounds on 2 cores, like three: fit 47 -> 46 and 52 s).
PROFILE_CV_FOLDS: dict[str, int] = {"full": 4, "fast": 3}


def cv_folds_for(profile: str, asked: int | None = None) -> int:
    """The folds a fit asks for: ``asked``, else the profile's (:data:`PROFILE_CV_FOLDS`)."""
    if asked is not None:
        return int(asked)
    if profile not in PROFILE_CV_FOLDS:
        raise ValueError(f"profile must be one of {', '.join(PROFILE_CV_FOLDS)}; got {profile!r}")
    return PROFILE_CV_FOLDS[profile]


class MedianImputer(SimpleImputer):
    """:class:`~sklearn.impute.SimpleImputer` (median, empty columns kept as 0) whose dense
    transform is one vectorised ``np.where``: the same values, about 15x faster.

    scikit-learn 1.9 fills a dense matrix by fancy-indexing every missing coordinate. A row of
    a catalog-only candidate (no light curve yet: most rows at survey scale) is ~90 % NaN, and
    that assignment took 17 ms per 2,000 x 224 block, a third of a rescoring chunk's scoring.
    Anything else (sparse input, indicators, other missing markers) goes to the parent.
    """

    def __init__(self, *, missing_values=np.nan, strategy="median", fill_value=None, copy=True,
                 add_indicator=False, keep_empty_features=True):
        super().__init__(missing_values=missing_values, strategy=strategy, fill_value=fill_value, copy=copy,
                         add_indicator=add_indicator, keep_empty_features=keep_empty_features)

    def transform(self, X):
        check_is_fitted(self)
        fast = (not self.add_indicator and isinstance(self.missing_values, float) and math.isnan(self.missing_values)
                and isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.ndim == 2
                and not np.isnan(self.statistics_).any())  # (NaN statistics: columns the parent drops)
        if not fast:
            return super().transform(X)
        X = self._validate_input(X, in_fit=False)
        return np.where(np.isnan(X), self.statistics_.astype(X.dtype, copy=False), X)


class DropEmptyColumns(TransformerMixin, BaseEstimator):
    """Drop columns that are NaN in every training row (kept NaN elsewhere).

    Histogram gradient boosting in scikit-learn 1.9 fails on an all-NaN column, which happens
    whenever a data source lacks a feature (e.g. impact parameter for TESS rows).
    """

    def fit(self, X, y=None):
        X = validate_data(self, X, ensure_all_finite="allow-nan")
        self.keep_ = np.isfinite(X).any(axis=0)
        return self

    def transform(self, X):
        check_is_fitted(self, "keep_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return X[:, self.keep_]


class _Wrapper(ClassifierMixin, BaseEstimator):
    """A classifier that fits a clone of ``estimator`` in its own way and predicts with it."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class BalancedWeights(_Wrapper):
    """Fit ``estimator`` with ``"balanced"`` sample weights (for models without ``class_weight``).

    Parameters
    ----------
    estimator : estimator or Pipeline
        Its ``fit`` (or its last step's, for a pipeline) must accept ``sample_weight``.
    """

    def fit(self, X, y):
        if self.estimator is None:
            raise ValueError("BalancedWeights needs an estimator")
        weights = compute_sample_weight("balanced", y)
        self.estimator_ = clone(self.estimator)
        if isinstance(self.estimator_, Pipeline):
            self.estimator_.fit(X, y, **{f"{self.estimator_.steps[-1][0]}__sample_weight": weights})
        else:
            self.estimator_.fit(X, y, sample_weight=weights)
        self.classes_ = self.estimator_.classes_
        return self


class MirrorAugmented(_Wrapper):
    """Fit ``estimator`` on the rows plus their time-reversed copies (:func:`classifier.dataset.mirror_views`).

    A transit read backwards is a transit of the same kind, so each training row gains a
    label-preserving twin with mirrored views: the models see twice the shapes of the rare
    classes without new labels. Prediction is the fitted model's, unchanged (averaging over the
    mirrored copy at prediction time added nothing on train CV and would double scoring).
    Rows whose view columns are all NaN (catalog-only candidates) are not copied: their twin
    would be an exact duplicate; nor is anything when ``X`` is narrower than the design matrix's
    view block (a matrix of other columns has no views to read backwards).

    Parameters
    ----------
    estimator : classifier
        Fitted on ``X`` (n, d) stacked with its mirrored rows and ``y`` repeated.
    """

    def fit(self, X, y):
        if self.estimator is None:
            raise ValueError("MirrorAugmented needs an estimator")
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        has_views = rows_with_views(X)
        self.n_mirrored_ = int(has_views.sum())
        if self.n_mirrored_:
            X, y = np.vstack([X, mirror_views(X[has_views])]), np.concatenate([y, y[has_views]])
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self


class SubsampledClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on a class-stratified subsample of at most ``max_samples`` rows.

    Used for models whose cost grows as n^3 (Gaussian processes). Rare classes are kept whole
    (up to their share of the budget) so that no class vanishes from the subsample.

    Parameters
    ----------
    estimator : classifier
    max_samples : int
        Largest number of training rows passed to ``estimator``.
    random_state : int
        Seed of the subsample.
    """

    def __init__(self, estimator=None, max_samples=500, random_state=0):
        self.estimator = estimator
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X, y):
        if self.estimator is None or self.max_samples < 2:
            raise ValueError("SubsampledClassifier needs an estimator and max_samples >= 2")
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        self.classes_ = np.unique(y)
        rng = np.random.default_rng(self.random_state)
        keep = self._stratified_index(y, rng)
        self.estimator_ = clone(self.estimator).fit(X[keep], y[keep])
        self.n_samples_fit_ = len(keep)
        return self

    def _stratified_index(self, y, rng) -> np.ndarray:
        if len(y) <= self.max_samples:
            return np.arange(len(y))
        classes, counts = np.unique(y, return_counts=True)
        # Square-root allocation: rare classes get more than their share, large ones less.
        share = np.sqrt(counts) / np.sqrt(counts).sum()
        quota = np.maximum(np.minimum(counts, np.floor(share * self.max_samples)), np.minimum(counts, 2)).astype(int)
        picked = [rng.choice(np.flatnonzero(y == c), size=q, replace=False) for c, q in zip(classes, quota)]
        return np.sort(np.concatenate(picked))

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        inner = self.estimator_.predict_proba(X)
        out = np.zeros((X.shape[0], len(self.classes_)))
        cols = np.searchsorted(self.classes_, self.estimator_.classes_)
        out[:, cols] = inner
        return out

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_family(
    name: str, *, random_state: int, profile: str = "full", n_jobs: int | None = None, n_samples: int | None = None
):
    """Build the (unfitted) estimator of one model family.

    Parameters
    ----------
    name : str
        One of :data:`FAMILY_NAMES`.
    random_state : int
        Seed passed to every random component.
    profile : {"full", "fast"}
        ``fast`` uses fewer trees / iterations (about 3x cheaper).
    n_jobs : int, optional
        Threads for the tree ensembles.
    n_samples : int, optional
        Size of the training set; enables early stopping (on a held-out 10 %) only when it is
        large enough for every class to reach the validation split.

    Returns
    -------
    estimator
        A classifier with ``predict_proba``; NaN in ``X`` is allowed.
    """
    fast = profile == "fast"
    big = n_samples is not None and n_samples >= 2000
    if name == "hgb":
        # Small trees, slow learning rate, fixed number of rounds: early stopping on a 10 %
        # split holds too few planets to judge (against 400 rounds at 0.05 without it, it cost
        # 0.006 triage AP and 0.02 planet AP on the Astronet-Triage val split).
        return Pipeline([("drop_empty", DropEmptyColumns()), ("model", HistGradientBoostingClassifier(
            learning_rate=0.1 if fast else 0.05,
            max_iter=100 if fast else 400,
            max_leaf_nodes=15,
            min_samples_leaf=10,
            l2_regularization=1.0,
            max_features=0.5,
            max_bins=63,
            class_weight="balanced",
            early_stopping=big and fast,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=random_state,
        ))])
    if name == "extra_trees":
        return Pipeline([
            ("impute", MedianImputer()),
            ("model", ExtraTreesClassifier(
                # fast: fewer, shallower trees on half-size bootstrap samples: ~4x cheaper to
                # fit, score and store (the ensemble keeps one model per fold), little AP lost.
                n_estimators=60 if fast else 200,
                min_samples_leaf=3 if fast else 2,
                max_features="sqrt",
                bootstrap=fast,
                max_samples=0.5 if fast else None,
                class_weight="balanced_subsample",
                n_jobs=n_jobs,
                random_state=random_state,
            )),
        ])
    if name == "logistic":
        return Pipeline([
            ("impute", MedianImputer()),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=0.05, class_weight="balanced", max_iter=500, tol=1e-3,
                                         random_state=random_state)),
        ])
    if name == "mlp":
        return BalancedWeights(Pipeline([
            ("impute", MedianImputer()),
            ("scale", StandardScaler()),
            ("model", MLPClassifier(
                hidden_layer_sizes=(64,),
                alpha=1e-2,
                learning_rate_init=1e-3,
                max_iter=100 if fast else 200,
                early_stopping=True,
                n_iter_no_change=10,
                random_state=random_state,
            )),
        ]))
    if name == "gp":
        return SubsampledClassifier(
            Pipeline([
                ("impute", MedianImputer()),
                ("scale", StandardScaler()),
                ("pca", PCA(n_components=0.9, svd_solver="full", random_state=random_state)),
                ("model", GaussianProcessClassifier(
                    kernel=ConstantKernel(1.0) * RBF(length_scale=3.0),
                    max_iter_predict=100,
                    random_state=random_state,
                )),
            ]),
            max_samples=200 if fast else 300,
            random_state=random_state,
        )
    if name == "rocket":
        return ViewRocketClassifier(
            view_lengths=VIEW_COLUMN_LENGTHS,
            # C chosen by star-grouped CV inside the Astronet-Triage train split (views only,
            # 1,000 features per view; first fold's planet AP 0.419 at C=0.003, 0.393 at 0.01,
            # 0.361 at 0.03).
            n_features=500 if fast else 1000,
            C=0.003,
            random_state=random_state,
        )
    raise ValueError(f"unknown model family {name!r}; expected one of {', '.join(FAMILY_NAMES)}")
