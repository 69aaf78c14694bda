"""Tests of the MiniRocket transform and the view-rocket model family (tiny arrays)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from classifier.rocket import KERNEL_INDICES, N_KERNELS, MiniRocket, ViewRocketClassifier, _convolve, _shift


def test_kernels_are_the_84_minirocket_kernels():
    assert N_KERNELS == 84 and KERNEL_INDICES.shape == (84, 3)
    assert len({tuple(k) for k in KERNEL_INDICES}) == 84


def test_convolution_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 15)).astype(np.float32)
    C = _convolve(X, 2)
    assert C.shape == (2, 84, 15)
    for k in (0, 41, 83):
        w = -np.ones(9)
        w[KERNEL_INDICES[k]] = 2.0
        expected = [sum(w[j] * X[1, t + (j - 4) * 2] for j in range(9) if 0 <= t + (j - 4) * 2 < 15)
                    for t in range(15)]
        np.testing.assert_allclose(C[1, k], expected, atol=1e-5)
    # Weights sum to zero: a constant series gives 0 away from the zero-padded edges.
    assert np.allclose(_convolve(np.ones((1, 40), np.float32), 1)[0, :, 4:-4], 0.0)


def test_minirocket_shapes_range_and_determinism():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 30))
    X[0, 3] = np.nan  # missing bins are read as the out-of-transit level
    m = MiniRocket(n_features=200, random_state=3).fit(X)
    F = m.transform(X)
    assert F.shape == (20, m.n_features_out_) and m.n_features_out_ == 168  # 200 // 84 * 84
    assert F.dtype == np.float32 and F.min() >= 0.0 and F.max() <= 1.0 and np.isfinite(F).all()
    np.testing.assert_array_equal(F, clone(m).fit(X).transform(X))
    np.testing.assert_array_equal(m.transform(X[:5]), F[:5])  # batching changes nothing
    assert list(m.dilations_) == sorted(set(m.dilations_)) and m.dilations_[0] == 1
    with pytest.raises(ValueError, match="features"):
        m.transform(X[:, :10])
    with pytest.raises(ValueError, match="at least 9"):
        MiniRocket().fit(X[:, :5])


def test_shift_repeats_the_edge_bin():
    v = np.array([[1.0, 2.0, 3.0]])
    assert _shift(v, 1).tolist() == [[1.0, 1.0, 2.0]]
    assert _shift(v, -1).tolist() == [[2.0, 3.0, 3.0]]


def _views_data(n_per_class=30, seed=0):
    """Scalars + a 'global' (25 bins) and 'local' (15 bins) view: box dips for PC, V dips for EB."""
    rng = np.random.default_rng(seed)
    rows, y = [], []
    for label in ("PC", "EB", "J"):
        for _ in range(n_per_class):
            g = rng.normal(scale=0.1, size=25)
            local = rng.normal(scale=0.1, size=15)
            if label == "PC":
                local[5:10] -= 1.0
            elif label == "EB":
                local -= np.clip(1.0 - np.abs(np.arange(15) - 7) / 3.0, 0, None)
                g[0] -= 0.6  # secondary eclipse at phase 0.5
            rows.append(np.concatenate([[rng.normal(), np.nan], g, local]))
            y.append(label)
    return np.array(rows), np.array(y, dtype=object)


@pytest.mark.parametrize("augment", ["none", "flip+shift"])
def test_view_rocket_classifier_learns_view_shapes(augment):
    X, y = _views_data()
    model = ViewRocketClassifier(view_lengths=(25, 15), n_features=168, C=0.1, use_scalars=True, augment=augment)
    model.fit(X, y)
    p = model.predict_proba(X)
    assert p.shape == (len(y), 3) and list(model.classes_) == ["EB", "J", "PC"]
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    X_test, y_test = _views_data(seed=1)
    assert np.mean(model.predict(X_test) == y_test) > 0.9
    assert clone(model).get_params()["augment"] == augment


def test_view_rocket_classifier_errors():
    X, y = _views_data(n_per_class=5)
    with pytest.raises(ValueError, match="view columns"):
        ViewRocketClassifier(view_lengths=(67, 61)).fit(X, y)
    with pytest.raises(ValueError, match="augment"):
        ViewRocketClassifier(view_lengths=(25, 15), augment="mirror").fit(X, y)
