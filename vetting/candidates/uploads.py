"""Checks of an uploaded import file before it is stored as an ``ImportJob``: name, size, content.

The importer itself runs in the worker; these checks catch the common mistakes (wrong file,
truncated file, binary instead of text, over the size limit) at once, with a message, instead
of a job that fails a minute later. :func:`check_upload` is the one check every upload path goes
through: ``services.import_job_create`` runs it, so the API, the admin and any script share it.
An interface may run the parts earlier to name its own form fields (the API reports ``file`` /
``views_file`` and answers 413 for :class:`UploadTooLarge`).

Each check raises Django's ``ValidationError`` keyed by ``field`` (default ``"upload"``, the
``ImportJob`` field). A file is read only at its head (a few KiB), except a views ``.npz``,
which is opened (never unpickled) to list its arrays.
"""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

from vetting.candidates.models import ImportJob

FITS_MAGIC = b"SIMPLE  ="
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"

#: File name endings each import kind accepts.
KIND_SUFFIXES = {
    ImportJob.Kind.CATALOG: {".csv", ".txt", ".tsv", ".tbl"},
    ImportJob.Kind.FITS: {".fits", ".fit", ".fts", ".gz"},
    ImportJob.Kind.VIEWS: {".zip"},
}
#: The two members of a views bundle (``services.import_views_bundle``).
VIEWS_BUNDLE_MEMBERS = ("candidates.csv", "views.npz")


class UploadTooLarge(ValidationError):
    """A file over ``VETTING_MAX_UPLOAD_MB`` (the API answers 413 for it)."""

    def __init__(self, message: str, *, field: str = "upload"):
        super().__init__({field: [message]})
        self.field = field
        self.text = message


def max_upload_bytes() -> int:
    """The upload size limit in bytes (``VETTING_MAX_UPLOAD_MB``)."""
    return int(settings.VETTING_MAX_UPLOAD_MB) * 1024 * 1024


def too_large_message(size: int, what: str) -> str:
    return (f"{what} is {size / 1024 / 1024:.1f} MB; the limit is {settings.VETTING_MAX_UPLOAD_MB} MB "
            "(VETTING_MAX_UPLOAD_MB).")


def _name(upload) -> str:
    return Path(getattr(upload, "name", "") or "upload").name


def check_size(upload, *, field: str = "upload") -> None:
    """Reject a file over the size limit (:class:`UploadTooLarge`)."""
    if upload.size > max_upload_bytes():
        raise UploadTooLarge(too_large_message(upload.size, f"{field} ({_name(upload)})"), field=field)


def check_suffix(kind: str, upload, *, field: str = "upload") -> None:
    """Reject a file whose name does not end as ``kind`` expects (:data:`KIND_SUFFIXES`)."""
    name = _name(upload)
    if Path(name).suffix.lower() not in KIND_SUFFIXES[kind]:
        raise ValidationError({field: f"a {kind} import expects a file ending in "
                                      f"{', '.join(sorted(KIND_SUFFIXES[kind]))} (got {name!r})"})


def _head(upload, n: int = 4096) -> bytes:
    upload.seek(0)
    head = upload.read(n)
    upload.seek(0)
    return head


def check_text_table(upload, *, field: str = "upload") -> None:
    """A catalog/bundle CSV must be non-empty UTF-8 text with a delimited header row."""
    head = _head(upload)
    if not head.strip():
        raise ValidationError({field: f"{_name(upload)}: the file is empty."})
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:  # the 4 KiB cut may split a multi-byte character at the end
            text = head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({field: f"{_name(upload)} is not UTF-8 text; expected a CSV table."}) from None
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "\\"))]
    if not rows or not any(sep in rows[0] for sep in (",", "\t", "|")):
        raise ValidationError({field: f"{_name(upload)} has no delimited header row; expected a CSV table."})


def check_fits(upload, *, field: str = "upload") -> None:
    """A light curve must start with a FITS header card (or be gzipped: the importer checks it)."""
    head = _head(upload, 80)
    if head.startswith(GZIP_MAGIC):
        return  # gzipped FITS: the importer decompresses and checks it
    if not head.startswith(FITS_MAGIC):
        raise ValidationError({field: f"{_name(upload)} is not a FITS file (no 'SIMPLE  =' header card)."})


def check_npz(upload, *, field: str = "upload") -> None:
    """The views file must be an .npz numpy can open without pickles, holding arrays."""
    if not _head(upload, 4).startswith(ZIP_MAGIC):
        raise ValidationError({field: f"{_name(upload)} is not an .npz archive."})
    try:
        upload.seek(0)
        with np.load(upload, allow_pickle=False) as npz:
            if not npz.files:
                raise ValidationError({field: f"{_name(upload)} holds no arrays."})
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ValidationError({field: f"{_name(upload)} cannot be read as .npz: {exc}"}) from None
    finally:
        upload.seek(0)


def check_views_zip(upload, *, field: str = "upload") -> None:
    """A views bundle must be a zip holding ``candidates.csv`` and ``views.npz``."""
    if not _head(upload, 4).startswith(ZIP_MAGIC):
        raise ValidationError({field: f"{_name(upload)} is not a zip file."})
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            members = {Path(m).name for m in archive.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError({field: f"{_name(upload)} is not a readable zip file ({exc})."}) from None
    finally:
        upload.seek(0)
    missing = [m for m in VIEWS_BUNDLE_MEMBERS if m not in members]
    if missing:
        raise ValidationError({field: f"{_name(upload)}: the zip must contain candidates.csv and views.npz "
                                      f"(missing {', '.join(missing)})."})


#: The content check of each import kind.
CONTENT_CHECKS = {
    ImportJob.Kind.CATALOG: check_text_table,
    ImportJob.Kind.FITS: check_fits,
    ImportJob.Kind.VIEWS: check_views_zip,
}


def check_upload(*, kind: str, upload, field: str = "upload") -> None:
    """The whole check of one file for ``kind``: name ending, size, then content.

    Raises ``ValidationError`` keyed by ``field`` (:class:`UploadTooLarge` for the size).
    """
    check_suffix(kind, upload, field=field)
    check_size(upload, field=field)
    CONTENT_CHECKS[kind](upload, field=field)


def views_bundle(csv_upload, npz_upload) -> File:
    """Pack the two files as the ``.zip`` (``candidates.csv`` + ``views.npz``) the importer reads.

    Check them first (:func:`check_text_table`, :func:`check_npz`).
    """
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as bundle:
        for upload, arcname in zip((csv_upload, npz_upload), VIEWS_BUNDLE_MEMBERS):
            upload.seek(0)
            with bundle.open(arcname, "w", force_zip64=True) as out:
                for chunk in upload.chunks():
                    out.write(chunk)
    spool.seek(0)
    return File(spool, name="views-bundle.zip")
