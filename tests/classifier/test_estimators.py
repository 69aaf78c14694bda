"""Tests of the model families and helper estimators."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
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
