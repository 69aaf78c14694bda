"""Streamed CSV and JSON downloads, shared by the admin and the API.

Rows are written as they come (``StreamingHttpResponse`` over a generator), so memory stays
flat for millions of rows; CSV cells a spreadsheet would run as a formula are neutralised
(CSV injection), in every CSV the site writes.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

#: Characters that make a spreadsheet treat a cell as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Render a value for CSV; cells that a spreadsheet would run as a formula get a ``'``."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        # Negative numbers are data, not formulas.
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def json_safe(value):
    """Render a value for JSON: dates as ISO 8601 strings, everything else as it is."""
    return value.isoformat() if hasattr(value, "isoformat") else value


class _Echo:
    """File-like object whose ``write`` returns the line (csv.writer -> streaming response)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The header, then one CSV line per row, each cell through :func:`csv_safe`."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_safe(v) for v in row])


def json_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """A JSON array of ``{column: value}`` objects, one per line."""
    yield "["
    first = True
    for row in rows:
        yield ("" if first else ",\n") + json.dumps({k: json_safe(v) for k, v in zip(header, row)})
        first = False
    yield "]\n"


def streaming_download(header: Sequence[str], rows: Iterable[Sequence], *, fmt: str = "csv",
                       filename: str) -> StreamingHttpResponse:
    """A CSV or JSON download of ``rows`` (each a sequence of values), streamed; ``filename``
    without its extension."""
    if fmt == "csv":
        response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    elif fmt == "json":
        response = StreamingHttpResponse(json_lines(header, rows), content_type="application/json")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
