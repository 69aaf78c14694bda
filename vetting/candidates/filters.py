"""Query parameters of the candidates app's lists (targets, import jobs)."""
from __future__ import annotations

import django_filters as filters

from vetting.candidates.models import ImportJob, Mission, Target


class TargetFilter(filters.FilterSet):
    mission = filters.ChoiceFilter(choices=Mission.choices)
    catalog_id = filters.CharFilter(help_text="exact KIC/TIC id with prefix, e.g. 'KIC 11446443'")

    class Meta:
        model = Target
        fields = ["mission", "catalog_id"]


class ImportJobFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ImportJob.State.choices)
    kind = filters.ChoiceFilter(choices=ImportJob.Kind.choices)

    class Meta:
        model = ImportJob
        fields = ["state", "kind"]
