"""The API's side of upload checks: 413 for oversize requests and files.

The checks themselves (name, size, content per import kind) live in
:mod:`vetting.candidates.uploads`, shared with the admin and every other upload path. Here only
what is particular to HTTP: a file over the limit becomes a 413
(:class:`api.exceptions.PayloadTooLarge`) instead of a 400. The request as a whole (its
``Content-Length``, or the bytes of a chunked body, which is read there so that it is not taken
for an empty one) is checked before any view runs, by :mod:`api.middleware`.
"""
from __future__ import annotations

from api.exceptions import PayloadTooLarge
from vetting.candidates import uploads as candidate_uploads


def check_file_size(upload, field: str) -> None:
    """Reject one uploaded file over the limit with a 413."""
    try:
        candidate_uploads.check_size(upload, field=field)
    except candidate_uploads.UploadTooLarge as exc:
        raise PayloadTooLarge(exc.text) from None
