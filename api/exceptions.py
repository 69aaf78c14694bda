"""One error body for every API failure: ``{"error": {"code", "message", "fields"}}``.

DRF's own exceptions, Django ``ValidationError`` / ``PermissionDenied`` raised by the domain
services, ``Http404`` / ``ObjectDoesNotExist`` for unknown ids all come out in this shape, so
a script needs one code path to report what went wrong.
"""
from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler


class PayloadTooLarge(exceptions.APIException):
    """An upload over ``VETTING_MAX_UPLOAD_MB``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    """A collaborator the request needs (a domain service, the broker) is not available."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "This operation is not available right now."
    default_code = "service_unavailable"


def _django_validation_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError({field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()})
    return exceptions.ValidationError({"non_field_errors": list(exc.messages)})


def _flatten(detail) -> list[str]:
    """All messages in a DRF error detail (str, list or nested dict), in order."""
    if isinstance(detail, dict):
        return [msg for value in detail.values() for msg in _flatten(value)]
    if isinstance(detail, (list, tuple)):
        return [msg for value in detail for msg in _flatten(value)]
    return [str(detail)]


def _fields(detail) -> dict:
    """Per-field messages as ``{field: [messages]}`` (nested serializers keep their nesting)."""
    if not isinstance(detail, dict):
        return {}
    out = {}
    for field, value in detail.items():
        out[field] = _fields(value) if isinstance(value, dict) else [str(m) for m in _flatten(value)]
    return out


def _code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    return getattr(exc, "default_code", None) or "error"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc, context):
    """REST_FRAMEWORK ``EXCEPTION_HANDLER``: translate, then let DRF set headers (401, 429)."""
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_to_drf(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real server error: Django's 500 handling and logging apply
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail)
        messages = [f"{name}: {'; '.join(_flatten(msgs))}" if name != "non_field_errors" else "; ".join(_flatten(msgs))
                    for name, msgs in (detail.items() if isinstance(detail, dict) else [("non_field_errors", detail)])]
        message = " | ".join(messages) or "Invalid input."
    else:
        fields = {}
        message = " ".join(_flatten(detail))
    response.data = error_body(_code(exc), message, fields)
    return response


def not_found_view(request, *args, **kwargs):
    """JSON 404 for unknown paths under /api/ (instead of the site's HTML page)."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)
