"""Temperature and vector scaling of a family's probabilities (classifier.calibration), and the
ensemble's choice among calibration maps by cross-validation (tiny arrays, no database)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from classifier.calibration import ScalingCalibrator
from classifier.evaluation import top_label_ece
from classifier.training import AUTO_CALIBRATIONS, ProbabilityCalibrator, VettingEnsemble


def overconfident(n: int, k: int, temperature: float, seed: int, prior=None):
    """Labels drawn from ``softmax(z)`` and scores ``softmax(z / temperature)`` of the same logits:
    with ``temperature`` < 1 the scores are over-confident, and ``T = temperature`` recovers them."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(n, k))
    if prior is not None:
        z = z + np.log(prior)
    truth = softmax(z, axis=1)
    y = np.array([rng.choice(k, p=p) for p in truth])
    return softmax(z / temperature, axis=1), y


@pytest.mark.parametrize("method", ["temperature", "vector"])
def test_scaling_keeps_shape_and_rows_sum_to_one(method):
    P, y = overconfident(200, 4, 0.5, seed=0)
    cal = ScalingCalibrator(method).fit(P, y, 4)
    out = cal.predict_proba(P[:17])
    assert out.shape == (17, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert (out > 0).all() and (out < 1).all()


def test_temperature_recovers_a_known_temperature_of_overconfident_scores():
    P, y = overconfident(4000, 3, 0.5, seed=1)  # scores sharpened by 1 / 0.5 = 2
    cal = ScalingCalibrator("temperature").fit(P, y, 3)
    # log P / T with T = 1 / 0.5 = 2 undoes the sharpening.
    assert cal.temperature_ == pytest.approx(2.0, rel=0.1)
    # Top class never changes; calibration error falls.
    np.testing.assert_array_equal(cal.predict_proba(P).argmax(1), P.argmax(1))
    classes = ["a", "b", "c"]
    yc = np.array(classes)[y]
    assert top_label_ece(yc, cal.predict_proba(P), classes) < 0.5 * top_label_ece(yc, P, classes)


def test_temperature_of_calibrated_scores_stays_near_one():
    P, y = overconfident(4000, 3, 1.0, seed=2)
    assert ScalingCalibrator("temperature").fit(P, y, 3).temperature_ == pytest.approx(1.0, rel=0.1)


def test_vector_scaling_undoes_a_class_prior_shift_that_a_temperature_cannot():
    # Scores of a model trained with balanced class weights: the rare class is over-predicted.
    prior = np.array([0.8, 0.15, 0.05])
    P, y = overconfident(4000, 3, 1.0, seed=3, prior=prior)
    shifted = P / prior[None, :]
    shifted /= shifted.sum(axis=1, keepdims=True)
    nll = {}
    for method in ("temperature", "vector"):
        out = ScalingCalibrator(method).fit(shifted, y, 3).predict_proba(shifted)
        nll[method] = -np.mean(np.log(out[np.arange(len(y)), y]))
    vec = ScalingCalibrator("vector").fit(shifted, y, 3)
    # The fitted biases are about log(prior), up to a constant.
    np.testing.assert_allclose(vec.bias_ - vec.bias_.mean(), np.log(prior) - np.log(prior).mean(), atol=0.3)
    assert nll["vector"] < nll["temperature"] - 0.02


def test_scaling_with_a_class_absent_from_the_fitting_rows_stays_finite():
    P, y = overconfident(100, 3, 0.7, seed=4)
    y = np.where(y == 2, 0, y)  # class 2 never seen
    out = ScalingCalibrator("vector").fit(P, y, 3).predict_proba(P)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)


def test_unknown_scaling_method_is_refused():
    with pytest.raises(ValueError, match="temperature or vector"):
        ScalingCalibrator("platt")


def test_probability_calibrator_delegates_temperature():
    P, y = overconfident(500, 3, 0.5, seed=5)
    cal = ProbabilityCalibrator("temperature").fit(P, y, 3)
    np.testing.assert_allclose(cal.predict_proba(P), cal.models_.predict_proba(P))


def blobs(n, seed, d=6):
    rng = np.random.default_rng(seed)
    classes = np.array(["PC", "EB", "J"], dtype=object)
    y = classes[rng.choice(3, size=n, p=[0.2, 0.2, 0.6])]
    centres = {c: np.random.default_rng(7).normal(scale=1.5, size=d) for c in classes}
    return np.stack([centres[c] + rng.normal(size=d) for c in y]), y, np.arange(n) // 2


def test_auto_calibration_is_chosen_by_out_of_fold_log_loss_and_recorded():
    X, y, g = blobs(150, 0)
    assert np.unique(y, return_counts=True)[1].min() < 40
    model = VettingEnsemble(profile="fast", random_state=0, n_calibration_folds=3).fit(X, y, g)
    scores = model.calibration_scores_
    assert set(scores) == {"sigmoid", "temperature", "vector"}  # by_count is sigmoid below 40 per class
    assert model.calibration_method_ == min(scores, key=lambda c: scores[c]["log_loss"])
    assert model.combine_ == scores[model.calibration_method_]["combine"]
    if model.calibration_method_ in ("temperature", "vector"):
        assert set(model.calibration_temperatures_) == set(model.families_)
    np.testing.assert_allclose(model.predict_proba(X[:5]).sum(axis=1), 1.0)


def test_calibration_by_count_is_the_former_rule_and_a_name_forces_a_map():
    X, y, g = blobs(150, 1)
    old = VettingEnsemble(profile="fast", random_state=0, calibration="by_count").fit(X, y, g)
    assert old.calibration_method_ == "sigmoid" and set(old.calibration_scores_) == {"sigmoid"}
    forced = VettingEnsemble(profile="fast", random_state=0, calibration="temperature").fit(X, y, g)
    assert forced.calibration_method_ == "temperature"
    assert set(forced.calibration_temperatures_) == set(forced.families_)
    with pytest.raises(ValueError, match="calibration must be"):
        VettingEnsemble(calibration="platt").fit(X, y, g)
    assert "by_count" in AUTO_CALIBRATIONS
