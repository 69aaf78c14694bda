"""Tests of grouped splitting, metrics, calibration error and model comparison."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.naive_bayes import GaussianNB

from classifier.evaluation import (
    classification_metrics,
    compare,
    expected_calibration_error,
    grouped_splits,
    model_disagreement,
    reliability_curve,
)


def test_grouped_splits_never_leak_a_star():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, size=300)
    y = rng.choice(["PC", "EB", "J"], size=300, p=[0.1, 0.2, 0.7])
    splits = grouped_splits(y, groups, n_splits=5, random_state=1)
    assert len(splits) == 5
    seen = np.zeros(300, int)
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        seen[test] += 1
    assert (seen == 1).all()


def test_grouped_splits_tiny_and_degenerate():
    splits = grouped_splits(np.array(["PC", "J", "J"]), np.array([1, 2, 3]), n_splits=5)
    assert 2 <= len(splits) <= 3
    with pytest.raises(ValueError, match="two distinct stars"):
        grouped_splits(np.array(["PC", "J"]), np.array([1, 1]))


def test_ece_and_reliability_by_hand():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.9, 0.1, 0.1])  # two bins; observed 0.5 at 0.9 and 0.5 at 0.1
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.4)
    curve = reliability_curve(y, p, n_bins=10)
    # 0.1 opens the bin [0.1, 0.2) and curve["count"] == [2, 2]
    assert curve["bin_centre"] == pytest.approx([0.15, 0.95])
    assert curve["observed_frequency"] == [0.5, 0.5]


def test_calibration_reduces_ece_on_a_miscalibrated_toy():
    # Gaussian naive Bayes on strongly correlated duplicated features is over-confident.
    rng = np.random.default_rng(0)
    n = 3000
    z = rng.normal(size=n)
    y = (z + rng.normal(scale=1.0, size=n) > 0).astype(int)
    X = np.repeat(z[:, None], 8, axis=1) + rng.normal(scale=0.05, size=(n, 8))
    train, test = slice(0, 2000), slice(2000, None)
    raw = GaussianNB().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
    cal = CalibratedClassifierCV(GaussianNB(), method="isotonic", cv=3).fit(X[train], y[train])
    cal = cal.predict_proba(X[test])[:, 1]
    ece_raw = expected_calibration_error(y[test], raw)
    ece_cal = expected_calibration_error(y[test], cal)
    assert ece_raw > 0.1
    assert ece_cal < ece_raw / 2


def test_classification_metrics_perfect_and_sums():
    classes = ["PC", "EB", "J"]
    y = np.array(["PC", "EB", "J", "J"], dtype=object)
    proba = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.05, 0.9], [0.2, 0.1, 0.7]])
    m = classification_metrics(y, proba, classes)
    assert m["planet_ap"] == 1.0 and m["triage_ap"] == 1.0 and m["planet_auc"] == 1.0
    assert m["recall"] == {"PC": 1.0, "EB": 1.0, "J": 1.0}
    assert m["class_counts"] == {"EB": 1, "J": 2, "PC": 1}
    no_planet = classification_metrics(np.array(["J", "EB"], dtype=object), proba[:2], classes)
    assert no_planet["planet_ap"] is None and no_planet["recall"]["PC"] is None


def test_model_disagreement():
    a = np.array([[0.9, 0.1], [0.5, 0.5]])
    assert np.allclose(model_disagreement({"x": a, "y": a}), 0.0)
    b = np.array([[0.1, 0.9], [0.5, 0.5]])
    d = model_disagreement({"x": a, "y": b})
    assert d[0] > 0.3 and d[1] == pytest.approx(0.0, abs=1e-9)
    assert model_disagreement({"x": a}).tolist() == [0.0, 0.0]


def test_compare():
    old = {"planet_ap": 0.80, "triage_ap": 0.98, "ece": 0.02}
    assert compare({"planet_ap": 0.795, "triage_ap": 0.985, "ece": 0.021}, old, 0.01)[0]
    ok, reason = compare({"planet_ap": 0.70, "triage_ap": 0.98, "ece": 0.05}, old, 0.01)
    assert not ok and "planet_ap" in reason and "ece" in reason
    assert compare({"planet_ap": 0.1}, None)[0]
    assert not compare({"foo": 1}, old)[0]
