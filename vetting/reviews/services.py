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
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from classifier.vocabulary import validate_class
from vetting.candidates.models import Candidate
from vetting.core import jobs
from vetting.core.roles import is_curator
from vetting.reviews import consensus as consensus_rule
from vetting.reviews import selectors
from vetting.reviews.models import (
    Assignment,
    CandidateReview,
    Consensus,
    Dispute,
    DisputeComment,
    Label,
    LabelSource,
)

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
    previous = Label.objects.current_by(vetter).filter(candidate=candidate).first()
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    # The blind rule decided what the page showed before this label (a relabel comes after the
    # first label, when the model is always shown).
    shown = not selectors.model_hidden(user=vetter, candidate_id=candidate.pk, has_labeled=previous is not None)
    Assignment.objects.filter(candidate=candidate, vetter=vetter).delete()  # done: no longer holds a place
    label = Label(
        candidate=candidate,
        vetter=vetter,
        label_class=label_class,
        confidence=confidence,
        note=note,
        source=LabelSource.HUMAN,
        supersedes=previous,
        seconds_spent=None if seconds_spent is None else min(max(0.0, seconds_spent), MAX_SECONDS_SPENT),
        model_shown=shown,
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


#: Registered name of the learning task that requests a retrain once enough new consensus labels
#: arrived. Sent by name (reviews never imports learning).
RETRAIN_CHECK_TASK = "vetting.learning.tasks.retrain_if_due"
_RETRAIN_CHECK_KEY = "vetting.reviews.retrain-check-pending"


def _retrain_check_after_commit() -> None:
    """After commit, ask the worker whether a retrain is due, coalesced per process: the first
    consensus change sends one check delayed by ``VETTING_RETRAIN_CHECK_DELAY_S``; changes within
    that window send nothing more, and the check, running after the window, sees them all."""
    delay = max(0.0, float(settings.VETTING_RETRAIN_CHECK_DELAY_S))

    def send() -> None:
        if delay == 0 or cache.add(_RETRAIN_CHECK_KEY, 1, timeout=delay):
            jobs.send(RETRAIN_CHECK_TASK, countdown=delay, retry=False)

    transaction.on_commit(send)


def consensus_update(*, candidate: Candidate, reliability: consensus_rule.Reliability | None = None
                     ) -> Consensus | None:
    """Recompute and store the consensus of one candidate and what it still wants (caller holds
    the candidate lock). ``reliability``: the fitted vetter matrices (default: the newest fit).

    A tie stores no consensus (training never sees a class nobody chose) and marks the
    candidate ``needs_review`` in its :class:`CandidateReview`: it stays open for one more label
    while adaptive overlap allows, and is listed in the curators' adjudication queue.
    """
    labels = list(Label.objects.filter(candidate=candidate, is_current=True).order_by("-created_at", "-id")
                  .only("label_class", "confidence", "source", "is_gold", "excluded_from_training", "vetter_id"))
    votes = [consensus_rule.Vote(label.label_class, label.confidence, label.source, label.is_gold,
                                 label.excluded_from_training, label.vetter_id) for label in labels]
    decision = consensus_rule.decide_configured(
        votes, conf=settings.VETTING_CONSENSUS, include_catalog=settings.VETTING_INCLUDE_CATALOG_LABELS,
        reliability=reliability if reliability is not None else selectors.current_reliability())
    review = _review_update(candidate=candidate, decision=decision,
                            n_labels=sum(v.source == LabelSource.HUMAN and not v.excluded for v in votes))
    # (the extra query only for known answers: every injected candidate is one)
    if review is not None and review.is_known_answer and selectors.is_injected(candidate_id=candidate.pk):
        # an injected known answer: its labels measure the vetters, never make a team label
        Consensus.objects.filter(candidate=candidate).delete()
        return None
    _retrain_check_after_commit()  # enough new labels may make a retrain due (issue 14)
    if decision is None or decision.is_tie:
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
            "posterior": decision.posterior,
        },
    )
    return obj


def _review_update(*, candidate: Candidate, decision: consensus_rule.Decision | None,
                   n_labels: int) -> CandidateReview | None:
    """Store how many labels the candidate wants now (:func:`consensus.labels_wanted`).

    No row is written for a candidate without vetter labels that nothing settled and no curator
    configured (the queue reads "no row" as "wants the default"), so catalog imports stay cheap.
    """
    review = CandidateReview.objects.filter(candidate=candidate).first()
    settled = decision is not None and decision.settled
    if review is None and n_labels == 0 and not settled:
        return None
    review = review or CandidateReview(candidate=candidate)
    required = review.labels_required or int(settings.VETTING_LABELS_PER_CANDIDATE)
    wanted = consensus_rule.labels_wanted(
        decision, n_labels=n_labels, required=required, adaptive=bool(settings.VETTING_OVERLAP_ADAPTIVE),
        max_labels=int(settings.VETTING_OVERLAP_MAX_LABELS), confidence=float(settings.VETTING_OVERLAP_CONFIDENCE))
    review.n_labels = n_labels
    review.labels_wanted = wanted
    review.needs_review = decision is not None and decision.is_tie
    # known answers reach vetters through their share of the queue, never the shared overlap
    review.is_open = not settled and not review.is_known_answer and n_labels < wanted
    review.full_clean(validate_unique=False, validate_constraints=False)
    review.save()
    return review


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


# --- assignment ------------------------------------------------------------------------------------

@transaction.atomic
def assignment_claim(*, vetter, candidate_ids: list[int], limit: int = 1) -> list[int]:
    """Hand ``vetter`` up to ``limit`` of ``candidate_ids`` (queue order kept) that still have
    room under :func:`selectors.with_room_for`; returns the ids handed out.

    The candidates are locked first (``FOR NO KEY UPDATE``, in id order, so two claimers never
    deadlock; a label being written on one of them is waited for, never skipped: skipping would
    let a vetter find an empty queue while a candidate still wants labels), then the room is
    counted again under the lock, so concurrent vetters never get one candidate beyond the
    labels it wants. A vetter's own live assignment is renewed. 5 queries whatever the number
    of ids.
    """
    ids = list(dict.fromkeys(int(i) for i in candidate_ids))
    if not ids or limit <= 0:
        return []
    locked = set(Candidate.objects.select_for_update(no_key=True).filter(pk__in=ids)
                 .order_by("pk").values_list("pk", flat=True))
    open_ids = set(selectors.with_room_for(Candidate.objects.filter(pk__in=locked), user=vetter)
                   .exclude(selectors.labeled_by(vetter)).values_list("pk", flat=True))
    chosen = [pk for pk in ids if pk in open_ids][:limit]
    if chosen:
        expires = timezone.now() + timedelta(seconds=int(settings.VETTING_ASSIGNMENT_TTL_S))
        Assignment.objects.bulk_create(
            [Assignment(candidate_id=pk, vetter=vetter, expires_at=expires) for pk in chosen],
            update_conflicts=True, unique_fields=["candidate", "vetter"], update_fields=["expires_at"])
    return chosen


@transaction.atomic
def assignment_release(*, vetter, candidate_id: int) -> int:
    """Give a candidate back (the vetter skipped it): it no longer counts against its overlap."""
    deleted, _ = Assignment.objects.filter(candidate_id=candidate_id, vetter=vetter).delete()
    return deleted


def assignments_expired_purge() -> int:
    """Delete assignments past their expiry (they already count for nothing; this keeps the table small)."""
    deleted, _ = Assignment.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def labels_required_set(*, candidate_ids: list[int], curator, labels_required: int | None) -> int:
    """A curator's minimum number of independent labels for these candidates (None: back to
    ``VETTING_LABELS_PER_CANDIDATE``); each candidate's overlap is recomputed. Returns how many.

    One short transaction per candidate (a filter can name thousands).
    """
    if not is_curator(curator):
        raise PermissionDenied("only curators can change how many labels a candidate needs")
    if labels_required is not None and not 1 <= int(labels_required) <= 20:
        raise ValidationError({"labels_required": "between 1 and 20 labels"})
    done = 0
    for pk in sorted(set(candidate_ids)):
        with transaction.atomic():
            try:
                candidate = _lock_candidate(pk)
            except Candidate.DoesNotExist:
                continue
            review, _ = CandidateReview.objects.get_or_create(
                candidate=candidate, defaults={"labels_wanted": int(settings.VETTING_LABELS_PER_CANDIDATE)})
            review.labels_required = labels_required
            review.save(update_fields=["labels_required"])
            consensus_update(candidate=candidate)
            done += 1
    return done


# --- vetter reliability --------------------------------------------------------------------------

def reliability_refit(*, recompute: bool = True) -> dict:
    """Fit every vetter's confusion matrix (Dawid-Skene EM over all current vetter labels), store
    it as the newest ``ReliabilityFit`` and, with ``recompute``, recompute the consensus of
    every candidate with a vetter label under it. Returns a summary.

    Fixed truth: candidates with a curator's decision or a gold label (their consensus method is
    ``curator`` or ``gold``) and injected known answers. Known-answer checks do not count toward
    the class priors (they are chosen by class). The fit reads in one query and is CPU work outside any transaction;
    the recompute takes one short transaction per candidate.
    """
    from classifier import reliability as ds
    from classifier.vocabulary import CLASS_CODES
    from vetting.reviews.models import ReliabilityFit

    classes = list(CLASS_CODES)
    index = {c: i for i, c in enumerate(classes)}
    rows = list(Label.objects.filter(is_current=True, source=LabelSource.HUMAN, excluded_from_training=False)
                .values_list("candidate_id", "vetter_id", "label_class"))
    settled = dict(Consensus.objects.filter(method__in=consensus_rule.SETTLED_METHODS)
                   .values_list("candidate_id", "label_class"))
    settled.update(selectors.injected_truth())  # injected known answers: fixed truth too
    item_ids = sorted({r[0] for r in rows})
    vetter_ids = sorted({r[1] for r in rows})
    item_pos = {c: i for i, c in enumerate(item_ids)}
    vetter_pos = {v: i for i, v in enumerate(vetter_ids)}
    fixed = [index.get(settled.get(c, ""), -1) for c in item_ids]
    # Known answers are picked by class (planet-heavy): they anchor the matrices but stay out of
    # the class priors, which set every posterior and so where adaptive overlap stops.
    known = set(selectors.known_answers())
    result = ds.dawid_skene(
        [item_pos[r[0]] for r in rows], [vetter_pos[r[1]] for r in rows], [index[r[2]] for r in rows],
        n_items=len(item_ids), n_raters=len(vetter_ids), n_classes=len(classes), fixed=fixed,
        in_priors=[c not in known for c in item_ids])
    per_vetter = Label.objects.filter(is_current=True, source=LabelSource.HUMAN, excluded_from_training=False)
    counts = dict(per_vetter.values_list("vetter_id").annotate(n=Count("pk")).values_list("vetter_id", "n"))
    fit = ReliabilityFit(
        classes=classes, priors=result.priors.tolist(),
        vetters={str(v): {"confusion": result.confusion[i].round(6).tolist(), "n_labels": counts.get(v, 0),
                          "accuracy": ds.accuracy(result.confusion[i], result.priors),
                          "balanced_accuracy": ds.balanced_accuracy(result.confusion[i])}
                 for v, i in vetter_pos.items()},
        n_items=len(item_ids), n_labels=len(rows), n_fixed=sum(f >= 0 for f in fixed), n_iter=result.n_iter,
        log_likelihood=result.log_likelihood if len(rows) else None,
    )
    fit.full_clean()
    fit.save()
    changed = 0
    if recompute:
        reliability = selectors.current_reliability()
        for pk in item_ids:
            with transaction.atomic():
                try:
                    candidate = _lock_candidate(pk)
                except Candidate.DoesNotExist:
                    continue
                consensus_update(candidate=candidate, reliability=reliability)
                changed += 1
    logger.info("reliability refit", extra={"event": "reliability_refit", "fit_id": fit.pk,
                                            "n_labels": len(rows), "n_vetters": len(vetter_ids)})
    return {"fit_id": fit.pk, "n_labels": len(rows), "n_items": len(item_ids), "n_vetters": len(vetter_ids),
            "n_fixed": fit.n_fixed, "n_iter": result.n_iter, "recomputed": changed}


@transaction.atomic
def known_answer_set(*, candidate_ids: list[int], curator, is_known_answer: bool = True) -> int:
    """Use candidates a curator settled (curator decision or gold label) as known-answer checks
    in vetters' queues (or stop); injected candidates may be switched back on too. Candidates
    without a settled label or a stored truth are skipped. Returns how many."""
    from vetting.reviews.models import KnownAnswer, KnownAnswerSource

    if not is_curator(curator):
        raise PermissionDenied("only curators choose known-answer checks")
    ids = list(candidate_ids)
    if is_known_answer:
        gold = dict(Consensus.objects.filter(candidate_id__in=ids, method__in=consensus_rule.SETTLED_METHODS)
                    .values_list("candidate_id", "label_class"))
        injected = set(selectors.injected_truth(candidate_ids=ids))
        for pk, cls in gold.items():
            if pk not in injected:
                KnownAnswer.objects.update_or_create(candidate_id=pk, defaults={
                    "source": KnownAnswerSource.GOLD, "true_class": cls})
        ids = [pk for pk in ids if pk in gold or pk in injected]
    for pk in ids:
        review, _ = CandidateReview.objects.get_or_create(
            candidate_id=pk, defaults={"labels_wanted": int(settings.VETTING_LABELS_PER_CANDIDATE), "is_open": False})
        review.is_known_answer = is_known_answer
        review.save(update_fields=["is_known_answer"])
    return len(ids)
