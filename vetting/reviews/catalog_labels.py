"""Bulk catalog labels for imports of thousands of rows.

Same rules as :func:`vetting.reviews.services.catalog_label_upsert`, in batches:

* one current catalog label per candidate; an unchanged class is left alone (idempotent),
  a changed class supersedes the old label, which stays as history (``is_current=False``,
  ``supersedes`` link, django-simple-history rows for both);
* the candidate rows are locked (``SELECT ... FOR UPDATE``, in pk order) like the service does;
* the consensus of every changed candidate is recomputed with the same rule
  (:func:`vetting.reviews.consensus.decide` and ``settings.VETTING_CONSENSUS``).

The candidates importers hand their dispositions here through the writer named in
``settings.VETTING_CATALOG_LABEL_WRITER`` (``candidates`` sits below ``reviews`` and never
imports it).
"""
from __future__ import annotations

from collections import Counter, defaultdict

from django.conf import settings
from django.db import transaction

from vetting.candidates.models import Candidate
from vetting.reviews import consensus as rule
from vetting.reviews import selectors
from vetting.reviews.models import Consensus, Label, LabelSource

BATCH = 2000


def catalog_labels_bulk_upsert(*, items: list[tuple[int, str, str]]) -> Counter:
    """Set catalog labels ``(candidate_id, label_class, note)``; returns counts
    ``labels_created`` and ``labels_unchanged``."""
    from classifier.vocabulary import validate_class

    counts: Counter = Counter()
    latest: dict[int, tuple[str, str]] = {}
    for pk, code, note in items:  # the last row for a candidate wins
        validate_class(code)
        latest[pk] = (code, note)
    ids = sorted(latest)
    for start in range(0, len(ids), BATCH):
        counts.update(_batch({pk: latest[pk] for pk in ids[start:start + BATCH]}))
    return counts


@transaction.atomic
def _batch(wanted: dict[int, tuple[str, str]]) -> Counter:
    from simple_history.utils import bulk_create_with_history, bulk_update_with_history

    counts: Counter = Counter()
    # The same row lock as reviews.services (FOR NO KEY UPDATE): serialised with label writes.
    list(Candidate.objects.select_for_update(no_key=True).filter(pk__in=list(wanted)).order_by("pk")
         .values_list("pk", flat=True))
    current = {
        label.candidate_id: label
        for label in Label.objects.filter(candidate_id__in=list(wanted), source=LabelSource.CATALOG, is_current=True)
    }
    retired, new = [], []
    for pk, (code, note) in wanted.items():
        old = current.get(pk)
        if old is not None and old.label_class == code:
            counts["labels_unchanged"] += 1
            continue
        if old is not None:
            old.is_current = False
            retired.append(old)
        new.append(Label(candidate_id=pk, label_class=code, source=LabelSource.CATALOG, note=note,
                         supersedes=old, is_current=True))
    if retired:  # flip first: the partial unique constraint allows one current catalog label
        bulk_update_with_history(retired, Label, ["is_current"], batch_size=500)
    if new:
        bulk_create_with_history(new, Label, batch_size=500)
        consensus_bulk_update(candidate_ids=[label.candidate_id for label in new])
    counts["labels_created"] += len(new)
    return counts


def consensus_bulk_update(*, candidate_ids: list[int]) -> None:
    """Recompute the consensus of many candidates in a few queries (caller holds their locks)."""
    conf = settings.VETTING_CONSENSUS
    votes: dict[int, list] = defaultdict(list)
    for label in Label.objects.filter(candidate_id__in=candidate_ids, is_current=True).order_by("-created_at", "-id"):
        votes[label.candidate_id].append(rule.Vote(label.label_class, label.confidence, label.source,
                                                   label.is_gold, label.excluded_from_training, label.vetter_id))
    reliability = selectors.current_reliability()
    upserts, drop = [], []
    for pk in set(candidate_ids):
        decision = rule.decide_configured(votes.get(pk, []), conf=conf, reliability=reliability,
                                          include_catalog=settings.VETTING_INCLUDE_CATALOG_LABELS)
        if decision is None or decision.is_tie:  # a tie is no label (services.consensus_update)
            drop.append(pk)
        else:
            upserts.append(Consensus(candidate_id=pk, label_class=decision.label_class, agreement=decision.agreement,
                                     n_labels=decision.n_labels, method=decision.method,
                                     needs_review=decision.needs_review, posterior=decision.posterior))
    if drop:
        Consensus.objects.filter(candidate_id__in=drop).delete()
    if upserts:
        Consensus.objects.bulk_create(
            upserts, update_conflicts=True, unique_fields=["candidate"],
            update_fields=["label_class", "agreement", "n_labels", "method", "needs_review", "posterior",
                           "updated_at"],
            batch_size=1000)
