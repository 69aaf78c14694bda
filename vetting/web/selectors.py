"""Reads that the site pages compose across apps (candidates + reviews + learning).

The domain apps depend one way (``candidates`` <- ``reviews`` <- ``learning``); the pages
need all three at once (queue order from ``learning``, labels from ``reviews``), so the
cross-app reads live here, in the interface layer, and nowhere below it. Every function
issues a fixed number of queries whatever the number of candidates or labels.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Value
from django.db.models import FloatField, CharField

from vetting.candidates.models import Candidate, ImportJob
from vetting.learning.models import ClassifierVersion, Prediction, QueueEntry, TrainingRun
from vetting.reviews.models import Dispute, Label, LabelSource

#: Fields a list row never shows: the big blobs stay in the database.
HEAVY_FIELDS = ("global_view", "local_view", "plot_payload", "features", "catalog_features")

SORTS = {
    # name: (human label, order_by expressions); every order ends with a unique key (stable pages).
    "priority": ("Active-learning priority", (F("queue_priority").desc(nulls_last=True),
                                               F("model_uncertainty").desc(nulls_last=True),
                                               F("created_at").desc(), F("id"))),
    "uncertainty": ("Model uncertainty (high first)", (F("model_uncertainty").desc(nulls_last=True), F("id"))),
    "p_planet_desc": ("P(planet), high first", (F("model_p_planet").desc(nulls_last=True), F("id"))),
    "p_planet_asc": ("P(planet), low first", (F("model_p_planet").asc(nulls_last=True), F("id"))),
    "snr": ("SNR, high first", (F("snr").desc(nulls_last=True), F("id"))),
    "period": ("Period, short first", (F("period_days").asc(nulls_last=True), F("id"))),
    "newest": ("Newest", (F("created_at").desc(), F("id"))),
}


@dataclass(frozen=True)
class QueueFilters:
    """Queue filters as parsed by ``reviews.forms.QueueFilterForm`` (None = no filter)."""

    mission: str | None = None
    disposition: str | None = None
    model_class: str | None = None
    p_min: float | None = None
    p_max: float | None = None
    labeled: str | None = None  # "labeled" (has a team consensus) | "unlabeled"
    disputed: bool = False
    mine: bool = False  # show the candidates I labeled (instead of hiding them)
    sort: str = "priority"


def active_version() -> ClassifierVersion | None:
    """The promoted classifier version (id and name only), or None before the first training."""
    return ClassifierVersion.objects.filter(is_active=True).only("id", "name", "created_at").first()


def _my_label(user) -> Exists:
    return Exists(Label.objects.filter(candidate=OuterRef("pk"), vetter=user, is_current=True,
                                       source=LabelSource.HUMAN))


def queue(*, user, filters: QueueFilters, version: ClassifierVersion | None) -> QuerySet[Candidate]:
    """Candidates to vet, in queue order, with model and queue columns annotated.

    Order ``priority``: the active-learning ``QueueEntry.priority`` (which strategy chose it is
    annotated as ``queue_strategy``), then the active model's uncertainty, then newest.
    Candidates the user already labeled are excluded unless ``filters.mine``.
    """
    qs = Candidate.objects.select_related("target", "consensus").defer(*HEAVY_FIELDS)
    if version is not None:
        qs = qs.annotate(active_prediction=FilteredRelation(
            "predictions", condition=Q(predictions__classifier_version_id=version.pk)))
        qs = qs.annotate(model_p_planet=F("active_prediction__p_planet"),
                         model_uncertainty=F("active_prediction__uncertainty"),
                         model_class=F("active_prediction__predicted_class"))
    else:
        qs = qs.annotate(model_p_planet=Value(None, output_field=FloatField()),
                         model_uncertainty=Value(None, output_field=FloatField()),
                         model_class=Value(None, output_field=CharField()))
    qs = qs.annotate(queue_priority=F("queue_entry__priority"), queue_strategy=F("queue_entry__strategy"),
                     is_mine=_my_label(user),
                     has_open_dispute=Exists(Dispute.objects.filter(candidate=OuterRef("pk"),
                                                                    status=Dispute.Status.OPEN)))
    qs = qs.filter(is_mine=filters.mine)
    if filters.mission:
        qs = qs.filter(target__mission=filters.mission)
    if filters.disposition:
        qs = qs.filter(catalog_disposition__iexact=filters.disposition)
    if filters.model_class:
        qs = qs.filter(model_class=filters.model_class)
    if filters.p_min is not None:
        qs = qs.filter(model_p_planet__gte=filters.p_min)
    if filters.p_max is not None:
        qs = qs.filter(model_p_planet__lte=filters.p_max)
    if filters.labeled == "labeled":
        qs = qs.filter(consensus__isnull=False)
    elif filters.labeled == "unlabeled":
        qs = qs.filter(consensus__isnull=True)
    if filters.disputed:
        qs = qs.filter(has_open_dispute=True)
    return qs.order_by(*SORTS.get(filters.sort, SORTS["priority"])[1])


def queue_counts(*, user) -> dict[str, int]:
    """What is left, in one query: all candidates, those without a team label, those in the
    active-learning queue that the user has not labeled, and those the user labeled."""
    return Candidate.objects.annotate(is_mine=_my_label(user)).aggregate(
        total=Count("pk"),
        without_consensus=Count("pk", filter=Q(consensus__isnull=True)),
        queued_for_me=Count("pk", filter=Q(queue_entry__isnull=False, is_mine=False)),
        mine=Count("pk", filter=Q(is_mine=True)),
    )


def next_candidate_id(*, user, exclude_ids: list[int]) -> int | None:
    """The first candidate in queue order the user has not labeled nor skipped (<= 3 queries).

    Same order as :func:`queue` with no filters, but each fallback is a separate indexed
    query (queue priority index, then (version, uncertainty) index, then created_at index)
    so it stays fast on hundreds of thousands of candidates.
    """
    mine = Label.objects.filter(vetter=user, is_current=True, source=LabelSource.HUMAN,
                                candidate=OuterRef("candidate_id"))
    found = (QueueEntry.objects.exclude(candidate_id__in=exclude_ids).exclude(Exists(mine))
             .order_by("-priority", "candidate_id").values_list("candidate_id", flat=True).first())
    if found is None:
        found = (Prediction.objects.filter(classifier_version__is_active=True)
                 .exclude(candidate_id__in=exclude_ids)
                 .exclude(Exists(mine)).order_by("-uncertainty", "candidate_id")
                 .values_list("candidate_id", flat=True).first())
    if found is None:
        mine_here = Label.objects.filter(vetter=user, is_current=True, source=LabelSource.HUMAN,
                                         candidate=OuterRef("pk"))
        found = (Candidate.objects.exclude(pk__in=exclude_ids).exclude(Exists(mine_here))
                 .order_by("-created_at", "id").values_list("pk", flat=True).first())
    return found


def active_prediction(*, candidate: Candidate) -> Prediction | None:
    """The active classifier version's prediction for a candidate, with its version (1 query)."""
    return (Prediction.objects.filter(candidate=candidate, classifier_version__is_active=True)
            .select_related("classifier_version").first())


def model_classes(*, candidate_ids, version: ClassifierVersion | None) -> dict[int, str]:
    """``{candidate id: predicted class}`` of the active version for the given candidates."""
    if version is None:
        return {}
    return dict(Prediction.objects.filter(classifier_version=version, candidate_id__in=candidate_ids)
                .values_list("candidate_id", "predicted_class"))


def running_jobs(*, limit: int = 5) -> dict[str, list]:
    """Imports and training runs that are queued or running (2 queries), newest first."""
    live = ("queued", "running")
    return {
        "imports": list(ImportJob.objects.filter(state__in=live).order_by("-created_at")[:limit]),
        "training": list(TrainingRun.objects.filter(state__in=live).order_by("-created_at")[:limit]),
    }
