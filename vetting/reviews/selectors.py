"""Reads for labels, disputes and the team statistics (no writes here).

Every function issues a fixed number of queries, whatever the number of labels.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from vetting.candidates.models import HEAVY_FIELDS, Candidate
from vetting.core.roles import is_curator
from vetting.reviews.consensus import Reliability
from vetting.reviews.models import (
    Assignment,
    CandidateReview,
    Consensus,
    Dispute,
    DisputeComment,
    KnownAnswer,
    KnownAnswerSource,
    Label,
    LabelSource,
    ReliabilityFit,
)


def my_current_label(labels: list[Label], user) -> Label | None:
    """The user's own current human label among ``labels`` (no query)."""
    for label in labels:
        if label.source == LabelSource.HUMAN and label.vetter_id == user.pk:
            return label
    return None


# --- the visibility rule ---------------------------------------------------------------------
# Others' labels, the consensus and disputes stay hidden from a vetter until they have labeled
# the candidate themselves (so nobody anchors on a colleague's call); curators see everything.
# The site pages and the API both ask these functions; nothing else decides it.

def labeled_by(user) -> Exists:
    """``EXISTS`` the user's current human label on the candidate (for Candidate querysets)."""
    return Exists(Label.objects.current_by(user).filter(candidate=OuterRef("pk")))


def has_labeled(*, user, candidate_id: int) -> bool:
    """Whether the user has a current label of their own on the candidate (1 query)."""
    return Label.objects.current_by(user).filter(candidate_id=candidate_id).exists()


def can_see_others_labels(*, user, has_labeled: bool) -> bool:
    """The rule itself: others' labels, consensus and disputes of a candidate are visible to
    curators, and to a vetter once ``has_labeled`` (their own current label exists)."""
    return has_labeled or is_curator(user)


def visible_disputes(queryset: QuerySet[Dispute], *, user) -> QuerySet[Dispute]:
    """The disputes of ``queryset`` the user may see: all for curators; for others the ones
    they opened and those on candidates they have labeled (the rule above, as one filter)."""
    if is_curator(user):
        return queryset
    mine = Label.objects.current_by(user).filter(candidate=OuterRef("candidate_id"))
    return queryset.filter(Q(opened_by=user.pk) | Q(Exists(mine)))


def can_view_dispute(*, user, dispute: Dispute) -> bool:
    """Whether :func:`visible_disputes` lets the user see this dispute (at most 1 query)."""
    if is_curator(user) or dispute.opened_by_id == user.pk:
        return True
    return visible_disputes(Dispute.objects.filter(pk=dispute.pk), user=user).exists()


def visible_consensus(*, user, candidate: Candidate, has_labeled: bool) -> Consensus | None:
    """The candidate's consensus if the rule lets the user see it, else None (at most 1 query;
    none when ``candidate`` came with ``select_related("consensus")``)."""
    if not can_see_others_labels(user=user, has_labeled=has_labeled):
        return None
    try:
        return candidate.consensus
    except Consensus.DoesNotExist:
        return None


# --- the blind rule ------------------------------------------------------------------------------
# Whether the model's prediction is on a candidate's page (and in the API's candidate, queue and
# prediction answers) before the user has labeled it. The site and the API both ask this function.

BLIND_MODES = ("off", "blind", "experiment")


def blind_coin(*, user_id: int, candidate_id: int) -> bool:
    """The experiment's stable coin: True (model hidden) on about half of each vetter's
    candidates, the same answer on every request (a hash, not a stored draw)."""
    seed = settings.VETTING_TRAINING_SEED
    digest = hashlib.blake2b(f"{seed}:{user_id}:{candidate_id}".encode(), digest_size=8).digest()
    return digest[0] & 1 == 0


def model_hidden(*, user, candidate_id: int, has_labeled: bool | Callable[[], bool]) -> bool:
    """The rule: with ``VETTING_BLIND_MODE`` "blind" the model's prediction is hidden from a
    vetter until they have labeled the candidate; with "experiment" on a random half
    (:func:`blind_coin`) of each vetter's candidates; "off" never. Curators always see it
    (they settle disputes about it), as with the visibility rule. ``has_labeled`` may be a
    callable (e.g. a query), asked only when the answer depends on it."""
    mode = settings.VETTING_BLIND_MODE
    if mode == "off" or is_curator(user):
        return False
    if has_labeled() if callable(has_labeled) else has_labeled:
        return False
    if mode == "blind":
        return True
    return blind_coin(user_id=user.pk, candidate_id=candidate_id)


# --- assignment and overlap -----------------------------------------------------------------------
# A candidate is open to a vetter while it still wants labels (CandidateReview.is_open; no row:
# wants VETTING_LABELS_PER_CANDIDATE) and its labels plus the live assignments of *other*
# vetters leave room, or the vetter already holds an assignment on it. The queue page, the
# "next" button, /api/queue/ and services.assignment_claim all use this one rule.

def with_room_for(queryset: QuerySet[Candidate], *, user) -> QuerySet[Candidate]:
    """The candidates of ``queryset`` that may be handed to ``user`` now (one filter, no query)."""
    now = timezone.now()
    live = Assignment.objects.filter(candidate=OuterRef("pk"), expires_at__gt=now)
    others = Subquery(live.exclude(vetter=user.pk).order_by().values("candidate")
                      .annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField())
    default = int(settings.VETTING_LABELS_PER_CANDIDATE)
    return queryset.alias(
        _room_taken=Coalesce(F("review__n_labels"), Value(0)) + Coalesce(others, Value(0)),
        _room_wanted=Coalesce(F("review__labels_wanted"), Value(default)),
    ).filter(
        Q(review__isnull=True) | Q(review__is_open=True),
        Q(Exists(live.filter(vetter=user.pk))) | Q(_room_taken__lt=F("_room_wanted")),
    )


def current_reliability() -> Reliability:
    """The newest Dawid-Skene fit as a :class:`~vetting.reviews.consensus.Reliability` (1 query),
    or the unfitted prior (every vetter equal) before the first fit."""
    fit = ReliabilityFit.objects.only("classes", "priors", "vetters").order_by("-created_at", "-id").first()
    if fit is None or not fit.classes:
        return Reliability.unfitted()
    return Reliability(tuple(fit.classes), np.asarray(fit.priors, dtype=float),
                       {int(v): np.asarray(d["confusion"], dtype=float) for v, d in fit.vetters.items()})


def latest_reliability_fit() -> ReliabilityFit | None:
    return ReliabilityFit.objects.order_by("-created_at", "-id").first()


def ties_for_adjudication() -> QuerySet[CandidateReview]:
    """Candidates whose labels tie (no consensus) waiting for a curator, oldest first."""
    return (CandidateReview.objects.filter(needs_review=True).select_related("candidate")
            .only("candidate_id", "n_labels", "labels_wanted", "is_open", "updated_at", "candidate__catalog_id")
            .order_by("updated_at"))


def labels_with_history(*, candidate: Candidate) -> list[Label]:
    """Every label of the candidate, current and superseded, newest first, with its author and
    the label it replaced (``supersedes``), 1 query. Not filtered: pass it through
    :func:`visible_history` before showing it; its current ones are :func:`current_labels`."""
    return list(Label.objects.filter(candidate=candidate).select_related("vetter", "supersedes")
                .order_by("-created_at", "-id"))


def current_of(history: list[Label]) -> list[Label]:
    """The current labels among :func:`labels_with_history` in :func:`current_labels` order (no query)."""
    current = [label for label in history if label.is_current]
    current.sort(key=lambda label: label.created_at, reverse=True)
    return sorted(current, key=lambda label: label.source)  # stable: newest first within a source


def visible_history(history: list[Label], *, user, has_labeled: bool) -> list[Label]:
    """The label history the rule above lets the user see: everyone's when
    :func:`can_see_others_labels`, else only the user's own labels (no query)."""
    if can_see_others_labels(user=user, has_labeled=has_labeled):
        return history
    return [label for label in history if label.vetter_id == user.pk and label.source == LabelSource.HUMAN]


def labeled_since(*, user, since: datetime) -> tuple[int, int | None]:
    """``(how many candidates the user labeled since ``since``, the last one's id)``, 1 query of one
    column per label of that stretch; a changed label counts once."""
    ids = list(Label.objects.filter(vetter=user.pk, source=LabelSource.HUMAN, created_at__gte=since)
               .order_by("-created_at", "-id").values_list("candidate_id", flat=True))
    return len(set(ids)), (ids[0] if ids else None)


def has_open_dispute() -> Exists:
    """``EXISTS`` an open dispute on the candidate (for Candidate querysets)."""
    return Exists(Dispute.objects.filter(candidate=OuterRef("pk"), status=Dispute.Status.OPEN))


def candidate_disputes(*, candidate: Candidate, user) -> list[Dispute]:
    """The disputes of a candidate the user may see, open first, with openers and comments
    (2 queries)."""
    comments = Prefetch("comments", queryset=DisputeComment.objects.select_related("author"))
    qs = visible_disputes(Dispute.objects.filter(candidate=candidate), user=user)
    return list(qs.select_related("opened_by", "resolved_by", "label__vetter").prefetch_related(comments)
                .order_by("-status", "-created_at"))


def disputes_for(*, user, status: str | None = Dispute.Status.OPEN) -> QuerySet[Dispute]:
    """The adjudication queue: the disputes the user may see (:func:`visible_disputes`).

    Oldest open dispute first, so nothing waits forever.
    """
    qs = visible_disputes(Dispute.objects.all(), user=user).select_related(
        "candidate", "candidate__target", "opened_by", "resolved_by", "label__vetter")
    qs = qs.defer(*(f"candidate__{f}" for f in HEAVY_FIELDS))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("created_at") if status == Dispute.Status.OPEN else qs.order_by("-created_at")


def dispute_detail(*, pk: int) -> Dispute:
    """One dispute with its candidate and comments (2 queries); raises Dispute.DoesNotExist."""
    comments = Prefetch("comments", queryset=DisputeComment.objects.select_related("author"))
    return (Dispute.objects.select_related("candidate", "candidate__target", "opened_by", "resolved_by",
                                           "label__vetter")
            .prefetch_related(comments).get(pk=pk))


def last_labeled_candidate_id(*, user, exclude_id: int | None = None) -> int | None:
    """The candidate the user labeled most recently (for "previous"), 1 query."""
    qs = Label.objects.filter(vetter=user, source=LabelSource.HUMAN)
    if exclude_id is not None:
        qs = qs.exclude(candidate_id=exclude_id)
    return qs.order_by("-created_at", "-id").values_list("candidate_id", flat=True).first()


# --- team statistics -----------------------------------------------------------------------

@dataclass(frozen=True)
class LabelEvent:
    """One human label submission (current or superseded), as plain values."""

    vetter_id: int
    candidate_id: int
    label_class: str
    created_at: datetime
    seconds_spent: float | None
    is_current: bool
    model_shown: bool | None = None


def label_events(*, vetter_ids: list[int] | None = None) -> list[LabelEvent]:
    """Every human label submission (history included), in time order, 1 query.

    Times are converted to the site's time zone (``settings.TIME_ZONE``) so "hour of day"
    means the team's clock.
    """
    qs = Label.objects.filter(source=LabelSource.HUMAN, excluded_from_training=False)
    if vetter_ids is not None:
        qs = qs.filter(vetter_id__in=vetter_ids)
    rows = qs.order_by("created_at", "id").values_list(
        "vetter_id", "candidate_id", "label_class", "created_at", "seconds_spent", "is_current", "model_shown")
    return [LabelEvent(v, c, k, timezone.localtime(t), s, cur, shown) for v, c, k, t, s, cur, shown in rows]


def vetter_names(*, vetter_ids) -> dict[int, str]:
    return dict(get_user_model().objects.filter(pk__in=vetter_ids).values_list("pk", "username"))


def consensus_classes(*, candidate_ids) -> dict[int, str]:
    """``{candidate id: consensus class}`` for the given candidates (1 query)."""
    return dict(Consensus.objects.filter(candidate_id__in=candidate_ids).values_list("candidate_id", "label_class"))


def labeled_candidate_ids(*, vetter_ids: list[int] | None = None):
    """A subquery of the candidates with a current human label (by the given vetters)."""
    qs = Label.objects.filter(source=LabelSource.HUMAN, is_current=True)
    if vetter_ids is not None:
        qs = qs.filter(Q(vetter_id__in=vetter_ids))
    return qs.values("candidate_id")


def settled_classes() -> dict[int, str]:
    """``{candidate id: class}`` of candidates a curator decided or a gold label settled (1 query):
    the fixed truth of the reliability fit and of "vs consensus"."""
    return dict(Consensus.objects.filter(method__in=("curator", "gold")).values_list("candidate_id", "label_class"))


def known_answers() -> dict[int, tuple[str, float | None]]:
    """``{candidate id: (true class, SNR)}`` of the known-answer candidates in use (1 query):
    curator gold (the settled consensus, the catalog SNR) and injected signals (the injected
    class and expected SNR)."""
    rows = (CandidateReview.objects.filter(is_known_answer=True)
            .filter(Q(candidate__consensus__isnull=False) | Q(candidate__known_answer__source="injected"))
            .values_list("candidate_id", "candidate__consensus__label_class", "candidate__snr",
                         "candidate__known_answer__source", "candidate__known_answer__true_class",
                         "candidate__known_answer__injected_snr"))
    return {pk: ((true, snr_in) if source == "injected" else (cls, snr))
            for pk, cls, snr, source, true, snr_in in rows}


def known_answer_report(*, user) -> dict:
    """Each vetter's score on the known answers and planet recall against SNR, as the team page
    and ``/api/team/reliability/`` show them (curators: every vetter; a vetter: themselves;
    the SNR curve pools the vetters shown). 3 queries.

    ``{"n_known", "n_injected", "vetters": [{"vetter_id", "username", "score": KnownAnswerScore}],
    "snr_recall": [(bin name, Proportion)]}``.
    """
    from vetting.reviews import stats

    known = known_answers()
    labels = Label.objects.human().current().filter(candidate_id__in=list(known))
    if not is_curator(user):
        labels = labels.filter(vetter=user.pk)
    answers: dict[int, dict[int, str]] = {}
    for vid, cid, cls in labels.values_list("vetter_id", "candidate_id", "label_class"):
        answers.setdefault(vid, {})[cid] = cls
    names = vetter_names(vetter_ids=list(answers))
    rows, snr_rows = [], []
    for vid, said in answers.items():
        rows.append({"vetter_id": vid, "username": names.get(vid, f"#{vid}"),
                     "score": stats.known_answer_score(said, {cid: known[cid][0] for cid in said})})
        snr_rows += [(known[cid][1], known[cid][0], cls) for cid, cls in said.items()]
    n_injected = KnownAnswer.objects.filter(source=KnownAnswerSource.INJECTED, candidate_id__in=list(known)).count()
    return {"n_known": len(known), "n_injected": n_injected, "vetters": sorted(rows, key=lambda r: r["username"]),
            "snr_recall": stats.recall_by_snr(snr_rows)}


def injected_ids() -> QuerySet:
    """A subquery of the ids of candidates made by injecting a synthetic signal: never a real
    target (training, exports and catalog statistics leave them out)."""
    return KnownAnswer.objects.filter(source=KnownAnswerSource.INJECTED).values("candidate_id")


def is_injected(*, candidate_id: int) -> bool:
    """Whether the candidate is an injected known answer (1 query)."""
    return KnownAnswer.objects.filter(candidate_id=candidate_id, source=KnownAnswerSource.INJECTED).exists()


def injected_truth(*, candidate_ids=None) -> dict[int, str]:
    """``{candidate id: injected class}`` of injected known answers (of ``candidate_ids``) (1 query)."""
    qs = KnownAnswer.objects.filter(source=KnownAnswerSource.INJECTED)
    if candidate_ids is not None:
        qs = qs.filter(candidate_id__in=list(candidate_ids))
    return dict(qs.values_list("candidate_id", "true_class"))


def never_flagged_ids(*, candidate_ids: list[int]) -> set[int]:
    """Of ``candidate_ids``, those whose label is the truth and must never be flagged as a
    suspected mislabel: settled by a curator or a gold label, or known-answer checks (2 queries)."""
    settled = set(Consensus.objects.filter(candidate_id__in=candidate_ids, method__in=("curator", "gold"))
                  .values_list("candidate_id", flat=True))
    known = set(CandidateReview.objects.filter(candidate_id__in=candidate_ids, is_known_answer=True)
                .values_list("candidate_id", flat=True))
    return settled | known


def mislabel_reason(*, given_class: str, suggested_class: str, p_given: float) -> str:
    """Why a candidate was flagged, in words (the queue, the API)."""
    return (f"The model, cross-validated without this candidate, gives the team's class {given_class} "
            f"only {p_given:.0%} and prefers {suggested_class}: re-vet it.")


# --- known-answer checks ------------------------------------------------------------------------

def known_answer_due(*, user) -> bool:
    """Whether the user's next candidate should be a known-answer check: every
    ``round(1 / VETTING_KNOWN_ANSWER_SHARE)``-th label (1 query)."""
    share = float(settings.VETTING_KNOWN_ANSWER_SHARE)
    if share <= 0:
        return False
    every = max(1, round(1.0 / share))
    n = Label.objects.current_by(user).count()
    return (n + 1) % every == 0


def next_known_answer(*, user, exclude_ids=()) -> int | None:
    """A known-answer candidate the user has not labeled (nor skipped), in a per-user shuffled
    order so vetters do not all meet the same check first (1 query), or None."""
    qs = (CandidateReview.objects.filter(is_known_answer=True).exclude(candidate_id__in=list(exclude_ids))
          .exclude(Exists(Label.objects.current_by(user).filter(candidate=OuterRef("candidate_id"))))
          .values_list("candidate_id", flat=True)[:200])
    ids = list(qs)
    if not ids:
        return None
    return min(ids, key=lambda pk: hashlib.blake2b(f"{user.pk}:{pk}".encode(), digest_size=8).digest())


def reliability_for(*, user, fit: ReliabilityFit | None = None) -> list[dict]:
    """Each vetter's estimated reliability from the newest fit (or ``fit``), as the team page and
    ``/api/team/reliability/`` show it: curators see every vetter, a vetter only themselves
    (2 queries). Items: ``vetter_id``, ``username``, ``n_labels``, ``accuracy``,
    ``balanced_accuracy``, ``planet_recall`` (0..1), ``confusion`` ``{true: {says: P}}``, and
    ``matrix`` (rows of (true class, [P(says c) for c in the fit's classes])), by username."""
    fit = fit or latest_reliability_fit()
    if fit is None:
        return []
    classes = list(fit.classes)
    ids = [int(v) for v in fit.vetters]
    if not is_curator(user):
        ids = [v for v in ids if v == user.pk]
    names = vetter_names(vetter_ids=ids)
    pc = classes.index("PC") if "PC" in classes else None
    rows = []
    for vid in ids:
        data = fit.vetters[str(vid)]
        matrix = data["confusion"]
        rows.append({
            "vetter_id": vid, "username": names.get(vid, f"#{vid}"), "n_labels": data.get("n_labels", 0),
            "accuracy": data.get("accuracy"), "balanced_accuracy": data.get("balanced_accuracy"),
            "planet_recall": matrix[pc][pc] if pc is not None else None,
            "confusion": {t: dict(zip(classes, row)) for t, row in zip(classes, matrix)},
            "matrix": list(zip(classes, matrix)),
        })
    return sorted(rows, key=lambda r: r["username"])
