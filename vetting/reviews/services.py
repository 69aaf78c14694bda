"""Writes for labels, disputes and consensus. Every function is keyword-only and atomic.

Concurrency: each write first locks the candidate row (``SELECT ... FOR NO KEY UPDATE`` on
PostgreSQL), so concurrent submissions on one candidate are serialised and the
"one current label per vetter" constraint and the consensus row stay consistent. ``NO KEY``:
the lock does not wait for the ``FOR KEY SHARE`` locks that inserts referencing the candidate
take (the worker upserting predictions and rebuilding the queue), so a label never waits for
a rescoring transaction (and such an insert never waits for a label).
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from classifier.vocabulary import validate_class
from vetting.candidates.models import Candidate
from vetting.core.roles import is_curator
from vetting.reviews import consensus as consensus_rule
from vetting.reviews import selectors
from vetting.reviews.models import Consensus, Dispute, DisputeComment, Label, LabelSource

logger = logging.getLogger("vetting.reviews")


#: Longest time a page can count as spent on one label, seconds (a tab left open overnight
#: would otherwise wreck the throughput statistics); longer reports are capped, from any client.
MAX_SECONDS_SPENT = 3600.0


def _lock_candidate(candidate: Candidate | int) -> Candidate:
    pk = candidate.pk if isinstance(candidate, Candidate) else candidate
    return Candidate.objects.select_for_update(no_key=True).light().get(pk=pk)  # never the blobs


def _check_class(label_class: str) -> str:
    try:
        return validate_class(label_class)
    except ValueError as exc:
        raise ValidationError({"label_class": str(exc)}) from exc


@transaction.atomic
def label_create(
    *,
    candidate: Candidate | int,
    vetter,
    label_class: str,
    confidence: float = 1.0,
    note: str = "",
    seconds_spent: float | None = None,
) -> Label:
    """Record a vetter's label; their previous label on the candidate stays as history."""
    _check_class(label_class)
    if vetter is None:
        raise ValidationError({"vetter": "a vetter's label needs the vetter"})
    candidate = _lock_candidate(candidate)
    previous = Label.objects.filter(
        candidate=candidate, vetter=vetter, source=LabelSource.HUMAN, is_current=True
    ).first()
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    label = Label(
        candidate=candidate,
        vetter=vetter,
        label_class=label_class,
        confidence=confidence,
        note=note,
        source=LabelSource.HUMAN,
        supersedes=previous,
        seconds_spent=None if seconds_spent is None else min(max(0.0, seconds_spent), MAX_SECONDS_SPENT),
    )
    # Fields only: the table's constraints cannot fail here (under the candidate lock the
    # previous current label was just retired; the vetter is set; confidence has validators),
    # and checking them would cost four queries per label. The database still enforces them.
    label.full_clean(validate_constraints=False)
    label.save()
    consensus_update(candidate=candidate)
    logger.info(
        "label created",
        extra={"event": "label_create", "label_id": label.pk, "candidate_id": candidate.pk,
               "vetter_id": getattr(vetter, "pk", None), "label_class": label_class,
               "supersedes_id": getattr(previous, "pk", None)},
    )
    return label


def _supersede(*, candidate: Candidate, source: str, **fields) -> Label:
    """The candidate's new current label of ``source`` (the catalog's or the curator's: one of
    each), the previous one kept as history; then the consensus. Caller holds the candidate lock."""
    current = Label.objects.filter(candidate=candidate, source=source, is_current=True).first()
    if current is not None:
        current.is_current = False
        current.save(update_fields=["is_current"])
    label = Label(candidate=candidate, source=source, supersedes=current, **fields)
    label.full_clean()
    label.save()
    consensus_update(candidate=candidate)
    return label


@transaction.atomic
def catalog_label_upsert(*, candidate: Candidate | int, label_class: str, note: str = "") -> Label:
    """Set the catalog disposition label of a candidate (idempotent for re-imports)."""
    _check_class(label_class)
    candidate = _lock_candidate(candidate)
    current = Label.objects.filter(candidate=candidate, source=LabelSource.CATALOG, is_current=True).first()
    if current is not None and current.label_class == label_class:
        return current
    return _supersede(candidate=candidate, source=LabelSource.CATALOG, label_class=label_class, note=note)


@transaction.atomic
def curator_label_set(*, candidate: Candidate | int, curator, label_class: str, note: str = "") -> Label:
    """A curator's decision for a candidate; it overrides the vetters' majority."""
    if not is_curator(curator):
        raise PermissionDenied("only curators can set a curated label")
    _check_class(label_class)
    candidate = _lock_candidate(candidate)
    return _supersede(candidate=candidate, source=LabelSource.CURATOR, vetter=curator, label_class=label_class,
                      note=note, is_gold=True)


def consensus_update(*, candidate: Candidate) -> Consensus | None:
    """Recompute and store the consensus of one candidate (caller holds the candidate lock)."""
    rule = settings.VETTING_CONSENSUS
    votes = [
        consensus_rule.Vote(label.label_class, label.confidence, label.source, label.is_gold,
                            label.excluded_from_training)
        for label in Label.objects.filter(candidate=candidate, is_current=True).order_by("-created_at", "-id")
    ]
    decision = consensus_rule.decide(
        votes,
        min_labels=rule.get("min_labels", 1),
        curator_overrides=rule.get("curator_overrides", True),
        weight_by_confidence=rule.get("weight_by_confidence", True),
        include_catalog=settings.VETTING_INCLUDE_CATALOG_LABELS,
    )
    if decision is None:
        Consensus.objects.filter(candidate=candidate).delete()
        return None
    obj, _ = Consensus.objects.update_or_create(
        candidate=candidate,
        defaults={
            "label_class": decision.label_class,
            "agreement": decision.agreement,
            "n_labels": decision.n_labels,
            "method": decision.method,
            "needs_review": decision.needs_review,
        },
    )
    return obj


@transaction.atomic
def label_set_gold(*, label: Label, curator, is_gold: bool = True) -> Label:
    """Mark a label as curated ground truth (or unmark it)."""
    if not is_curator(curator):
        raise PermissionDenied("only curators can mark gold labels")
    candidate = _lock_candidate(label.candidate_id)
    label.is_gold = is_gold
    label.save(update_fields=["is_gold"])
    consensus_update(candidate=candidate)
    return label


@transaction.atomic
def vetter_labels_exclude(*, vetter, curator, excluded: bool = True) -> int:
    """Exclude (or re-include) all of a vetter's labels from training; returns how many changed."""
    if not is_curator(curator):
        raise PermissionDenied("only curators can exclude a vetter's labels")
    human_labels = Label.objects.filter(vetter=vetter, source=LabelSource.HUMAN)
    candidate_ids = list(human_labels.values_list("candidate_id", flat=True).distinct())
    changed = human_labels.exclude(excluded_from_training=excluded).update(excluded_from_training=excluded)
    for candidate in Candidate.objects.select_for_update(no_key=True).filter(pk__in=candidate_ids).order_by("pk"):
        consensus_update(candidate=candidate)
    return changed


@transaction.atomic
def dispute_open(
    *,
    candidate: Candidate | int,
    opened_by,
    reason: str,
    label: Label | None = None,
    model_version: str = "",
    disputed_class: str = "",
    proposed_class: str = "",
) -> Dispute:
    """Dispute a label (pass ``label``) or a model prediction (pass ``model_version``)."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": "give a reason for the dispute"})
    candidate = _lock_candidate(candidate)
    if label is not None and label.candidate_id != candidate.pk:
        raise ValidationError({"label": "the label belongs to another candidate"})
    if label is not None and label.vetter_id != opened_by.pk and not selectors.can_see_others_labels(
            user=opened_by, has_labeled=selectors.has_labeled(user=opened_by, candidate_id=candidate.pk)):
        raise ValidationError({"label": "label the candidate yourself before disputing others' labels"})
    dispute = Dispute(
        candidate=candidate,
        subject=Dispute.Subject.LABEL if label is not None else Dispute.Subject.PREDICTION,
        label=label,
        model_version=model_version,
        disputed_class=disputed_class or (label.label_class if label is not None else ""),
        proposed_class=proposed_class,
        reason=reason.strip(),
        opened_by=opened_by,
    )
    dispute.full_clean()
    dispute.save()
    logger.info(
        "dispute opened",
        extra={"event": "dispute_open", "dispute_id": dispute.pk, "candidate_id": candidate.pk,
               "opened_by_id": opened_by.pk, "subject": dispute.subject},
    )
    return dispute


@transaction.atomic
def dispute_comment(*, dispute: Dispute, author, text: str) -> DisputeComment:
    if not text or not text.strip():
        raise ValidationError({"text": "a comment needs text"})
    comment = DisputeComment(dispute=dispute, author=author, text=text.strip())
    comment.full_clean()
    comment.save()
    return comment


@transaction.atomic
def dispute_resolve(*, dispute: Dispute | int, curator, resolved_class: str, resolution: str = "") -> Dispute:
    """Settle a dispute: the decision becomes the candidate's curated label."""
    if not is_curator(curator):
        raise PermissionDenied("only curators can resolve disputes")
    _check_class(resolved_class)
    pk = dispute.pk if isinstance(dispute, Dispute) else dispute
    dispute = Dispute.objects.select_for_update().get(pk=pk)
    if dispute.status == Dispute.Status.RESOLVED:
        raise ValidationError({"status": f"dispute #{dispute.pk} is already resolved"})
    dispute.status = Dispute.Status.RESOLVED
    dispute.resolved_class = resolved_class
    dispute.resolution = resolution
    dispute.resolved_by = curator
    dispute.resolved_at = timezone.now()
    dispute.full_clean()
    dispute.save()
    curator_label_set(
        candidate=dispute.candidate_id, curator=curator, label_class=resolved_class,
        note=f"Dispute #{dispute.pk}: {resolution}".strip(),
    )
    logger.info(
        "dispute resolved",
        extra={"event": "dispute_resolve", "dispute_id": dispute.pk, "candidate_id": dispute.candidate_id,
               "curator_id": curator.pk, "resolved_class": resolved_class},
    )
    return dispute


def consensus_recompute_many(*, candidate_ids: list[int]) -> int:
    """Recompute the consensus of many candidates, one short transaction each."""
    done = 0
    for pk in candidate_ids:
        with transaction.atomic():
            try:
                candidate = _lock_candidate(pk)
            except Candidate.DoesNotExist:
                continue
            consensus_update(candidate=candidate)
            done += 1
    return done
