"""Query parameters of every API list: filters and ``?ordering=``, strictly.

* ``?ordering=``: DRF's ``OrderingFilter`` drops unknown terms silently, so a typo
  (``-p_planett``) returns a list in some other order that looks right. Here an unknown term, an
  empty one, or more than one term (keyset pagination continues from one column) is a 400
  naming ``ordering``; the schema lists the accepted values.
* Filters (the apps' FilterSets, the site's vocabulary): a typed filter given empty
  (``?mission=``, ``?labeled=``: the site's forms send those for "any") is a 400 in the API,
  where a parameter is either given a value or left out; text filters (``vetter=``) may be empty.
"""
from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter


def check_no_empty_typed_values(filterset_class, query_params) -> None:
    """400 for a typed filter (choice, boolean, number, id) given as an empty string."""
    if filterset_class is None:
        return
    errors = {}
    for name, filter_ in filterset_class.base_filters.items():
        if isinstance(filter_, django_filters.CharFilter):
            continue
        if query_params.get(name, None) == "":
            errors[name] = ["Give a value, or leave the parameter out."]
    if errors:
        raise ValidationError(errors)


class FilterBackend(DjangoFilterBackend):
    """django-filter with :func:`check_no_empty_typed_values` first."""

    def filter_queryset(self, request, queryset, view):
        check_no_empty_typed_values(self.get_filterset_class(view, queryset), request.query_params)
        return super().filter_queryset(request, queryset, view)


class StrictOrderingFilter(OrderingFilter):
    """Accepts ``name`` and ``-name`` for each name in the view's ``ordering_fields``
    (default ``["id"]``); the view's ``ordering`` applies when the parameter is absent."""

    def allowed_names(self, view) -> list[str]:
        return list(getattr(view, "ordering_fields", None) or ["id"])

    def allowed_terms(self, view) -> list[str]:
        return [f"{sign}{name}" for name in self.allowed_names(view) for sign in ("-", "")]

    def get_valid_fields(self, queryset, view, context=None):
        return [(name, name) for name in self.allowed_names(view)]

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return self.get_default_ordering(view)
        allowed = self.allowed_terms(view)
        if raw not in allowed:
            raise ValidationError({self.ordering_param: [
                f"Unknown ordering {raw[:100]!r}; one of: {', '.join(allowed)}."]})
        return [raw]

    def get_default_ordering(self, view):
        return list(getattr(view, "ordering", None) or ["-id"])

    def get_schema_operation_parameters(self, view):
        return [{
            "name": self.ordering_param,
            "required": False,
            "in": "query",
            "description": f"Sort order (default {', '.join(self.get_default_ordering(view))}).",
            "schema": {"type": "string", "enum": self.allowed_terms(view)},
        }]
