"""One error body for every API failure: ``{"error": {"code", "message", "fields"}}``.

DRF's own exceptions, Django ``ValidationError`` / ``PermissionDenied`` raised by the domain
services, ``Http404`` / ``ObjectDoesNotExist`` for unknown ids all come out in this shape, so
a script needs one code path to report what went wrong.

Django's own request errors (a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too many fields, a
broken multipart body, a client that hung up) become the JSON 413/400 here too, and anything
unexpected becomes a JSON 500 (logged like Django's): no /api/ response is ever an HTML page.
:class:`api.middleware.ApiGuardMiddleware` uses the same translation for what happens outside
DRF's views (the catch-all 404, the guards before a view runs).
"""
from __future__ import annotations

import logging

from django.core import signals
from django.core.exceptions import (
    BadRequest,
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger("django.request")


class PayloadTooLarge(exceptions.APIException):
    """An upload over ``VETTING_MAX_UPLOAD_MB``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    """The request is well formed but the object's state does not allow it (a superseded label,
    a dispute already resolved)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's current state does not allow this."
    default_code = "conflict"


class UnsupportedFile(exceptions.APIException):
    """An uploaded file whose content is not what the import ``kind`` takes (RFC 9110: 415 is
    also for a format found by inspecting the content)."""

    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "The uploaded file is not of a format this import takes."
    default_code = "unsupported_file"


class LengthRequired(exceptions.APIException):
    """A body sent without ``Content-Length`` that this server cannot read to its end."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "Send the body with a Content-Length header."
    default_code = "length_required"


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
    """``invalid`` for validation errors; else the code the exception was raised with
    (``APIException(detail, code)``), which DRF defaults to the class's ``default_code``."""
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    given = getattr(exc.detail, "code", None) if isinstance(exc.detail, exceptions.ErrorDetail) else None
    return given or getattr(exc, "default_code", None) or "error"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def translate(exc: BaseException) -> exceptions.APIException | None:
    """The API exception for ``exc`` (a DRF one as it is, a Django one translated), or None
    for an unexpected error (a bug: a 500)."""
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, DjangoValidationError):
        return _django_validation_to_drf(exc)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("The request body is larger than this endpoint accepts.")
    if isinstance(exc, (SuspiciousOperation, BadRequest, MultiPartParserError)):
        return exceptions.ParseError(f"Malformed request: {exc}"[:500])
    if isinstance(exc, UnreadablePostError):
        return exceptions.ParseError("The request body could not be read to its end.")
    return None


def _message_and_fields(exc: exceptions.APIException) -> tuple[str, dict]:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError) or isinstance(detail, dict):
        fields = _fields(detail)
        items = detail.items() if isinstance(detail, dict) else [("non_field_errors", detail)]
        messages = [f"{name}: {'; '.join(_flatten(msgs))}" if name != "non_field_errors" else "; ".join(_flatten(msgs))
                    for name, msgs in items]
        return " | ".join(messages) or "Invalid input.", fields
    return " ".join(_flatten(detail)), {}


def api_exception_handler(exc, context):
    """REST_FRAMEWORK ``EXCEPTION_HANDLER``: translate, then let DRF set headers (401, 429)."""
    request = context.get("request")
    api_exc = translate(exc)
    if api_exc is None:
        set_rollback()
        return server_error_response(getattr(request, "_request", request), exc)
    response = exception_handler(api_exc, context)
    message, fields = _message_and_fields(api_exc)
    response.data = error_body(_code(api_exc), message, fields)
    if request is not None:
        # Errors are JSON whatever the client asked for (text/csv on an export, text/html
        # from a browser): the body is the documented error object, never a rendered page.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    return response


def json_error_response(exc: exceptions.APIException) -> JsonResponse:
    """The error body of ``exc`` as a plain Django response (outside DRF's views)."""
    message, fields = _message_and_fields(exc)
    return JsonResponse(error_body(_code(exc), message, fields), status=exc.status_code)


def server_error_response(request, exc: BaseException) -> JsonResponse:
    """A JSON 500 for an unexpected error, logged and signalled as Django does for its own 500s
    (so error reporting, and the test client's re-raising, still see it)."""
    logger.error("Internal Server Error: %s", getattr(request, "path", "?"), exc_info=exc,
                 extra={"status_code": 500, "request": request})
    signals.got_request_exception.send(sender=None, request=request)
    return JsonResponse(error_body("server_error", "Internal server error; it has been logged."), status=500)


@csrf_exempt  # a POST to a wrong path is a 404 like any other, not a CSRF failure page
def not_found_view(request, *args, **kwargs):
    """JSON 404 for unknown paths under /api/ (instead of the site's HTML page): a path missing
    its trailing slash says which path was meant."""
    from django.urls import Resolver404, resolve

    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != "api-not-found":
            message += f" API paths end with a slash: {request.path}/"
    return JsonResponse(error_body("not_found", message), status=404)
