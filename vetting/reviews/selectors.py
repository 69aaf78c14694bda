"""Reads for labels, disputes and the team statistics (no writes here).

Every function issues a fixed number of queries, whatever the number of labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from vetting.candidates.models import Candidate
from vetting.reviews.models import Consensus, Dispute, DisputeComment, Label, LabelSource
from vetting.web.roles import is_curator


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


def can_see_others_labels(*, user, my_label: Label | None) -> bool:
    """Others' labels and the consensus stay hidden until you have labeled (no anchoring);
    curators always see them."""
    return my_label is not None or is_curator(user)


def candidate_disputes(*, candidate: Candidate) -> list[Dispute]:
    """All disputes of a candidate, open first, with openers and comments (2 queries)."""
    comments = Prefetch("comments", queryset=DisputeComment.objects.select_related("author"))
    return list(Dispute.objects.filter(candidate=candidate).select_related("opened_by", "resolved_by", "label__vetter")
                .prefetch_related(comments).order_by("-status", "-created_at"))


def disputes_for(*, user, status: str | None = Dispute.Status.OPEN) -> QuerySet[Dispute]:
    """The adjudication queue: every dispute for curators, the user's own for vetters.

    Oldest open dispute first, so nothing waits forever.
    """
    qs = Dispute.objects.select_related("candidate", "candidate__target", "opened_by", "resolved_by",
                                        "label__vetter")
    qs = qs.defer(*(f"candidate__{f}" for f in ("global_view", "local_view", "plot_payload", "features",
                                                 "catalog_features")))
    if not is_curator(user):
        qs = qs.filter(opened_by=user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("created_at") if status == Dispute.Status.OPEN else qs.order_by("-created_at")


def dispute_detail(*, pk: int) -> Dispute:
    """One dispute with its candidate and comments (2 queries); raises Dispute.DoesNotExist."""
    comments = Prefetch("comments", queryset=DisputeComment.objects.select_related("author"))
    return (Dispute.objects.select_related("candidate", "candidate__target", "opened_by", "resolved_by",
                                           "label__vetter")
            .prefetch_related(comments).get(pk=pk))


def can_view_dispute(*, user, dispute: Dispute) -> bool:
    """Curators see all; others see their own disputes and those on candidates they labeled."""
    if is_curator(user) or dispute.opened_by_id == user.pk:
        return True
    return Label.objects.filter(candidate_id=dispute.candidate_id, vetter=user, source=LabelSource.HUMAN,
                                is_current=True).exists()


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
