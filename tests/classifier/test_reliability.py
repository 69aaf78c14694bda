"""classifier.reliability: Dawid-Skene EM on small simulated teams (no database)."""
from __future__ import annotations

import numpy as np
import pytest

from classifier import reliability as ds


def _team(n_items=1500, accuracies=(0.95, 0.8, 0.8, 0.5), k=3, per_item=3, seed=0):
    """Items with true classes (priors 0.1/0.2/0.7) and ``per_item`` labels each from raters with
    symmetric confusion (right with probability ``accuracy``, else a uniformly random class)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=n_items, p=[0.1, 0.2, 0.7])
    items, raters, labels = [], [], []
    for i in range(n_items):
        for w in rng.choice(len(accuracies), per_item, replace=False):
            said = truth[i] if rng.random() < accuracies[w] else rng.integers(k)
            items.append(i)
            raters.append(int(w))
            labels.append(int(said))
    return truth, np.array(items), np.array(raters), np.array(labels)


def test_beats_majority_vote_and_ranks_raters_by_reliability():
    truth, items, raters, labels = _team()
    fit = ds.dawid_skene(items, raters, labels, n_items=len(truth), n_raters=4, n_classes=3)
    votes = np.zeros((len(truth), 3))
    np.add.at(votes, (items, labels), 1)
    majority_error = np.mean(votes.argmax(1) != truth)
    ds_error = np.mean(fit.posterior.argmax(1) != truth)
    assert ds_error < 0.7 * majority_error
    # symmetric raters: diagonal = accuracy + (1 - accuracy) / k
    expected = [a + (1 - a) / 3 for a in (0.95, 0.8, 0.8, 0.5)]
    got = [ds.balanced_accuracy(c) for c in fit.confusion]
    assert got == pytest.approx(expected, abs=0.05)
    assert np.allclose(fit.confusion.sum(axis=2), 1.0) and np.allclose(fit.posterior.sum(axis=1), 1.0)
    assert fit.priors == pytest.approx([0.1, 0.2, 0.7], abs=0.03)


def test_fixed_truth_stays_one_hot_and_anchors_a_rater_who_always_lies():
    # Two raters who always swap classes 0 and 1 against one honest rater: without anchors EM
    # could settle on the liars; fixed truth on a few items tells it which way round it is.
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, size=200)
    items, raters, labels = [], [], []
    for i, t in enumerate(truth):
        for w in range(3):
            items.append(i)
            raters.append(w)
            labels.append(int(t) if w == 0 else 1 - int(t))
    fixed = np.full(200, -1)
    fixed[:20] = truth[:20]
    fit = ds.dawid_skene(items, raters, labels, n_items=200, n_raters=3, n_classes=2, fixed=fixed)
    assert np.array_equal(fit.posterior[:20].argmax(1), truth[:20])
    assert np.all(fit.posterior[:20].max(1) == 1.0)
    assert np.mean(fit.posterior.argmax(1) == truth) == 1.0
    assert fit.confusion[1, 0, 1] > 0.9  # rater 1 says 1 when the truth is 0


def test_item_posterior_is_the_e_step_and_unseen_raters_get_the_prior():
    conf = np.array([[0.9, 0.1], [0.2, 0.8]])
    p = ds.item_posterior([(conf, 0), (conf, 0)], np.array([0.5, 0.5]))
    expected = np.array([0.5 * 0.9 * 0.9, 0.5 * 0.2 * 0.2])
    assert p == pytest.approx(expected / expected.sum())
    assert ds.item_posterior([], np.array([0.3, 0.7])) == pytest.approx([0.3, 0.7])
    default = ds.default_confusion(6)
    assert default.sum(axis=1) == pytest.approx(np.ones(6)) and np.all(np.diag(default) > 0.5)


def test_input_validation():
    with pytest.raises(ValueError, match="raters must lie"):
        ds.dawid_skene([0], [3], [0], n_items=1, n_raters=2, n_classes=2)
    with pytest.raises(ValueError, match="one length"):
        ds.dawid_skene([0, 1], [0], [0], n_items=2, n_raters=1, n_classes=2)
    empty = ds.dawid_skene([], [], [], n_items=2, n_raters=1, n_classes=2)
    assert empty.posterior.shape == (2, 2) and empty.confusion.shape == (1, 2, 2)


def test_items_left_out_of_the_priors_still_train_the_raters():
    # 300 ordinary items (10 % class 0) and 300 known answers, all class 0 (a planet-heavy
    # known-answer pool): counted in the priors they would make class 0 look common.
    truth, items, raters, labels = _team(n_items=300, accuracies=(0.9, 0.8, 0.7), seed=3)
    known = np.arange(300, 600)
    k_items = np.repeat(known, 3)
    k_raters = np.tile(np.arange(3), 300)
    rng = np.random.default_rng(4)
    k_labels = np.where(rng.random(900) < np.array([0.9, 0.8, 0.7])[k_raters], 0, rng.integers(1, 3, 900))
    all_items, all_raters = np.concatenate([items, k_items]), np.concatenate([raters, k_raters])
    all_labels = np.concatenate([labels, k_labels])
    fixed = np.concatenate([np.full(300, -1), np.zeros(300, dtype=int)])
    kw = dict(n_items=600, n_raters=3, n_classes=3, fixed=fixed)
    counted = ds.dawid_skene(all_items, all_raters, all_labels, **kw)
    left_out = ds.dawid_skene(all_items, all_raters, all_labels, in_priors=fixed < 0, **kw)
    assert counted.priors[0] > 0.5
    assert left_out.priors[0] == pytest.approx(np.mean(truth == 0), abs=0.04)
    # the known answers still anchor the raters' matrices: row 0 is learned from them
    assert left_out.confusion[:, 0, 0] == pytest.approx([0.9, 0.8, 0.7], abs=0.06)
    with pytest.raises(ValueError, match="in_priors"):
        ds.dawid_skene(all_items, all_raters, all_labels, in_priors=[True], **kw)
