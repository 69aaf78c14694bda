"""Upload checks done before a file is queued for import: size, and a format sniff.

The importer itself runs in the worker; these checks catch the common mistakes (wrong file,
truncated file, binary instead of text) at once with a 400 and a message, instead of a job that
fails a minute later. Size is checked from ``Content-Length`` before the body is parsed, and
again per file (chunked uploads have no length).
"""
from __future__ import annotations

import tempfile
import zipfile

import numpy as np
from django.conf import settings
from django.core.files import File
from rest_framework.exceptions import ValidationError

from api.exceptions import PayloadTooLarge

FITS_MAGIC = b"SIMPLE  ="
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def max_upload_bytes() -> int:
    return int(settings.VETTING_MAX_UPLOAD_MB) * 1024 * 1024


def _too_large(size: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{what} is {size / 1024 / 1024:.1f} MB; the limit is {settings.VETTING_MAX_UPLOAD_MB} MB "
        "(VETTING_MAX_UPLOAD_MB)."
    )


def check_request_size(request) -> None:
    """Reject a request whose declared body exceeds the limit, before reading it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_upload_bytes():
        raise _too_large(length, "The request")


def check_file_size(upload, field: str) -> None:
    if upload.size > max_upload_bytes():
        raise _too_large(upload.size, f"{field} ({upload.name})")


def _head(upload, n: int = 4096) -> bytes:
    upload.seek(0)
    head = upload.read(n)
    upload.seek(0)
    return head


def sniff_text_table(upload, field: str) -> None:
    """A catalog/bundle CSV must be non-empty UTF-8 text with a delimited header row."""
    head = _head(upload)
    if not head.strip():
        raise ValidationError({field: f"{upload.name} is empty."})
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:  # the 4 KiB cut may split a multi-byte character at the end
            text = head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({field: f"{upload.name} is not UTF-8 text; expected a CSV table."}) from None
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "\\"))]
    if not rows or not any(sep in rows[0] for sep in (",", "\t", "|")):
        raise ValidationError({field: f"{upload.name} has no delimited header row; expected a CSV table."})


def sniff_fits(upload, field: str) -> None:
    head = _head(upload, 80)
    if head.startswith(GZIP_MAGIC):
        return  # gzipped FITS: the importer decompresses and checks it
    if not head.startswith(FITS_MAGIC):
        raise ValidationError({field: f"{upload.name} is not a FITS file (no 'SIMPLE  =' header card)."})


def sniff_npz(upload, field: str) -> None:
    """The views file must be an .npz numpy can open without pickles."""
    if not _head(upload, 4).startswith(ZIP_MAGIC):
        raise ValidationError({field: f"{upload.name} is not an .npz archive."})
    try:
        upload.seek(0)
        with np.load(upload, allow_pickle=False) as npz:
            if not npz.files:
                raise ValidationError({field: f"{upload.name} holds no arrays."})
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ValidationError({field: f"{upload.name} cannot be read as .npz: {exc}"}) from None
    finally:
        upload.seek(0)


def views_bundle(csv_upload, npz_upload) -> File:
    """Pack the two files as the ``.zip`` (``candidates.csv`` + ``views.npz``) the importer reads."""
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as bundle:
        for upload, arcname in ((csv_upload, "candidates.csv"), (npz_upload, "views.npz")):
            upload.seek(0)
            with bundle.open(arcname, "w", force_zip64=True) as out:
                for chunk in upload.chunks():
                    out.write(chunk)
    spool.seek(0)
    return File(spool, name="views-bundle.zip")
