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


#: Largest id a PostgreSQL ``bigint`` holds: a larger number is an error, not a query.
MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    """Digits only: ``12.9``, ``12.0``, ``1e3``, ``+12``, non-ASCII digits are errors (Django's
    ``IntegerField`` strips ``.0`` and accepts any Unicode digit)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 20):
            raise forms.ValidationError("Enter an integer id.", code="invalid")
        return int(text)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.Filter):
    """A database id from 1 to :data:`MAX_ID`, digits only (``12.9`` is an error, never
    truncated to another row's id)."""

    field_class = IdField

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
