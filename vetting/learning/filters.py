"""The one filter vocabulary for candidates, used by the queue page and ``/api/candidates/``
alike (same names, same meanings), and the filters of prediction and training-run lists.

A ``CandidateFilter`` expects a queryset from ``Candidate.objects.with_active_prediction(...)``
(the model columns it filters on are those annotations).
"""
from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import F, OrderBy

from classifier import flags as flagmod
from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate, Mission, SourceCatalog
from vetting.core.filters import IdFilter, StrictBooleanFilter, exists_filter
from vetting.learning.models import Prediction, TrainingRun
from vetting.reviews import selectors as review_selectors

#: Public ordering names -> the candidate column or annotation they sort on.
ORDERING_FIELDS = {
    "priority": "queue_priority",  # the active-learning queue (``with_queue``)
    "uncertainty": "uncertainty",  # the active model (``with_active_prediction``)
    "p_planet": "p_planet",
    "snr": "snr",
    "period_days": "period_days",
    "created_at": "created_at",
    "id": "id",
}
#: Orderings the queue page offers, with their labels (any ``ORDERING_FIELDS`` name with or
#: without ``-`` is accepted on the site and the API).
ORDERING_CHOICES = (
    ("-priority", "Active-learning priority"),
    ("-uncertainty", "Model uncertainty, high first"),
    ("-p_planet", "P(planet), high first"),
    ("p_planet", "P(planet), low first"),
    ("-snr", "SNR, high first"),
    ("period_days", "Period, short first"),
    ("-created_at", "Newest"),
)
_ALL_ORDERINGS = tuple((f"{sign}{name}", f"{sign}{name}") for name in ORDERING_FIELDS for sign in ("", "-"))


def order_by(ordering: str) -> tuple[OrderBy | F, ...]:
    """``order_by`` expressions of a public ordering name, nulls last, ending with a unique key
    (stable pages). ``-priority`` breaks ties by the model's uncertainty, then newest."""
    name = ordering.lstrip("-")
    column = ORDERING_FIELDS.get(name, "created_at")
    descending = ordering.startswith("-") or name not in ORDERING_FIELDS
    key = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
    if name == "id":
        return (key,)
    if name == "priority":
        return (key, F("uncertainty").desc(nulls_last=True), F("created_at").desc(), F("id"))
    return (key, F("id"))


def order_terms(ordering: str) -> list[str]:
    """:func:`order_by` as ``order_by()`` strings (``"-uncertainty"``, ``"id"``) for readers that
    need field names, such as the API's cursor pagination (its position is the first term). Nulls
    order as the database puts them; the API leaves nulls of a nullable ordering out."""
    terms = []
    for expression in order_by(ordering):
        descending = getattr(expression, "descending", False)
        name = getattr(expression, "expression", expression).name
        terms.append(f"{'-' if descending else ''}{name}")
    return terms


class CandidateFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        lo, hi = data.get("p_planet_min"), data.get("p_planet_max")
        if lo is not None and hi is not None and lo > hi:
            raise forms.ValidationError("p_planet_min (P(planet) ≥) must not exceed p_planet_max (P(planet) ≤).")
        return data


class CandidateFilter(filters.FilterSet):
    """Candidate filters of the queue page and the API; ``user`` (default ``request.user``) is the
    vetter ``labeled_by_me`` refers to."""

    mission = filters.ChoiceFilter(field_name="target__mission", choices=Mission.choices, label="Mission",
                                   empty_label="All missions")
    source_catalog = filters.ChoiceFilter(choices=SourceCatalog.choices, label="Catalog")
    catalog_id = filters.CharFilter(help_text="exact catalog id, e.g. K00752.01 or TOI-1234.01")
    target = IdFilter(field_name="target_id", help_text="target id")
    catalog_disposition = filters.CharFilter(lookup_expr="iexact", max_length=32, label="Catalog disposition",
                                             help_text="catalog disposition, any case, e.g. CONFIRMED")
    model_class = filters.ChoiceFilter(field_name="predicted_class", choices=CLASSES, label="Model class",
                                       empty_label="Any", help_text="class predicted by the active model")
    p_planet_min = filters.NumberFilter(field_name="p_planet", lookup_expr="gte", min_value=0, max_value=1,
                                        label="P(planet) ≥", help_text="active model p_planet >=")
    p_planet_max = filters.NumberFilter(field_name="p_planet", lookup_expr="lte", min_value=0, max_value=1,
                                        label="P(planet) ≤", help_text="active model p_planet <=")
    labeled = StrictBooleanFilter(method="filter_labeled", label="Team label",
                                  help_text="has a team label (a consensus of current vetter/curator labels)")
    labeled_by_me = StrictBooleanFilter(method="filter_labeled_by_me", label="Labeled by me",
                                        help_text="has your current label")
    disputed = StrictBooleanFilter(method="filter_disputed", label="Open dispute", help_text="has an open dispute")
    failed_flag = filters.ChoiceFilter(choices=tuple((n, n.replace("_", " ")) for n in flagmod.FLAG_NAMES),
                                       method="filter_failed_flag", label="Failed flag", empty_label="Any",
                                       help_text="fails this vetting flag (classifier.flags): "
                                                 + ", ".join(flagmod.FLAG_NAMES))
    ordering = filters.ChoiceFilter(choices=_ALL_ORDERINGS, method="keep", label="Sort", empty_label=None,
                                    help_text="-priority (queue order), -uncertainty, -p_planet, p_planet, -snr, "
                                              "period_days, -created_at, -id; nulls last")

    class Meta:
        model = Candidate
        fields: list[str] = []
        form = CandidateFilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, user=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.user = user if user is not None else getattr(request, "user", None)

    def get_form_class(self):
        """The form class, built once per FilterSet class (django-filter builds a new class on
        every request; its fields are copied per form instance, so sharing the class is safe)."""
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_labeled(self, queryset, name, value):
        return queryset.filter(consensus__isnull=not value)

    def filter_labeled_by_me(self, queryset, name, value):
        return queryset.filter(exists_filter(review_selectors.labeled_by(self.user), value))

    def filter_disputed(self, queryset, name, value):
        return queryset.filter(exists_filter(review_selectors.has_open_dispute(), value))

    def filter_failed_flag(self, queryset, name, value):
        """Candidates that fail the flag ``value``: one integer test on the stored bitmask
        ``Candidate.failed_flags`` (bit ``classifier.flags.FLAG_BITS[value]``, written with the
        features by :func:`vetting.candidates.features.features_set`), in SQL on SQLite and
        PostgreSQL alike. Candidates never evaluated (mask null) do not match; ``manage.py
        recompute_products --flags-only`` fills the mask of older rows."""
        return queryset.alias(_failed_bit=F("failed_flags").bitand(flagmod.flag_bit(value))).filter(
            _failed_bit__gt=0)

    def keep(self, queryset, name, value):
        """Ordering is applied by the reader (queue tiers on the site, the cursor in the API)."""
        return queryset


class PredictionFilter(filters.FilterSet):
    candidate = IdFilter(field_name="candidate_id")
    predicted_class = filters.ChoiceFilter(choices=CLASSES)
    p_planet_min = filters.NumberFilter(field_name="p_planet", lookup_expr="gte")
    p_planet_max = filters.NumberFilter(field_name="p_planet", lookup_expr="lte")
    uncertainty_min = filters.NumberFilter(field_name="uncertainty", lookup_expr="gte")

    class Meta:
        model = Prediction
        fields = ["candidate", "predicted_class"]


class TrainingRunFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=TrainingRun.State.choices)

    class Meta:
        model = TrainingRun
        fields = ["state"]
