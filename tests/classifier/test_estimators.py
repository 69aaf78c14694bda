"""Tests of the model families and helper estimators."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from threadpoolctl import threadpool_limits

from classifier.estimators import (
    FAMILY_NAMES,
    VIEW_COLUMN_LENGTHS,
    DropEmptyColumns,
    MedianImputer,
    SubsampledClassifier,
    make_family,
)
from classifier.training import VettingEnsemble

#: Families that read any columns (``rocket`` needs the view block of the design matrix).
TABULAR_FAMILIES = tuple(name for name in FAMILY_NAMES if name != "rocket")


@pytest.mark.parametrize("name", TABULAR_FAMILIES)
def test_each_family_fits_with_nan_and_empty_column(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = np.repeat([0, 1, 2], 30)
    X[y == 1, 0] += 3
    X[rng.random(X.shape) < 0.1] = np.nan
    X = np.hstack([X, np.full((90, 1), np.nan)])  # a feature absent from this data source
    with threadpool_limits(limits=1):  # OpenMP spin-waiting on a busy machine is slower than one thread
        model = make_family(name, random_state=0, profile="fast", n_jobs=1).fit(X, y)
        p = model.predict_proba(X)
    assert p.shape == (90, 3)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert clone(model).get_params()  # follows scikit-learn conventions


def test_unknown_family():
    with pytest.raises(ValueError, match="unknown model family"):
        make_family("svm", random_state=0)


def test_subsampled_classifier_keeps_rare_classes():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    y = np.array([0] * 500 + [1] * 3 + [2] * 40)
    X = rng.normal(size=(len(y), 2)) + y[:, None]
    m = SubsampledClassifier(LogisticRegression(), max_samples=50, random_state=0).fit(X, y)
    assert m.n_samples_fit_ <= 53 and list(m.estimator_.classes_) == [0, 1, 2]
    assert m.predict_proba(X).shape == (len(y), 3)


def test_drop_empty_columns():
    X = np.array([[1.0, np.nan], [2.0, np.nan]])
    t = DropEmptyColumns().fit(X)
    assert t.transform(np.array([[3.0, 4.0]])).tolist() == [[3.0]]


def _design_like(n_per_class=30, seed=0):
    """Rows shaped like the design matrix: 5 scalars (one all-NaN), then the global and local
    view blocks; planets have a box-shaped dip, EBs a V-shaped one plus a secondary eclipse."""
    rng = np.random.default_rng(seed)
    n_global, n_local = VIEW_COLUMN_LENGTHS
    rows, y = [], []
    for label in ("PC", "EB", "J"):
        for _ in range(n_per_class):
            g, loc = rng.normal(scale=0.1, size=n_global), rng.normal(scale=0.1, size=n_local)
            c = n_local // 2
            if label == "PC":
                loc[c - 6:c + 7] -= 1.0
            elif label == "EB":
                loc -= np.clip(1.0 - np.abs(np.arange(n_local) - c) / 8.0, 0, None)
                g[:3] -= 0.5
            rows.append(np.concatenate([rng.normal(size=4), [np.nan], g, loc]))
            y.append(label)
    X = np.array(rows)
    X[:, -n_local:][rng.random((len(X), n_local)) < 0.02] = np.nan  # missing bins
    return X, np.array(y, dtype=object)


def test_rocket_family_on_design_matrix_columns():
    X, y = _design_like()
    with threadpool_limits(limits=1):
        model = make_family("rocket", random_state=0, profile="fast").fit(X, y)
        X_test, y_test = _design_like(seed=1)
        p = model.predict_proba(X_test)
    assert p.shape == (len(y_test), 3)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert np.mean(model.predict(X_test) == y_test) > 0.9
    assert clone(model).get_params()["view_lengths"] == VIEW_COLUMN_LENGTHS


def test_rocket_family_in_the_ensemble_and_dropped_without_views():
    X, y = _design_like()
    groups = np.arange(len(y)) // 2
    model = VettingEnsemble(families=("logistic", "rocket"), profile="fast", random_state=0).fit(X, y, groups)
    assert set(model.families_) == {"logistic", "rocket"} and not model.dropped_families_
    # Without the view columns the family cannot run: dropped with its reason, the rest still fits.
    narrow = VettingEnsemble(families=("logistic", "rocket"), profile="fast").fit(X[:, :5], y, groups)
    assert set(narrow.families_) == {"logistic"} and "view columns" in narrow.dropped_families_["rocket"]


def test_median_imputer_gives_simple_imputers_values():
    """The vectorised transform fills exactly what SimpleImputer fills: NaN-heavy rows (a
    catalog-only candidate), a column empty in training (kept as 0), float32, and the parent's
    paths (indicator, sparse input) unchanged."""
    import scipy.sparse as sp
    from sklearn.impute import SimpleImputer


    rng = np.random.default_rng(4)
    train = rng.normal(size=(300, 12))
    train[rng.random(train.shape) < 0.3] = np.nan
    train[:, 5] = np.nan  # empty in training
    test = rng.normal(size=(500, 12))
    test[rng.random(test.shape) < 0.9] = np.nan
    reference = SimpleImputer(strategy="median", keep_empty_features=True).fit(train)
    fast = MedianImputer().fit(train)
    for X in (test, test.astype(np.float32)):
        got, want = fast.transform(X), reference.transform(X)
        assert got.dtype == want.dtype and not np.isnan(got).any()
        np.testing.assert_array_equal(got, want)
    assert np.all(fast.transform(test)[np.isnan(test[:, 5]), 5] == 0.0)
    assert np.isnan(test).any()  # the input is not filled in place
    with_indicator = MedianImputer(add_indicator=True).fit(train)
    np.testing.assert_array_equal(
        with_indicator.transform(test),
        SimpleImputer(strategy="median", keep_empty_features=True, add_indicator=True).fit(train).transform(test))
    np.testing.assert_array_equal(fast.transform(sp.csr_matrix(np.nan_to_num(test))).toarray(),
                                  reference.transform(sp.csr_matrix(np.nan_to_num(test))).toarray())
    with pytest.raises(ValueError):
        fast.transform(test[:, :5])  # the wrong number of features is still an error


def _offset_dip_design(n_per_class=40, side=-1, seed=0):
    """Design-matrix rows (the real featuriser) whose planets' local-view dip sits off centre on
    one ``side`` (-1 left, +1 right); junk rows are noise. Returns X, y and the views-present mask."""
    from classifier.dataset import design_matrix_from_arrays

    rng = np.random.default_rng(seed)
    n = 2 * n_per_class
    lv = rng.normal(0, 0.05, (n, 61))
    gv = rng.normal(0, 0.05, (n, 201))
    centre = 30 + side * 8
    lv[:n_per_class, centre - 4:centre + 5] -= 1.0
    y = np.array(["PC"] * n_per_class + ["J"] * n_per_class, dtype=object)
    X, _ = design_matrix_from_arrays({"snr": rng.uniform(8, 20, n)}, gv, lv)
    return X, y


class _Recording(ClassifierMixin, BaseEstimator):
    """Remembers the rows it was fitted on; predicts the class frequencies."""

    def fit(self, X, y):
        self.X_fit_, self.y_fit_ = np.asarray(X), np.asarray(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))


def test_mirror_augmented_adds_the_reversed_rows_of_candidates_with_views():
    from classifier.dataset import mirror_views
    from classifier.estimators import MirrorAugmented

    X, y = _offset_dip_design(n_per_class=10)
    X[:5, -sum(VIEW_COLUMN_LENGTHS):] = np.nan  # catalog-only rows: no twin (it would be a duplicate)
    model = MirrorAugmented(_Recording()).fit(X, y)
    assert model.n_mirrored_ == len(y) - 5
    np.testing.assert_array_equal(model.estimator_.X_fit_, np.vstack([X, mirror_views(X[5:])]))
    assert model.estimator_.y_fit_.tolist() == y.tolist() + y[5:].tolist()
    assert list(model.classes_) == ["J", "PC"]
    np.testing.assert_array_equal(model.predict_proba(X), model.estimator_.predict_proba(X))
    assert clone(model).get_params()["estimator"] is not None
    with pytest.raises(ValueError, match="needs an estimator"):
        MirrorAugmented().fit(X, y)
    narrow = MirrorAugmented(_Recording()).fit(X[:, :10], y)  # no view block: nothing to mirror
    assert narrow.n_mirrored_ == 0 and narrow.estimator_.X_fit_.shape == (len(y), 10)


def test_mirror_augmentation_recognises_the_time_reversed_shape():
    """Trained only on planets whose dip lies left of centre, the augmented model is sure of
    the planets whose dip lies right of centre; the plain model (which still has the symmetric
    shape features) is far less so."""
    from classifier.estimators import MirrorAugmented

    X, y = _offset_dip_design(side=-1, seed=0)
    X_right, y_right = _offset_dip_design(side=+1, seed=1)
    planets = y_right == "PC"
    with threadpool_limits(limits=1):
        plain = make_family("logistic", random_state=0, profile="fast").fit(X, y)
        augmented = MirrorAugmented(make_family("logistic", random_state=0, profile="fast")).fit(X, y)
    pc = list(plain.classes_).index("PC")
    p_aug = augmented.predict_proba(X_right)[planets, pc].mean()
    p_plain = plain.predict_proba(X_right)[planets, pc].mean()
    assert p_aug > 0.9 and p_aug > p_plain + 0.2


def test_ensemble_mirror_setting_wraps_every_family_but_rocket():
    from classifier.estimators import MirrorAugmented, mirrors

    X, y = _offset_dip_design(n_per_class=30)
    groups = np.arange(len(y)) // 2
    on = VettingEnsemble(families=("logistic", "rocket"), profile="fast", mirror=True, random_state=0).fit(X, y, groups)
    assert all(isinstance(m, MirrorAugmented) for m in on.families_["logistic"].fold_models)
    assert not any(isinstance(m, MirrorAugmented) for m in on.families_["rocket"].fold_models)
    off = VettingEnsemble(families=("logistic",), profile="fast", mirror=False, random_state=0).fit(X, y, groups)
    assert not any(isinstance(m, MirrorAugmented) for m in off.families_["logistic"].fold_models)
    for profile in ("fast", "full"):  # default: the profile's rule for this many labels
        default = VettingEnsemble(families=("logistic",), profile=profile, random_state=0).fit(X, y, groups)
        wrapped = isinstance(default.families_["logistic"].fold_models[0], MirrorAugmented)
        assert wrapped == default.mirror_ == mirrors(profile, len(y))
    assert not mirrors("fast", 300) and mirrors("fast", 5000) and mirrors("full", 300)
