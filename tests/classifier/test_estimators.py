"""Tests of the model families and helper estimators."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from classifier.estimators import FAMILY_NAMES, DropEmptyColumns, SubsampledClassifier, make_family


@pytest.mark.parametrize("name", FAMILY_NAMES)
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
