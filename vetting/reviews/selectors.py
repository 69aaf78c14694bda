"""Reads for labels, disputes and the team statistics (no writes here).

Every function issues a fixed number of queries, whatever the number of labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from vetting.candidates.models import HEAVY_FIELDS, Candidate
from vetting.core.roles import is_curator
from vetting.reviews.models import Consensus, Dispute, DisputeComment, Label, LabelSource


def current_labels(*, candidate: Candidate) -> list[Label]:
    """The candidate's current labels (vetters, curator, catalog) with their authors (1 query)."""
    return list(Label.objects.current().filter(candidate=candidate).select_related("vetter")
                .order_by("source", "-created_at"))


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
    return Exists(Label.objects.filter(candidate=OuterRef("pk"), vetter=user.pk, is_current=True,
                                       source=LabelSource.HUMAN))


def has_labeled(*, user, candidate_id: int) -> bool:
    """Whether the user has a current label of their own on the candidate (1 query)."""
    return Label.objects.filter(candidate_id=candidate_id, vetter=user.pk, is_current=True,
                                source=LabelSource.HUMAN).exists()


def can_see_others_labels(*, user, has_labeled: bool) -> bool:
    """The rule itself: others' labels, consensus and disputes of a candidate are visible to
    curators, and to a vetter once ``has_labeled`` (their own current label exists)."""
    return has_labeled or is_curator(user)


def visible_disputes(queryset: QuerySet[Dispute], *, user) -> QuerySet[Dispute]:
    """The disputes of ``queryset`` the user may see: all for curators; for others the ones
    they opened and those on candidates they have labeled (the rule above, as one filter)."""
    if is_curator(user):
        return queryset
    mine = Label.objects.filter(candidate=OuterRef("candidate_id"), vetter=user.pk, is_current=True,
                                source=LabelSource.HUMAN)
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


def label_events(*, vetter_ids: list[int] | None = None) -> list[LabelEvent]:
    """Every human label submission (history included), in time order, 1 query.

    Times are converted to the site's time zone (``settings.TIME_ZONE``) so "hour of day"
    means the team's clock.
    """
    qs = Label.objects.filter(source=LabelSource.HUMAN, excluded_from_training=False)
    if vetter_ids is not None:
        qs = qs.filter(vetter_id__in=vetter_ids)
    rows = qs.order_by("created_at", "id").values_list(
        "vetter_id", "candidate_id", "label_class", "created_at", "seconds_spent", "is_current")
    return [LabelEvent(v, c, k, timezone.localtime(t), s, cur) for v, c, k, t, s, cur in rows]


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
