"""django-filter FilterSets: the query parameters each list endpoint accepts."""
from __future__ import annotations

import django_filters as filters
from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate, ImportJob, Mission, SourceCatalog, Target
from vetting.learning.models import Prediction, TrainingRun
from vetting.reviews.models import Dispute, Label, LabelSource


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(filters.TypedChoiceFilter):
    """``true``/``false`` only: a typo is a 400, never a silently ignored filter."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(**kwargs)


strict_boolean = StrictBooleanFilter


def _current_vetting_labels():
    """Current labels by people (vetters or curators), not catalog dispositions."""
    return Label.objects.filter(
        candidate=OuterRef("pk"), is_current=True, source__in=[LabelSource.HUMAN, LabelSource.CURATOR]
    )


class TargetFilter(filters.FilterSet):
    mission = filters.ChoiceFilter(choices=Mission.choices)
    catalog_id = filters.CharFilter(help_text="exact KIC/TIC id with prefix, e.g. 'KIC 11446443'")

    class Meta:
        model = Target
        fields = ["mission", "catalog_id"]


class CandidateFilter(filters.FilterSet):
    mission = filters.ChoiceFilter(field_name="target__mission", choices=Mission.choices)
    source_catalog = filters.ChoiceFilter(choices=SourceCatalog.choices)
    catalog_id = filters.CharFilter(help_text="exact catalog id, e.g. K00752.01 or TOI-1234.01")
    target = filters.NumberFilter(field_name="target_id", help_text="target id")
    catalog_disposition = filters.CharFilter(help_text="exact catalog disposition, e.g. CONFIRMED, FALSE POSITIVE")
    model_class = filters.ChoiceFilter(
        field_name="predicted_class", choices=CLASSES, help_text="class predicted by the active model"
    )
    p_planet_min = filters.NumberFilter(field_name="p_planet", lookup_expr="gte", help_text="active model p_planet >=")
    p_planet_max = filters.NumberFilter(field_name="p_planet", lookup_expr="lte", help_text="active model p_planet <=")
    labeled = strict_boolean(method="filter_labeled", help_text="has a current vetter or curator label")
    labeled_by_me = strict_boolean(method="filter_labeled_by_me", help_text="has your current label")
    disputed = strict_boolean(method="filter_disputed", help_text="has an open dispute")

    class Meta:
        model = Candidate
        fields = ["mission", "source_catalog", "catalog_id", "target", "catalog_disposition"]

    def filter_labeled(self, queryset, name, value):
        exists = Exists(_current_vetting_labels())
        return queryset.filter(exists if value else ~exists)

    def filter_labeled_by_me(self, queryset, name, value):
        exists = Exists(_current_vetting_labels().filter(vetter=self.request.user, source=LabelSource.HUMAN))
        return queryset.filter(exists if value else ~exists)

    def filter_disputed(self, queryset, name, value):
        exists = Exists(Dispute.objects.filter(candidate=OuterRef("pk"), status=Dispute.Status.OPEN))
        return queryset.filter(exists if value else ~exists)


class PredictionFilter(filters.FilterSet):
    candidate = filters.NumberFilter(field_name="candidate_id")
    predicted_class = filters.ChoiceFilter(choices=CLASSES)
    p_planet_min = filters.NumberFilter(field_name="p_planet", lookup_expr="gte")
    p_planet_max = filters.NumberFilter(field_name="p_planet", lookup_expr="lte")
    uncertainty_min = filters.NumberFilter(field_name="uncertainty", lookup_expr="gte")

    class Meta:
        model = Prediction
        fields = ["candidate", "predicted_class"]


class LabelFilter(filters.FilterSet):
    candidate = filters.NumberFilter(field_name="candidate_id")
    vetter = filters.CharFilter(field_name="vetter__username", help_text="username")
    label_class = filters.ChoiceFilter(choices=CLASSES)
    source = filters.ChoiceFilter(choices=LabelSource.choices)
    is_current = strict_boolean()

    class Meta:
        model = Label
        fields = ["candidate", "vetter", "label_class", "source", "is_current"]


class DisputeFilter(filters.FilterSet):
    candidate = filters.NumberFilter(field_name="candidate_id")
    status = filters.ChoiceFilter(choices=Dispute.Status.choices)
    subject = filters.ChoiceFilter(choices=Dispute.Subject.choices)

    class Meta:
        model = Dispute
        fields = ["candidate", "status", "subject"]


class TrainingRunFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=TrainingRun.State.choices)

    class Meta:
        model = TrainingRun
        fields = ["state"]


class ImportJobFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ImportJob.State.choices)
    kind = filters.ChoiceFilter(choices=ImportJob.Kind.choices)

    class Meta:
        model = ImportJob
        fields = ["state", "kind"]
