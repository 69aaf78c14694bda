"""Serializer fields and the validation step shared by every API input.

* :class:`IdField`: a primary key in a body is an integer (:func:`api.params.parse_int`) or a
  400; ``24900.9`` never becomes candidate 24900 (DRF's ``PrimaryKeyRelatedField`` hands the
  value to ``queryset.get(pk=...)``, which truncates floats and takes ``True`` for 1).
* :class:`StrictCharField`: text is a JSON string (DRF turns ``0`` or ``false`` into ``"0"``).
* :class:`StrictFloatField`: a number is a JSON number or a numeric string, never a boolean
  (DRF takes ``false`` for 0.0) and never NaN or infinite.
* :class:`OptionalClassField`: a label class or null. The models store ``""`` for "no class";
  the API says null, so every value it returns is in the documented enum.
* :class:`JSONObjectField`: a JSON object in a form field, bounded and storable.
* :func:`validated`: run a serializer; an input whose only problem is an id that does not exist
  is a 404 naming the field, anything else invalid is a 400.
"""
from __future__ import annotations

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError

from api.params import MAX_ID, parse_int
from api.parsers import too_deep


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdField(serializers.PrimaryKeyRelatedField):
    """The id of an existing row of ``queryset``; an integer or a string of digits, nothing else."""

    default_error_messages = {
        "incorrect_type": "Expected an integer id from 1 to 2**63-1, received {value}.",
        "does_not_exist": "No {model} with id {pk_value}.",
    }

    def to_internal_value(self, data):
        pk = parse_int(data, minimum=1, maximum=MAX_ID)
        if pk is None:
            self.fail("incorrect_type", value=_short_repr(data))
        queryset = self.get_queryset()
        try:
            return queryset.get(pk=pk)
        except queryset.model.DoesNotExist:
            self.fail("does_not_exist", model=queryset.model._meta.verbose_name, pk_value=pk)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if value != value or value in (float("inf"), float("-inf")):
            self.fail("invalid")
        return value


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class OptionalClassField(serializers.ChoiceField):
    """A label class, or null for none (stored as ``""``). Input also takes ``""`` for none."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        return "" if value is None else value


def _storable(value) -> bool:
    """True if every string in ``value`` (keys too) can be stored in PostgreSQL JSON: no NUL,
    no lone surrogates."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


@extend_schema_field(OpenApiTypes.STR)
class JSONObjectField(serializers.Field):
    """A JSON object given as a string (multipart forms carry no nested JSON), at most
    ``max_length`` characters, nested at most a few levels, with storable strings."""

    default_error_messages = {
        "invalid": 'options must be a JSON object, e.g. {{"table": "koi"}}.',
        "too_long": "options must be at most {max_length} characters of JSON.",
        "unstorable": "options must not be nested deeply or hold NUL characters or lone surrogates.",
    }

    def __init__(self, *, max_length: int = 10_000, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            value = data
        elif isinstance(data, (str, bytes)):
            if len(data) > self.max_length:
                self.fail("too_long", max_length=self.max_length)
            try:
                value = json.loads(data)
            except (TypeError, ValueError, RecursionError):
                self.fail("invalid")
        else:
            self.fail("invalid")
        if not isinstance(value, dict):
            self.fail("invalid")
        if too_deep(value, limit=4) or not _storable(value):
            self.fail("unstorable")
        return value

    def to_representation(self, value):
        return value


def _codes(detail) -> list[str]:
    if isinstance(detail, dict):
        return [code for value in detail.values() for code in _codes(value)]
    if isinstance(detail, list):
        return [code for value in detail for code in _codes(value)]
    return [getattr(detail, "code", "invalid")]


def validated(serializer: serializers.Serializer) -> dict:
    """``serializer.validated_data``, or raise: a 404 when the only errors are ids that do not
    exist (the request is well formed, the row is not there), else a 400 with every error."""
    if serializer.is_valid():
        return serializer.validated_data
    errors = serializer.errors
    codes = _codes(errors)
    if codes and all(code == "does_not_exist" for code in codes):
        raise NotFound(errors)
    raise ValidationError(errors)
