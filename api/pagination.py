"""Cursor (keyset) pagination for the large lists: no COUNT(*) and no OFFSET scans.

Each page is ``WHERE ordering_field < last_seen ORDER BY ordering_field LIMIT n`` on an
indexed column, so page 10,000 costs what page 1 costs. Clients follow ``next``.

Cursors and page sizes come from clients, so both are checked before they reach the query:
a cursor the server did not issue (garbage, crafted base64, a position that is not a value of
the ordering column, a cursor of another ordering) is a 404 naming ``cursor``; a ``page_size``
that is not an integer from 1 to :attr:`KeysetPagination.max_page_size` is a 400 naming it.
"""
from __future__ import annotations

import re

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from api.params import parse_int

#: What DRF's cursors are made of: standard base64 of a short query string.
_BASE64 = re.compile(r"[A-Za-z0-9+/]{0,200}={0,2}")


class InvalidCursor(NotFound):
    default_code = "invalid_cursor"


def _position_field(queryset: QuerySet, ordering: str):
    """The model field (or annotation's output field) that ``ordering`` sorts on, or None."""
    name = ordering.lstrip("-")
    annotation = queryset.query.annotations.get(name)
    if annotation is not None:
        return annotation.output_field
    try:
        return queryset.model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


class KeysetPagination(CursorPagination):
    """Newest id first; ``page_size`` from 1 to 500; honours an OrderingFilter on the view."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = "Invalid cursor: follow the next/previous links of a page of this same list."

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset  # decode_cursor checks the cursor's position against its column
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        value = parse_int(raw, minimum=1, maximum=self.max_page_size)
        if value is None:
            raise ValidationError(
                {self.page_size_query_param: [f"page_size must be an integer from 1 to {self.max_page_size}."]})
        return value

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        # DRF's base64 decoding skips characters outside the alphabet ("%%%" would be page 1).
        if encoded is not None and not _BASE64.fullmatch(encoded):
            raise self._invalid()
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is None or cursor.position is None:
            return cursor
        field = _position_field(self._queryset, self.ordering[0])
        # A position is a value of the ordering column (str() of it, as DRF writes it); anything
        # else would reach the database as a bad literal (a 500) or match the wrong rows.
        if field is None or "\x00" in cursor.position or len(cursor.position) > 64:
            raise self._invalid()
        try:
            value = field.to_python(cursor.position)
            field.run_validators(value)  # e.g. an integer beyond the column's range
            field.get_prep_value(value)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise self._invalid() from None
        if value is None:
            raise self._invalid()
        return cursor

    def _invalid(self) -> InvalidCursor:
        return InvalidCursor({self.cursor_query_param: [self.invalid_cursor_message]})

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = ("The cursor of a page: copy it from the `next`/`previous` link of a "
                                            "page of the same list and ordering (others are a 404).")
        return parameters
