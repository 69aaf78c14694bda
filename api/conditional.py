"""Cheap conditional GETs: an ETag computed from a few columns, 304 when the client has it."""
from __future__ import annotations

import hashlib

from rest_framework import status
from rest_framework.response import Response


def make_etag(*parts) -> str:
    return '"' + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32] + '"'


def not_modified(request, etag: str) -> Response | None:
    """A 304 response if ``If-None-Match`` names this ETag (or ``*``), else None."""
    header = request.headers.get("If-None-Match", "")
    tags = {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
    if etag in tags or "*" in tags:
        response = Response(status=status.HTTP_304_NOT_MODIFIED)
        response["ETag"] = etag
        return response
    return None
