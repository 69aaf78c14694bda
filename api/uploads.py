"""The API's side of upload checks: 413 for oversize requests and files.

The checks themselves (name, size, content per import kind) live in
:mod:`vetting.candidates.uploads`, shared with the admin and every other upload path. Here only
what is particular to HTTP: the request's ``Content-Length`` is checked before the body is
parsed, and a file over the limit (chunked uploads have no length) becomes a 413
(:class:`api.exceptions.PayloadTooLarge`) instead of a 400.
"""
from __future__ import annotations

from api.exceptions import PayloadTooLarge
from vetting.candidates import uploads as candidate_uploads


def check_request_size(request) -> None:
    """Reject a request whose declared body exceeds the limit, before reading it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > candidate_uploads.max_upload_bytes():
        raise PayloadTooLarge(candidate_uploads.too_large_message(length, "The request"))


def check_file_size(upload, field: str) -> None:
    """Reject one uploaded file over the limit with a 413."""
    try:
        candidate_uploads.check_size(upload, field=field)
    except candidate_uploads.UploadTooLarge as exc:
        raise PayloadTooLarge(exc.text) from None
