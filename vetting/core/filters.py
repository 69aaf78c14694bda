"""Filter building blocks shared by every app's FilterSets (django-filter)."""
from __future__ import annotations

import django_filters as filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(filters.TypedChoiceFilter):
    """``true``/``false`` only: a typo is an error, never a silently ignored filter."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        kwargs.setdefault("empty_value", None)
        super().__init__(**kwargs)


def exists_filter(exists, value: bool | None):
    """``exists`` (an ``Exists`` expression) when ``value``, its negation when not, None for no filter."""
    if value is None:
        return None
    return exists if value else ~exists


class IdFilter(filters.Filter):
    """A database id: digits only (``12.9`` is an error, never truncated to another row's id)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)
