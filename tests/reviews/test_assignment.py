"""Assignment and overlap: the queue hands a candidate to at most as many vetters as it wants
labels, also with concurrent vetters (threads against the real PostgreSQL)."""
from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from django.db import connection
from django.test import override_settings

from vetting.learning import queue_selectors
from vetting.reviews import selectors, services
from vetting.reviews.models import Assignment, CandidateReview, Label

N_VETTERS, N_CANDIDATES, OVERLAP = 6, 24, 2


def _vetters(django_user_model, n):
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="vetter")
    users = []
    for i in range(n):
        user = django_user_model.objects.create_user(f"team-vetter-{i}", password="x")
        user.groups.add(group)
        users.append(user)
    return users


@pytest.mark.django_db(transaction=True)
@override_settings(VETTING_LABELS_PER_CANDIDATE=OVERLAP, VETTING_OVERLAP_ADAPTIVE=False,
                   VETTING_KNOWN_ANSWER_SHARE=0.0)
def test_concurrent_vetters_never_get_a_candidate_beyond_its_overlap(make_candidate, django_user_model):
    vetters = _vetters(django_user_model, N_VETTERS)
    candidate_ids = [make_candidate().pk for _ in range(N_CANDIDATES)]
    handed: dict[int, set[int]] = defaultdict(set)
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(N_VETTERS)

    def vet(user) -> None:
        try:
            start.wait(timeout=10)
            while True:
                cid = queue_selectors.next_candidate_id(user=user, exclude_ids=[])
                if cid is None:
                    return
                with lock:
                    handed[cid].add(user.pk)
                services.label_create(candidate=cid, vetter=user, label_class="EB")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=vet, args=(u,)) for u in vetters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert set(handed) == set(candidate_ids)
    assert max(len(v) for v in handed.values()) == OVERLAP  # never a third vetter
    per_candidate = defaultdict(int)
    for cid in Label.objects.filter(source="human", is_current=True).values_list("candidate_id", flat=True):
        per_candidate[cid] += 1
    assert set(per_candidate.values()) == {OVERLAP}  # every candidate got what it needs, no more
    assert not CandidateReview.objects.filter(is_open=True).exists()
    assert not Assignment.objects.exists()  # labeling released every assignment


@pytest.mark.django_db
@override_settings(VETTING_LABELS_PER_CANDIDATE=1, VETTING_OVERLAP_ADAPTIVE=False, VETTING_KNOWN_ANSWER_SHARE=0.0)
def test_a_claimed_candidate_leaves_other_queues_until_it_expires_or_is_released(make_candidate, vetter, vetter2):
    from datetime import timedelta

    from django.utils import timezone

    only = make_candidate()
    assert queue_selectors.next_candidate_id(user=vetter, exclude_ids=[]) == only.pk
    assert queue_selectors.next_candidate_id(user=vetter, exclude_ids=[]) == only.pk  # renewed, still mine
    assert queue_selectors.next_candidate_id(user=vetter2, exclude_ids=[]) is None
    assert [c.pk for c in queue_selectors.queue_next(user=vetter2, limit=5)] == []
    Assignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert queue_selectors.next_candidate_id(user=vetter2, exclude_ids=[]) == only.pk
    services.assignment_release(vetter=vetter2, candidate_id=only.pk)
    services.label_create(candidate=only, vetter=vetter, label_class="PC")
    assert queue_selectors.next_candidate_id(user=vetter2, exclude_ids=[]) is None  # it has its one label


@pytest.mark.django_db
@override_settings(VETTING_LABELS_PER_CANDIDATE=2, VETTING_OVERLAP_ADAPTIVE=True, VETTING_OVERLAP_CONFIDENCE=0.95,
                   VETTING_KNOWN_ANSWER_SHARE=0.0)
def test_adaptive_overlap_asks_a_third_label_only_where_labels_disagree(make_candidate, django_user_model):
    a, b, c = _vetters(django_user_model, 3)
    agree, disagree = make_candidate(), make_candidate()
    for cand, classes in ((agree, ("EB", "EB")), (disagree, ("EB", "PC"))):
        services.label_create(candidate=cand, vetter=a, label_class=classes[0])
        services.label_create(candidate=cand, vetter=b, label_class=classes[1])
    with override_settings(VETTING_CONSENSUS={"rule": "weighted_majority", "min_labels": 1, "tie_margin": 0.02}):
        services.consensus_recompute_many(candidate_ids=[agree.pk, disagree.pk])
        reviews = {r.candidate_id: r for r in CandidateReview.objects.all()}
        assert (reviews[agree.pk].is_open, reviews[agree.pk].labels_wanted) == (False, 2)
        assert (reviews[disagree.pk].is_open, reviews[disagree.pk].labels_wanted) == (True, 3)
        assert queue_selectors.next_candidate_id(user=c, exclude_ids=[]) == disagree.pk


@pytest.mark.django_db
@override_settings(VETTING_KNOWN_ANSWER_SHARE=0.5)
def test_known_answer_checks_take_their_share_of_the_queue(make_candidate, vetter, curator):
    check = make_candidate()
    services.curator_label_set(candidate=check, curator=curator, label_class="PC")
    assert services.known_answer_set(candidate_ids=[check.pk], curator=curator) == 1
    others = [make_candidate() for _ in range(3)]
    first = queue_selectors.next_candidate_id(user=vetter, exclude_ids=[])
    assert first in {o.pk for o in others}  # label 1 of every 2 is a normal candidate
    services.label_create(candidate=first, vetter=vetter, label_class="EB")
    assert queue_selectors.next_candidate_id(user=vetter, exclude_ids=[]) == check.pk  # label 2: the check
    services.label_create(candidate=check, vetter=vetter, label_class="PC")
    assert selectors.known_answers() == {check.pk: ("PC", check.snr)}
