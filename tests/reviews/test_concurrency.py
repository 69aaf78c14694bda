"""Many concurrent writers never lose or duplicate a label (real PostgreSQL, real transactions).

16 threads x 25 labels: 8 vetters with two threads each (so one vetter races themself on the
same candidate), all on the same 10 candidates, while a catalog import upserts dispositions, a
curator marks gold labels, and a "retrain" reads label snapshots in REPEATABLE READ
transactions. Afterwards every accepted write is in the database exactly once, each vetter
has one current label per candidate (the one written last), and every consensus row equals
the consensus rule applied to the current labels.
"""
from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

import pytest
from django.conf import settings
from django.db import connection, transaction

from classifier.vocabulary import CLASS_CODES
from vetting.reviews import consensus as consensus_rule
from vetting.reviews import services
from vetting.reviews.models import Consensus, Label

pytestmark = pytest.mark.django_db(transaction=True)

N_THREADS, LABELS_PER_THREAD, N_VETTERS, N_CANDIDATES = 16, 25, 8, 10


def _decide(labels) -> consensus_rule.Decision | None:
    """The configured rule applied to the labels as stored; a tie stores no consensus."""
    from vetting.reviews import selectors

    votes = [consensus_rule.Vote(label.label_class, label.confidence, label.source, label.is_gold,
                                 label.excluded_from_training, label.vetter_id)
             for label in sorted(labels, key=lambda label: (label.created_at, label.id), reverse=True)]
    decision = consensus_rule.decide_configured(votes, conf=settings.VETTING_CONSENSUS,
                                                include_catalog=settings.VETTING_INCLUDE_CATALOG_LABELS,
                                                reliability=selectors.current_reliability())
    return None if decision is None or decision.is_tie else decision


def _consensus_mismatches() -> list[tuple]:
    """Candidates whose stored consensus differs from the rule applied to their current labels."""
    by_candidate = defaultdict(list)
    for label in Label.objects.filter(is_current=True):
        by_candidate[label.candidate_id].append(label)
    stored = {c.candidate_id: c for c in Consensus.objects.all()}
    bad = []
    for pk in set(by_candidate) | set(stored):
        want, have = _decide(by_candidate.get(pk, [])), stored.get(pk)
        if want is None or have is None:
            if want is not None or have is not None:
                bad.append((pk, want, have))
        elif (want.label_class, want.n_labels, want.method) != (have.label_class, have.n_labels, have.method) \
                or abs(want.agreement - have.agreement) > 1e-9:
            bad.append((pk, want, have))
    return bad


def test_concurrent_label_writers_lose_and_duplicate_nothing(make_candidate, django_user_model, curator):
    from django.contrib.auth.models import Group

    vetter_group = Group.objects.get(name="vetter")
    vetters = []
    for i in range(N_VETTERS):
        user = django_user_model.objects.create_user(f"load-vetter-{i}", password="x")
        user.groups.add(vetter_group)
        vetters.append(user)
    candidate_ids = [make_candidate().pk for _ in range(N_CANDIDATES)]

    accepted: list[tuple[int, int, str, int]] = []  # (vetter, candidate, class, label id)
    errors: list[BaseException] = []
    snapshot_mismatches: list = []
    snapshots = []
    lock = threading.Lock()
    start = threading.Barrier(N_THREADS + 3)
    writers_done = threading.Event()

    def writer(thread_no: int) -> None:
        rng = random.Random(thread_no)
        vetter = vetters[thread_no % N_VETTERS]
        try:
            start.wait()
            for _ in range(LABELS_PER_THREAD):
                cid, cls = rng.choice(candidate_ids), rng.choice(CLASS_CODES)
                label = services.label_create(candidate=cid, vetter=vetter, label_class=cls,
                                              confidence=rng.choice([0.5, 0.8, 1.0]))
                with lock:
                    accepted.append((vetter.pk, cid, cls, label.pk))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    def importer() -> None:
        """A catalog import re-upserting dispositions (idempotent) while vetters label."""
        rng = random.Random(99)
        try:
            start.wait()
            for _ in range(40):
                services.catalog_label_upsert(candidate=rng.choice(candidate_ids), label_class=rng.choice(["PC", "EB"]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def curator_thread() -> None:
        """A curator marks random current labels gold and back."""
        rng = random.Random(7)
        try:
            start.wait()
            for _ in range(20):
                label = Label.objects.filter(is_current=True, source="human").order_by("?").first()
                if label is not None:
                    services.label_set_gold(label=label, curator=curator, is_gold=rng.random() < 0.5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def retrain_reader() -> None:
        """Reads like a retrain: one consistent snapshot must agree with itself."""
        try:
            start.wait()
            while not writers_done.is_set():
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    current = Counter(Label.objects.filter(is_current=True, source="human")
                                      .values_list("candidate_id", "vetter_id"))
                    duplicated = [key for key, n in current.items() if n > 1]
                    mismatches = _consensus_mismatches()
                snapshots.append(len(current))
                if duplicated or mismatches:
                    snapshot_mismatches.append((duplicated, mismatches))
                writers_done.wait(0.1)  # a retrain reads now and then, not in a busy loop
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(N_THREADS)]
    helpers = [threading.Thread(target=f) for f in (importer, curator_thread)]
    reader = threading.Thread(target=retrain_reader)
    for t in threads + helpers + [reader]:
        t.start()
    for t in threads + helpers:
        t.join(timeout=240)
    writers_done.set()
    reader.join(timeout=60)

    assert not errors, errors
    assert not snapshot_mismatches, snapshot_mismatches[:3]
    assert len(snapshots) >= 2  # the reader really read while writers wrote
    assert len(accepted) == N_THREADS * LABELS_PER_THREAD

    # Nothing lost, nothing duplicated: every accepted label exists once, and no extra human labels.
    human = Label.objects.filter(source="human")
    assert human.count() == len(accepted)
    assert set(human.values_list("pk", flat=True)) == {a[3] for a in accepted}

    # One current label per vetter and candidate, and it is the vetter's last one (by id order of
    # commits: label_create holds the candidate lock, so ids on one candidate follow commit order).
    last = {}
    for vetter_id, cid, _cls, pk in sorted(accepted, key=lambda a: a[3]):
        last[(vetter_id, cid)] = pk
    current = list(human.filter(is_current=True).values_list("vetter_id", "candidate_id", "pk"))
    assert len(current) == len({(v, c) for v, c, _ in current}) == len(last)
    assert {(v, c): pk for v, c, pk in current} == last

    # Supersession chain intact: each non-current label is superseded by exactly one later label.
    superseded = set(human.exclude(supersedes=None).values_list("supersedes_id", flat=True))
    assert superseded == set(human.filter(is_current=False).values_list("pk", flat=True))

    # At most one current catalog label per candidate; consensus equals the rule on the labels.
    catalog_current = Counter(
        Label.objects.filter(source="catalog", is_current=True).values_list("candidate_id", flat=True))
    assert all(n == 1 for n in catalog_current.values())
    assert not _consensus_mismatches()


def test_a_label_never_waits_for_a_rescoring_transaction(make_candidate, vetter):
    """An insert that references a candidate (a prediction upsert, a queue rebuild) locks its
    row FOR KEY SHARE when its foreign keys are checked (at commit: they are deferred) until the
    commit ends; the label's candidate lock must not wait for it."""
    from tests.web.pagedata import make_prediction, make_version

    candidate, version = make_candidate(), make_version()
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def rescoring() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:  # check the foreign keys now instead of at commit
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                make_prediction(candidate, version)  # the FK check locks the candidate FOR KEY SHARE
                holding.set()
                release.wait(30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=rescoring)
    thread.start()
    try:
        assert holding.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # FOR UPDATE would fail here
            label = services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert Label.objects.get(pk=label.pk).is_current
    assert Consensus.objects.get(candidate=candidate).label_class == "PC"
