"""Query parameters of label and dispute lists and exports."""
from __future__ import annotations

import django_filters as filters

from classifier.vocabulary import CLASSES
from vetting.core.filters import IdFilter, StrictBooleanFilter
from vetting.reviews.models import Dispute, Label, LabelSource


class LabelFilter(filters.FilterSet):
    candidate = IdFilter(field_name="candidate_id")
    vetter = filters.CharFilter(field_name="vetter__username", help_text="username")
    label_class = filters.ChoiceFilter(choices=CLASSES)
    source = filters.ChoiceFilter(choices=LabelSource.choices)
    is_current = StrictBooleanFilter()

    class Meta:
        model = Label
        fields = ["candidate", "vetter", "label_class", "source", "is_current"]


class DisputeFilter(filters.FilterSet):
    candidate = IdFilter(field_name="candidate_id")
    status = filters.ChoiceFilter(choices=Dispute.Status.choices)
    subject = filters.ChoiceFilter(choices=Dispute.Subject.choices)

    class Meta:
        model = Dispute
        fields = ["candidate", "status", "subject"]
