"""Agreement, throughput and drift statistics against hand-computed values (no database)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from sklearn.metrics import cohen_kappa_score

from vetting.reviews import stats

T0 = datetime(2026, 3, 1, 22, 0)


def test_cohen_kappa_hand_computed():
    # p_o = 3/4; marginals a: PC .5 EB .5, b: PC .25 EB .75 -> p_e = .125 + .375 = .5; kappa = .25/.5
    a, b = ["PC", "PC", "EB", "EB"], ["PC", "EB", "EB", "EB"]
    assert stats.cohen_kappa(a, b) == pytest.approx(0.5)
    assert stats.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_cohen_kappa_undefined_cases():
    assert stats.cohen_kappa(["PC"], ["PC"]) is None  # one item
    assert stats.cohen_kappa(["PC", "PC"], ["PC", "PC"]) is None  # no variation: chance agreement is 1
    with pytest.raises(ValueError, match="different numbers"):
        stats.cohen_kappa(["PC"], ["PC", "EB"])


def test_fleiss_kappa_three_items_hand_computed():
    # P_i = 1, 1/3, 1 -> P-bar = 7/9; p_PC = 5/9, p_EB = 4/9 -> P_e = 41/81; kappa = (63-41)/(81-41) = 0.55
    result = stats.fleiss_kappa([["PC", "PC", "PC"], ["PC", "PC", "EB"], ["EB", "EB", "EB"]])
    assert result.kappa == pytest.approx(0.55)
    assert result.observed == pytest.approx(7 / 9)
    assert result.expected == pytest.approx(41 / 81)
    # two classes: each per-class kappa equals the overall one; unused classes are undefined
    assert result.per_class["PC"] == pytest.approx(0.55)
    assert result.per_class["EB"] == pytest.approx(0.55)
    assert result.per_class["V"] is None
    assert result.n_items == 3


def test_fleiss_kappa_wikipedia_example():
    # Fleiss (1971) worked example as on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    classes = ["a", "b", "c", "d", "e"]
    items = [[c for c, n in zip(classes, row) for _ in range(n)] for row in table]
    result = stats.fleiss_kappa(items, classes=classes)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)
    assert result.observed == pytest.approx(0.378, abs=5e-4)
    assert result.expected == pytest.approx(0.213, abs=5e-4)


def test_fleiss_kappa_variable_raters_and_single_ratings_skipped():
    # 4 items with 2 ratings, one with a single rating (skipped): P-bar = 3/4,
    # p = PC 3/8, EB 3/8, V 2/8 -> P_e = 0.34375; kappa = 0.40625 / 0.65625
    items = [["PC", "PC"], ["EB", "EB"], ["PC", "EB"], ["V", "V"], ["J"]]
    result = stats.fleiss_kappa(items)
    assert result.n_items == 4
    assert result.kappa == pytest.approx(0.40625 / 0.65625)
    assert stats.fleiss_kappa([["PC"]]).kappa is None
    with pytest.raises(ValueError, match="unknown class"):
        stats.fleiss_kappa([["PC", "XX"]])


def test_pairwise_and_reference_agreement():
    labels = {"vera": {1: "PC", 2: "EB", 3: "PC", 4: "EB"}, "victor": {1: "PC", 2: "EB", 3: "EB", 5: "PC"},
              "ana": {9: "PC"}}
    pairs = {(p.rater_a, p.rater_b): p for p in stats.pairwise_kappa(labels)}
    vv = pairs[("vera", "victor")]
    # common 1, 2, 3: vera PC EB PC, victor PC EB EB -> p_o 2/3, p_e = 2/3*1/3 + 1/3*2/3 = 4/9 -> 0.4
    assert (vv.n_items, vv.percent) == (3, pytest.approx(2 / 3))
    assert vv.kappa == pytest.approx((2 / 3 - 4 / 9) / (5 / 9))
    assert pairs[("ana", "vera")].n_items == 0 and pairs[("ana", "vera")].kappa is None

    ref = stats.agreement_with(labels["vera"], {1: "PC", 2: "PC", 4: "EB"})
    assert (ref.n_items, ref.percent) == (3, pytest.approx(2 / 3))


def test_leave_one_out_majority_ignores_own_vote_and_ties():
    labels = {"a": {1: "PC", 2: "PC", 3: "EB"}, "b": {1: "EB", 2: "PC", 3: "V"}, "c": {1: "EB", 3: "EB"}}
    # item 1: others EB, EB -> EB; item 2: b PC -> PC; item 3: V vs EB tie -> left out
    assert stats.leave_one_out_majority(labels, "a") == {1: "EB", 2: "PC"}


def _times(*minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


def test_sessions_split_on_30_minute_gaps():
    times = _times(0, 10, 45, 74, 104)  # gaps 10, 35, 29, 30 -> breaks at 35 and at exactly 30
    assert stats.split_sessions(times) == [[0, 1], [2, 3], [4]]
    assert stats.session_positions(times) == [1, 2, 1, 2, 1]
    # unsorted input is sorted by time, indices refer to the input
    assert stats.split_sessions(list(reversed(times))) == [[4, 3], [2, 1], [0]]


def test_throughput_hand_computed():
    times = _times(0, 10, 45, 74)
    spent = [60.0, 30.0, 20.0, None]
    result = stats.throughput(times, spent)
    # sessions: (10 min + 60 s first label) + (29 min + 20 s) = 660 + 1760 = 2420 s
    assert result.n_sessions == 2
    assert result.active_hours == pytest.approx(2420 / 3600)
    assert result.labels_per_hour == pytest.approx(4 / (2420 / 3600))
    assert result.median_seconds == 30.0
    assert not result.floored
    single = stats.throughput(_times(0), [None])
    # one label with nothing measured counts for the floor: an upper bound, marked as such
    assert single.floored and single.labels_per_hour == pytest.approx(3600 / stats.MIN_SECONDS_PER_LABEL)
    assert single.median_seconds is None


def test_instant_seed_labels_give_a_bounded_rate_not_nonsense():
    from datetime import timedelta

    start = _times(0)[0]
    times = [start + timedelta(milliseconds=2 * i) for i in range(200)]  # 200 labels in 0.4 s
    result = stats.throughput(times, [None] * 200)
    assert result.floored
    assert result.labels_per_hour == pytest.approx(3600 / stats.MIN_SECONDS_PER_LABEL)  # not 1.8 million


def test_planet_rate_by_hour_and_session_position():
    times = _times(0, 5, 10, 65, 70)  # 22:00, 22:05, 22:10 | 23:05, 23:10 (new session after 55 min)
    classes = ["PC", "EB", "PC", "PC", "PC"]
    by_hour = stats.planet_rate_by_hour(times, classes)
    assert by_hour.counts[22] == 3 and by_hour.planets[22] == 2
    assert by_hour.rate[22] == pytest.approx(2 / 3) and by_hour.rate[23] == 1.0
    assert by_hour.rate[0] is None and len(by_hour.labels) == 24

    buckets = ((1, 1), (2, 2), (3, None))
    by_pos = stats.planet_rate_by_session_position(times, classes, buckets=buckets)
    # positions: 1, 2, 3 | 1, 2 -> pos1: PC PC, pos2: EB PC, pos3+: PC
    assert by_pos.labels == ["1-1", "2-2", "3+"]
    assert by_pos.counts == [2, 2, 1] and by_pos.planets == [2, 1, 1]
    assert by_pos.rate == [1.0, 0.5, 1.0]


def test_rate_figure_is_plain_json_with_counts_in_hover():
    import json

    bins = stats.planet_rate_by_hour(_times(0), ["PC"])
    fig = stats.rate_figure({"vera": bins}, title="t", xtitle="x")
    json.dumps(fig)  # serialisable as is
    trace = fig["data"][0]
    assert trace["name"] == "vera" and trace["y"][22] == 1.0 and trace["customdata"][22] == [1, 1]
    assert not any(isinstance(v, float) and math.isnan(v) for v in trace["y"] if v is not None)
