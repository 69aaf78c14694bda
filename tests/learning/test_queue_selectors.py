"""vetting.learning.queue_selectors.queue_page / queue_counts: the same rows and order as the
one-query ``queue()`` on every ordering, page and filter, read part by part through indexes."""
from __future__ import annotations

import pytest

from tests.web.pagedata import make_prediction, make_queue_entry, make_version
from vetting.learning import queue_selectors as selectors
from vetting.learning.filters import ORDERING_CHOICES
from vetting.learning.queue_selectors import QueueQuery
from vetting.reviews import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(make_candidate, vetter, vetter2):
    """13 candidates: 3 queued (one also scored), 6 scored only, 4 neither; 2 labeled by vetter,
    so 3 with a team consensus (one visible to vetter), 1 with an open dispute."""
    version = make_version()
    made = [make_candidate(f"K{i:05d}.01", snr=float(i % 5) if i % 4 else None,
                           period_days=float(13 - i)) for i in range(13)]
    for c, priority in zip(made[:3], (3.0, 3.0, 1.0)):  # a tie: the scored one (made[1]) goes first
        make_queue_entry(c, priority=priority, strategy="committee", version=version)
    make_prediction(made[1], version, uncertainty=0.2, top="EB", p_top=0.7)
    for i, c in enumerate(made[3:9]):
        make_prediction(c, version, uncertainty=0.5 if i in (1, 2) else i / 10, p_top=0.3 + i / 20)
    services.label_create(candidate=made[4], vetter=vetter, label_class="PC")
    services.label_create(candidate=made[10], vetter=vetter, label_class="EB")
    services.label_create(candidate=made[5], vetter=vetter2, label_class="PC")
    services.dispute_open(candidate=made[6], opened_by=vetter2, reason="odd/even", model_version=version.name)
    return version


FILTERS = [
    QueueQuery(),
    QueueQuery.of(labeled_by_me="true"),
    *(QueueQuery.of(ordering) for ordering, _ in ORDERING_CHOICES),
    QueueQuery.of("id"), QueueQuery.of("-period_days"),
    QueueQuery.of("p_planet", model_class="PC"),
    QueueQuery.of(p_planet_min="0.35", p_planet_max="0.5"),
    QueueQuery.of("-snr", labeled="false"),
    QueueQuery.of(labeled="true"),
    QueueQuery.of(disputed="true"),
    QueueQuery.of(mission="kepler", catalog_disposition="candidate"),
]


@pytest.mark.parametrize("query", FILTERS, ids=repr)
@pytest.mark.parametrize("per_page", [2, 4, 50])
def test_pages_concatenate_to_the_one_query_order(mixed, vetter, query, per_page):
    expected = [c.pk for c in selectors.queue(user=vetter, query=query, version=mixed)]
    counts = selectors.queue_counts(user=vetter)
    seen, number = [], 1
    while True:
        page = selectors.queue_page(user=vetter, query=query, version=mixed, counts=counts, page=number,
                                    per_page=per_page)
        assert page.number == number and page.has_previous == (number > 1)
        assert page.count == len(expected) and not page.count_capped
        seen += [c.pk for c in page]
        if not page.has_next:
            break
        number += 1
    assert seen == expected
    assert number == (page.num_pages if expected else 1)


def test_rows_carry_the_page_columns(mixed, vetter):
    page = selectors.queue_page(user=vetter, query=QueueQuery(), version=mixed,
                                counts=selectors.queue_counts(user=vetter), page=1)
    first, second = page.object_list[:2]
    assert (first.catalog_id, first.queue_strategy, first.queue_priority, first.predicted_class) == (
        "K00001.01", "committee", 3.0, "EB")
    assert second.catalog_id == "K00000.01" and second.predicted_class is None
    assert first.target.catalog_id and not first.is_mine
    disputed = [c for c in page if c.has_open_dispute]
    assert [c.catalog_id for c in disputed] == ["K00006.01"]
    # K00005.01 has a consensus (vetter2's label), hidden from vetter, who has not labeled it
    assert [c.visible_consensus for c in page] == [None] * len(page)
    mine = selectors.queue_page(user=vetter, query=QueueQuery.of(labeled_by_me="true"), version=mixed,
                                counts=selectors.queue_counts(user=vetter), page=1)
    assert sorted(c.visible_consensus.label_class for c in mine) == ["EB", "PC"]


def test_a_curator_sees_every_consensus_in_the_queue(mixed, curator):
    page = selectors.queue_page(user=curator, query=QueueQuery(), version=mixed,
                                counts=selectors.queue_counts(user=curator), page=1)
    assert sorted(c.visible_consensus.label_class for c in page if c.visible_consensus) == ["EB", "PC", "PC"]


def test_page_past_the_end_is_the_last_page_and_bad_numbers_the_first(mixed, vetter):
    counts = selectors.queue_counts(user=vetter)
    last = selectors.queue_page(user=vetter, query=QueueQuery(), version=mixed, counts=counts, page=99, per_page=4)
    assert (last.number, last.num_pages, len(last), last.has_next) == (3, 3, 3, False)
    bad = selectors.queue_page(user=vetter, query=QueueQuery(), version=mixed, counts=counts, page="x", per_page=4)
    assert bad.number == 1 and len(bad) == 4


def test_filtered_count_stops_at_the_cap(mixed, vetter, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    page = selectors.queue_page(user=vetter, query=QueueQuery.of(labeled="false"), version=mixed,
                                counts=selectors.queue_counts(user=vetter), page=1, per_page=2)
    assert (page.count, page.count_capped, page.num_pages, page.has_next) == (3, True, None, True)


def test_without_a_model_the_queue_is_queued_first_then_newest(make_candidate, vetter):
    a, b, c = (make_candidate(f"K0000{i}.01") for i in range(3))
    make_queue_entry(a, priority=1.0)
    counts = selectors.queue_counts(user=vetter)
    for ordering in ("-priority", "-uncertainty", "-p_planet"):
        query = QueueQuery.of(ordering)
        expected = [x.pk for x in selectors.queue(user=vetter, query=query, version=None)]
        page = selectors.queue_page(user=vetter, query=query, version=None, counts=counts, page=1)
        assert [x.pk for x in page] == expected
    assert [x.pk for x in selectors.queue_page(user=vetter, query=QueueQuery(), version=None, counts=counts,
                                               page=1)] == [a.pk, c.pk, b.pk]


def test_queue_counts(mixed, vetter, vetter2, django_assert_num_queries):
    from django.core.cache import cache

    cache.delete(selectors._SITE_COUNTS_KEY)
    with django_assert_num_queries(2):  # below ESTIMATE_TOTAL_ABOVE the total is counted exactly, apart
        counts = selectors.queue_counts(user=vetter)
    assert counts == {"total": 13, "without_consensus": 10, "queued_for_me": 3, "mine": 2, "total_estimated": False}
    assert selectors.queue_counts(user=vetter2)["mine"] == 1


def test_api_queue_and_next_button_follow_the_queue_page_order(mixed, vetter):
    """One queue order: the queue page, ``/api/queue/`` (queue_next) and the "next" button."""
    page = selectors.queue_page(user=vetter, query=QueueQuery(), version=mixed,
                                counts=selectors.queue_counts(user=vetter), page=1)
    expected = [c.pk for c in page]
    api = selectors.queue_next(user=vetter, limit=50)
    assert [c.pk for c in api] == expected
    assert [c.queue_strategy for c in api] == ["committee"] * 3 + ["fallback-uncertainty"] * 5 + ["fallback-newest"] * 3
    assert [c.queue_priority for c in api[3:]] == [0.5, 0.5, 0.4, 0.3, 0.0] + [0.0] * 3
    assert [c.pk for c in selectors.queue_next(user=vetter, limit=4)] == expected[:4]
    assert selectors.next_candidate_id(user=vetter, exclude_ids=[]) == expected[0]
    assert selectors.next_candidate_id(user=vetter, exclude_ids=expected[:4]) == expected[4]
    assert selectors.next_candidate_id(user=vetter, exclude_ids=expected[:9]) == expected[9]
    assert selectors.next_candidate_id(user=vetter, exclude_ids=expected) is None


def test_next_candidate_id_queries_stay_bounded(mixed, vetter, django_assert_max_num_queries):
    # active version + one query per part of the order + the claim (savepoint, lock, room,
    # upsert of the assignment, savepoint release)
    with django_assert_max_num_queries(9):
        selectors.next_candidate_id(user=vetter, exclude_ids=[])


def test_site_counts_are_reused_briefly_and_the_users_own_are_live(mixed, vetter, make_candidate,
                                                                   django_assert_num_queries):
    from django.core.cache import cache

    before = selectors.queue_counts(user=vetter)
    new = make_candidate("K09999.01")
    services.label_create(candidate=new, vetter=vetter, label_class="PC")
    with django_assert_num_queries(1):
        cached = selectors.queue_counts(user=vetter)
    assert (cached["total"], cached["without_consensus"]) == (before["total"], before["without_consensus"])
    assert cached["mine"] == before["mine"] + 1
    cache.clear()  # what SITE_COUNTS_TTL_S seconds do
    fresh = selectors.queue_counts(user=vetter)
    assert (fresh["total"], fresh["without_consensus"], fresh["mine"]) == (
        before["total"] + 1, before["without_consensus"], before["mine"] + 1)


def test_running_jobs_are_reused_briefly(db):
    from django.core.cache import cache

    from vetting.learning.models import TrainingRun

    assert selectors.running_jobs() == {"imports": [], "training": []}
    run = TrainingRun.objects.create(trigger="api")
    assert selectors.running_jobs()["training"] == []
    cache.clear()
    assert [r.pk for r in selectors.running_jobs()["training"]] == [run.pk]


def test_the_unfiltered_count_never_promises_rows_the_list_cannot_show(make_candidate, vetter, vetter2, curator):
    """A candidate whose labels others have already given (no room for this vetter) is neither
    listed nor counted: the page never says "N match" above an empty list."""
    version = make_version()
    full, *open_ = [make_candidate(f"K{i:05d}.01") for i in range(3)]
    services.label_create(candidate=full, vetter=vetter2, label_class="PC")
    services.label_create(candidate=full, vetter=curator, label_class="PC")
    counts = selectors.queue_counts(user=vetter)
    page = selectors.queue_page(user=vetter, query=QueueQuery(), version=version, counts=counts, page=1)
    assert sorted(c.pk for c in page.object_list) == sorted(c.pk for c in open_)
    assert page.count == 2 and not page.count_capped
