"""The ensemble's combination is chosen by cross-validation and never loses to the plain average;
disagreement counts top-class votes; the paired promotion test (tiny arrays, no database)."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.combination import Combiner, choose_combination
from classifier.evaluation import align_proba, paired_compare, top_class_disagreement
from classifier.training import VettingEnsemble, train


def blobs(n, seed, d=8, spread=1.6):
    """Four overlapping classes, two candidates per star (groups)."""
    rng = np.random.default_rng(seed)
    classes = np.array(["PC", "EB", "V", "J"], dtype=object)
    y = classes[rng.integers(0, 4, n)]
    # One generator for all centres: a fresh default_rng(99) per class gave every class the
    # same centre, so the labels were noise and the held-out comparisons were coin flips.
    centre_rng = np.random.default_rng(99)
    centres = {c: centre_rng.normal(scale=spread, size=d) for c in classes}
    X = np.stack([centres[c] + rng.normal(size=d) for c in y])
    return X, y, np.arange(n) // 2


def test_auto_combination_is_chosen_by_cross_validation_and_recorded():
    X, y, g = blobs(300, 0)
    model = VettingEnsemble(profile="fast", random_state=0, n_calibration_folds=3).fit(X, y, g)
    scores = model.combination_scores_
    assert set(scores) == {"mean", "tempered", "stack", "shrunk"}
    # The chosen one has the lowest out-of-fold log loss among those as accurate as the average.
    eligible = {m: s for m, s in scores.items() if s["accuracy"] >= scores["mean"]["accuracy"]}
    assert model.combine_ == min(eligible, key=lambda m: eligible[m]["log_loss"])
    np.testing.assert_allclose(model.predict_proba(X[:5]).sum(axis=1), 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ensemble_is_never_worse_than_the_plain_average_of_its_members_on_held_out_rows(seed):
    X, y, g = blobs(700, seed)
    tr, te = np.arange(300), np.arange(300, 700)
    model = VettingEnsemble(profile="fast", random_state=seed, n_calibration_folds=3).fit(X[tr], y[tr], g[tr])
    fam = model.family_proba(X[te])
    ens, avg = model.combine_proba(fam), np.mean(list(fam.values()), axis=0)
    classes = np.asarray(model.classes_)
    acc_ens = np.mean(classes[ens.argmax(1)] == y[te])
    acc_avg = np.mean(classes[avg.argmax(1)] == y[te])
    idx = np.array([list(classes).index(v) for v in y[te]])
    nll_ens = -np.mean(np.log(np.clip(ens[np.arange(len(te)), idx], 1e-12, 1)))
    nll_avg = -np.mean(np.log(np.clip(avg[np.arange(len(te)), idx], 1e-12, 1)))
    # A small slack: held-out rows are a finite sample (400 rows: one row is 0.0025).
    assert acc_ens >= acc_avg - 0.01, (model.combine_, acc_ens, acc_avg)
    assert nll_ens <= nll_avg + 0.02, (model.combine_, nll_ens, nll_avg)


def test_choose_combination_never_picks_a_less_accurate_combination():
    y = np.array([0, 1, 0, 1])
    sharp_wrong = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])  # 2/4 right, confident
    mean = np.array([[0.6, 0.4], [0.4, 0.6], [0.55, 0.45], [0.45, 0.55]])  # 4/4 right, timid
    method, scores = choose_combination({"mean": mean, "stack": sharp_wrong}, y)
    assert method == "mean" and scores["stack"]["accuracy"] == 0.5


def test_tempered_average_keeps_the_average_top_class_and_sharpens_it():
    fam = {"a": np.array([[0.6, 0.4], [0.3, 0.7]] * 20), "b": np.array([[0.7, 0.3], [0.4, 0.6]] * 20)}
    y = np.array([0, 1] * 20)
    comb = Combiner("tempered", ["a", "b"]).fit(fam, y, 2)
    p = comb.predict_proba(fam)
    assert comb.temperature_ < 1.0  # the labels are always right: sharpen
    assert (p.argmax(1) == np.mean(list(fam.values()), axis=0).argmax(1)).all()
    assert p[0, 0] > 0.65


def test_shrunk_average_pulls_confident_mistakes_towards_the_class_frequencies():
    # Members sure of their top class, which is wrong for a fifth of the rows: a temperature alone
    # cannot fix the sure mistakes without softening every right answer; the prior term caps them.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    top = np.where(rng.random(500) < 0.8, y, (y + 1) % 3)
    sure = np.full((500, 3), 0.005)
    sure[np.arange(500), top] = 0.99
    fam = {"a": sure, "b": sure}
    nll = {}
    for method in ("tempered", "shrunk"):
        comb = Combiner(method, ["a", "b"]).fit(fam, y, 3)
        p = comb.predict_proba(fam)
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        nll[method] = -np.mean(np.log(p[np.arange(500), y]))
    assert 0.0 < comb.prior_weight_ <= 0.5
    np.testing.assert_allclose(comb.prior_, (np.bincount(y, minlength=3) + 1) / 503)
    assert nll["shrunk"] <= nll["tempered"] + 1e-6


def test_shrunk_average_leaves_right_answers_alone():
    fam = {"a": np.array([[0.8, 0.2], [0.2, 0.8]] * 50)}
    y = np.array([0, 1] * 50)
    comb = Combiner("shrunk", ["a"]).fit(fam, y, 2)
    assert comb.prior_weight_ < 0.01 and comb.temperature_ < 1.0


def test_combine_accepts_a_list_of_candidates_and_rejects_unknown_names():
    X, y, g = blobs(200, 1)
    model = VettingEnsemble(profile="fast", random_state=0, combine=("tempered", "stack")).fit(X, y, g)
    assert set(model.combination_scores_) == {"mean", "tempered", "stack"}
    with pytest.raises(ValueError, match="combine must be"):
        VettingEnsemble(profile="fast", combine=("mean", "nope")).fit(X, y, g)


def test_top_class_disagreement_counts_votes():
    a = np.array([[0.9, 0.1, 0.0], [0.34, 0.33, 0.33]])
    b = np.array([[0.8, 0.2, 0.0], [0.33, 0.34, 0.33]])
    c = np.array([[0.7, 0.3, 0.0], [0.33, 0.33, 0.34]])
    d = top_class_disagreement({"a": a, "b": b, "c": c})
    assert d[0] == 0.0  # unanimous
    assert d[1] == pytest.approx(2 / 3)  # three families, three different top classes
    one_off = top_class_disagreement({"a": a, "b": a, "c": b[::-1]})
    assert one_off[0] == pytest.approx(1 / 3)  # one of three predicts another class
    assert top_class_disagreement({"a": a}).tolist() == [0.0, 0.0]


def test_train_reports_the_combination_scores():
    X, y, g = blobs(200, 3)
    result = train(X, y, g, seed=0, profile="fast", n_splits=3)
    assert result.metrics["combine"] in result.metrics["combination_scores"]


# --- the paired promotion test ---------------------------------------------------------------

def _probs(y, classes, quality, rng):
    """Probabilities that put ``quality`` on the true class (noisy), the rest spread."""
    k = len(classes)
    idx = np.array([classes.index(v) for v in y])
    P = rng.dirichlet(np.ones(k), size=len(y)) * (1 - quality)
    P[np.arange(len(y)), idx] += quality
    return P / P.sum(1, keepdims=True)


def test_paired_compare_same_model_is_not_worse_and_a_clearly_worse_one_is():
    rng = np.random.default_rng(0)
    classes = ["PC", "EB", "J"]
    y = np.array(classes * 200, dtype=object)
    groups = np.arange(len(y)) // 3
    good = _probs(y, classes, 0.6, rng)
    ok, reason, details = paired_compare(y, good, good, classes, groups=groups, tolerance=0.01, n_boot=100)
    assert ok and "not worse" in reason and details["planet_ap"]["diff"] == 0.0
    bad = _probs(y, classes, 0.05, rng)
    ok, reason, details = paired_compare(y, bad, good, classes, groups=groups, tolerance=0.01, n_boot=100)
    assert not ok and "planet_ap" in reason and details["planet_ap"]["failed"]
    assert details["planet_ap"]["high"] < -0.01  # the whole interval is beyond the tolerance
    # The other way round the better model passes.
    assert paired_compare(y, good, bad, classes, groups=groups, tolerance=0.01, n_boot=100)[0]


def test_paired_compare_tolerates_noise_within_the_interval():
    rng = np.random.default_rng(1)
    classes = ["PC", "J"]
    y = np.array(["PC", "J", "J", "J"] * 30, dtype=object)
    a = _probs(y, classes, 0.3, rng)
    b = np.clip(a + rng.normal(0, 0.02, a.shape), 0.001, None)
    b /= b.sum(1, keepdims=True)
    ok, reason, _ = paired_compare(y, b, a, classes, tolerance=0.01, n_boot=100)
    assert ok, reason


def test_align_proba_fills_missing_classes_with_zero():
    P = np.array([[0.7, 0.3]])
    out = align_proba(P, ["PC", "J"], ["PC", "EB", "J"])
    np.testing.assert_allclose(out, [[0.7, 0.0, 0.3]])
