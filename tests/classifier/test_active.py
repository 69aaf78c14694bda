"""Tests of query strategies, batch diversity and mislabel ranking on toy scores."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.active import informativeness, rank_suspected_mislabels, select_batch, spread_by_score

PROBA = np.array([
    [0.98, 0.01, 0.01],  # 0 confident
    [0.34, 0.33, 0.33],  # 1 maximally uncertain
    [0.50, 0.495, 0.005],  # 2 smallest margin
    [0.90, 0.05, 0.05],  # 3 confident
    [0.60, 0.20, 0.20],  # 4 medium
])


def test_uncertainty_strategies_rank_as_expected():
    s = {"proba": PROBA}
    assert np.argmax(informativeness(s, "entropy")) == 1
    assert np.argmax(informativeness(s, "least_confidence")) == 1
    assert np.argmax(informativeness(s, "margin")) == 2
    assert np.argmin(informativeness(s, "entropy")) == 0
    q = select_batch(s, batch_size=2, mix={"margin": 1.0}, seed=0)
    assert [x.index for x in q] == [2, 1] and {x.strategy for x in q} == {"margin"}


def test_committee_picks_disagreement():
    a = np.tile([0.8, 0.1, 0.1], (5, 1))
    b = a.copy()
    b[3] = [0.1, 0.8, 0.1]  # families disagree only on row 3
    s = {"proba": (a + b) / 2, "family_proba": {"hgb": a, "logistic": b}}
    q = select_batch(s, batch_size=1, mix={"committee": 1.0}, seed=0)
    assert q[0].index == 3 and q[0].strategy == "committee"


def test_committee_of_one_family_falls_back_to_uncertainty():
    """A committee of one (one family's probabilities, no fold members) cannot disagree: its share
    goes to uncertainty sampling (the most uncertain row), not to a random tie-break among equal
    zero disagreements."""
    s = {"proba": PROBA, "family_proba": {"hgb": PROBA}}
    for seed in range(5):
        q = select_batch(s, batch_size=1, mix={"committee": 1.0}, seed=seed)
        assert q[0].index == 1 == int(np.argmax(informativeness({"proba": PROBA}, "uncertainty")))
        assert q[0].strategy == "committee"  # the share it fills


def test_mix_counts_exclude_and_random_share():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], size=200)
    families = {"a": proba, "b": rng.dirichlet([1, 1, 1], size=200)}
    s = {"proba": proba, "classes": ["PC", "EB", "J"], "family_proba": families}
    exclude = np.arange(50)
    q = select_batch(s, rng.normal(size=(200, 3)), batch_size=20,
                     mix={"uncertainty": 0.5, "committee": 0.3, "random": 0.2}, seed=1, exclude=exclude)
    assert len(q) == 20 and len({x.index for x in q}) == 20
    assert all(x.index >= 50 for x in q)
    counts = {k: sum(x.strategy == k for x in q) for k in ("uncertainty", "committee", "random")}
    assert counts == {"uncertainty": 10, "committee": 6, "random": 4}
    assert [x.priority for x in q] == sorted((x.priority for x in q), reverse=True)
    q2 = select_batch(s, batch_size=20, seed=1, exclude=exclude)
    assert q2 == select_batch(s, batch_size=20, seed=1, exclude=exclude)  # deterministic with a seed
    with pytest.raises(ValueError, match="unknown strategy"):
        select_batch(s, batch_size=2, mix={"magic": 1.0})


def test_diversity_spreads_a_batch_over_near_copies():
    # 8 near-identical maximally uncertain points in one cluster, 10 slightly less uncertain elsewhere.
    rng = np.random.default_rng(0)
    emb = np.vstack([rng.normal(scale=0.01, size=(8, 2)), rng.normal(size=(10, 2)) * 5 + 10])
    proba = np.vstack([np.tile([0.34, 0.33, 0.33], (8, 1)), np.tile([0.40, 0.30, 0.30], (10, 1))])
    s = {"proba": proba}
    plain = select_batch(s, emb, batch_size=5, mix={"uncertainty": 1.0}, diversity=False, seed=0)
    diverse = select_batch(s, emb, batch_size=5, mix={"uncertainty": 1.0}, diversity=True, seed=0)
    assert all(x.index < 8 for x in plain)
    assert sum(x.index >= 8 for x in diverse) >= 3

    def min_dist(idx):
        e = emb[idx]
        d = np.sqrt(((e[:, None] - e[None]) ** 2).sum(-1))
        return d[np.triu_indices(len(idx), 1)].min()

    assert min_dist([x.index for x in diverse]) > 10 * min_dist([x.index for x in plain])


def test_spread_by_score_keeps_order_and_skips_near_copies():
    emb = np.array([[0.0, 0], [0.01, 0], [5, 0], [0, 5], [20, 20]])
    # Row 1 is a near-copy of row 0: skipped while others remain; the far outlier (row 4)
    # is not preferred over the better-ranked rows 2 and 3, as k-center would do.
    assert spread_by_score(emb, np.arange(5), 3) == [0, 2, 3]
    # Near-copies of rows already in the batch are skipped as well.
    assert spread_by_score(emb, np.array([1, 2, 3]), 2, selected=[0]) == [2, 3]
    # Too few distinct rows: the skipped ones fill the batch, after the distinct ones.
    clump = np.array([[0.0, 0], [0.001, 0], [1, 0]])
    assert spread_by_score(clump, np.arange(3), 2) == [0, 2]
    assert spread_by_score(clump, np.arange(3), 3) == [0, 2, 1]
    assert spread_by_score(emb, np.arange(5), 0) == []


def test_rank_suspected_mislabels():
    classes = ["PC", "EB", "J"]
    y = ["PC", "J", "EB", "J"]
    P = np.array([[0.9, 0.05, 0.05], [0.95, 0.03, 0.02], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    order, susp = rank_suspected_mislabels(y, P, classes)
    assert order[0] == 1  # labeled J, model is sure it is a planet
    assert susp[1] > susp[2] > susp[0]
    order_sc, _ = rank_suspected_mislabels(y, P, classes, method="self_confidence")
    assert order_sc[0] == 1
    with pytest.raises(ValueError, match="shape"):
        rank_suspected_mislabels(y, P[:2], classes)
    with pytest.raises(ValueError, match="not among"):
        rank_suspected_mislabels(["BEB"] * 4, P, classes)


def test_planet_strategy_prefers_p_planet_near_half():
    proba = np.array([[0.5, 0.1, 0.4], [0.02, 0.49, 0.49], [0.95, 0.03, 0.02], [0.3, 0.3, 0.4]])
    scores = {"proba": proba, "classes": ["PC", "EB", "J"]}
    info = informativeness(scores, "planet")
    np.testing.assert_allclose(info, 1 - np.abs(2 * proba[:, 0] - 1))
    picked = select_batch(scores, batch_size=1, mix={"planet": 1.0}, diversity=False)
    assert [q.index for q in picked] == [0]  # entropy would pick row 3, margin row 1
    with pytest.raises(ValueError, match="classes"):
        informativeness({"proba": proba}, "planet")


def test_likely_planet_strategy_takes_the_most_probable_planets_first():
    proba = np.array([[0.5, 0.1, 0.4], [0.02, 0.49, 0.49], [0.95, 0.03, 0.02], [0.3, 0.3, 0.4]])
    scores = {"proba": proba, "classes": ["PC", "EB", "J"]}
    np.testing.assert_allclose(informativeness(scores, "likely_planet"), proba[:, 0])
    picked = select_batch(scores, batch_size=2, mix={"likely_planet": 1.0}, diversity=False)
    assert [q.index for q in picked] == [2, 0]  # "planet" would take row 0 (p = 0.5) first
    assert {q.strategy for q in picked} == {"likely_planet"}


def test_every_prefix_of_a_batch_follows_the_mix():
    # Raw scores are on different scales (p_planet near 1, disagreement near 0): sorting by them
    # would put all likely planets first. Vetters see the top of the queue, so interleave.
    rng = np.random.default_rng(3)
    proba = rng.dirichlet([1, 1, 1], size=300)
    s = {"proba": proba, "classes": ["PC", "EB", "J"],
         "family_proba": {"a": proba, "b": rng.dirichlet([1, 1, 1], size=300)}}
    mix = {"likely_planet": 0.6, "committee": 0.2, "random": 0.2}
    q = select_batch(s, batch_size=50, mix=mix, seed=0, diversity=False)
    assert [x.priority for x in q] == sorted((x.priority for x in q), reverse=True)
    for n in (5, 10, 25):
        counts = {k: sum(x.strategy == k for x in q[:n]) for k in mix}
        for k, share in mix.items():
            assert abs(counts[k] - share * n) <= 1, (n, counts)
    # Within a strategy the most informative pick still comes first.
    planets = [x.index for x in q if x.strategy == "likely_planet"]
    assert planets == sorted(planets, key=lambda i: -proba[i, 0])
