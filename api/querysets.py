"""Read-only querysets the API lists and filters (no writes).

The candidate list joins the active model's prediction (one row per candidate at most,
through ``FilteredRelation``) and the queue entry, so filters and orderings on
``p_planet``, ``predicted_class``, ``uncertainty`` and ``priority`` are single SQL queries
that use the ``(classifier_version, p_planet)`` and ``priority`` indexes.
"""
from __future__ import annotations

from django.db.models import F, FilteredRelation, FloatField, Q, QuerySet, Value
from django.db.models import CharField

from vetting.candidates.models import Candidate
from vetting.learning.models import Prediction

#: Columns a listing never sends (arrays and plot data live behind their own endpoints).
HEAVY_CANDIDATE_FIELDS = ("global_view", "local_view", "plot_payload", "features", "catalog_features")


def candidates_annotated(*, active_version_id: int | None, light: bool = True) -> QuerySet[Candidate]:
    """Candidates with ``p_planet``, ``predicted_class``, ``uncertainty`` (active model) and ``priority``."""
    qs = Candidate.objects.select_related("target")
    if light:
        qs = qs.defer(*HEAVY_CANDIDATE_FIELDS)
    if active_version_id is None:
        qs = qs.annotate(
            p_planet=Value(None, output_field=FloatField()),
            predicted_class=Value(None, output_field=CharField()),
            uncertainty=Value(None, output_field=FloatField()),
        )
    else:
        qs = qs.annotate(
            active_prediction=FilteredRelation(
                "predictions", condition=Q(predictions__classifier_version_id=active_version_id)
            )
        ).annotate(
            p_planet=F("active_prediction__p_planet"),
            predicted_class=F("active_prediction__predicted_class"),
            uncertainty=F("active_prediction__uncertainty"),
        )
    return qs.annotate(priority=F("queue_entry__priority"))


def predictions_of_version(version_id: int | None) -> QuerySet[Prediction]:
    """Predictions of one classifier version (empty when there is none)."""
    if version_id is None:
        return Prediction.objects.none()
    return Prediction.objects.filter(classifier_version_id=version_id).select_related(
        "candidate", "classifier_version"
    ).only(
        "id", "candidate_id", "candidate__catalog_id", "classifier_version_id", "classifier_version__name",
        "probabilities", "predicted_class", "p_planet", "p_triage", "uncertainty", "disagreement", "created_at",
    )
