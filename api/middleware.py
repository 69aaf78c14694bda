"""Guards every request under /api/ before a view runs, and turns any error into the JSON body.

What reaches a view has been checked once here, for every endpoint alike:

* query parameters: readable (not more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``), each given
  once (the API has no multi-valued parameter: ``?candidate=1&candidate=2`` would silently use
  one of them), and free of NUL bytes (PostgreSQL cannot hold one: the query would fail with a
  500), else a 400 naming the parameter;
* the body's size: over the limit (``VETTING_MAX_UPLOAD_MB`` for multipart uploads,
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` for anything else) is a 413 before a byte is read;
* a chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``): Django reads such a
  body as empty, so it is read here, up to the limit, into a spooled file that the view then
  parses as usual; a server that cannot say where the body ends gets a 411.

Errors raised outside DRF's exception handling (here, in the catch-all 404 view) come out as
the same ``{"error": {...}}`` body (:mod:`api.exceptions`).
"""
from __future__ import annotations

import tempfile
from functools import lru_cache

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.urls import reverse
from rest_framework import exceptions

from api.exceptions import LengthRequired, PayloadTooLarge, json_error_response, server_error_response, translate
from vetting.candidates import uploads as candidate_uploads

_READ_CHUNK = 64 * 1024


@lru_cache(maxsize=1)
def api_prefix() -> str:
    """The path every API URL starts with (``/api/``), from the URLconf."""
    return reverse("api:me-detail").removesuffix("me/")


def body_limit(request) -> int | None:
    """Most bytes a request body may have: the upload limit for multipart, else Django's."""
    if request.content_type == "multipart/form-data":
        return candidate_uploads.max_upload_bytes()
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _too_large(request, size: int, limit: int) -> PayloadTooLarge:
    if request.content_type == "multipart/form-data":
        return PayloadTooLarge(candidate_uploads.too_large_message(size, "The request"))
    return PayloadTooLarge(f"The request body is {size / 1024 / 1024:.1f} MB; this endpoint accepts at most "
                           f"{limit / 1024 / 1024:.1f} MB.")


def _check_query(request) -> None:
    query = request.GET  # may raise TooManyFieldsSent: translated by the caller
    errors = {}
    for key, values in query.lists():
        name = key.replace("\x00", "\\x00")[:100]
        if "\x00" in key or any("\x00" in value for value in values):
            errors[name] = ["Null characters are not allowed."]
        elif len(values) > 1:
            errors[name] = ["Give this parameter once."]
    if errors:
        raise exceptions.ValidationError(errors)


def _read_chunked(request, limit: int | None) -> None:
    """Read a chunked body (the WSGI server de-chunks it) into a spooled file, so Django and
    DRF read it like a body with a Content-Length."""
    environ = request.META
    if not environ.get("wsgi.input_terminated"):
        raise LengthRequired()
    source = environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    size = 0
    while chunk := source.read(_READ_CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            spool.close()
            raise _too_large(request, size, limit)
        spool.write(chunk)
    spool.seek(0)
    environ["CONTENT_LENGTH"] = str(size)
    request._stream = LimitedStream(spool, size)
    request._read_started = False
    request._api_body_spool = spool  # closed (a temporary file past 5 MB) when the response is out


def _check_body(request) -> None:
    raw_length = request.META.get("CONTENT_LENGTH")
    limit = body_limit(request)
    if raw_length in (None, ""):
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            _read_chunked(request, limit)
        return
    if not (raw_length.isascii() and raw_length.isdigit()):
        raise exceptions.ParseError("Content-Length must be a number of bytes.")
    length = int(raw_length)
    if limit is not None and length > limit:
        raise _too_large(request, length, limit)


class ApiGuardMiddleware:
    """See the module docstring. Place it before any middleware that reads the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(api_prefix()):
            return self.get_response(request)
        try:
            _check_query(request)
            _check_body(request)
        except Exception as exc:  # every failure becomes the JSON error body
            api_exc = translate(exc)
            if api_exc is None:
                return server_error_response(request, exc)
            return json_error_response(api_exc)
        try:
            return self.get_response(request)
        finally:
            spool = getattr(request, "_api_body_spool", None)
            if spool is not None:
                spool.close()

    def process_exception(self, request, exception):
        """An error a view did not turn into a response (outside DRF): the JSON body, not HTML."""
        if not request.path.startswith(api_prefix()):
            return None
        api_exc = translate(exception)
        if api_exc is None:
            return server_error_response(request, exception)
        return json_error_response(api_exc)
