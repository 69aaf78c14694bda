"""Streaming CSV/JSON exports of labels and predictions.

Rows are read with ``.values_list(...).iterator(chunk_size=...)`` (a server-side cursor on
PostgreSQL) and written as they come, so memory stays flat for millions of rows and the first
bytes leave before the last row is read.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import F, QuerySet
from django.http import StreamingHttpResponse

from classifier.vocabulary import CLASS_CODES
from vetting.core.export import streaming_download
from vetting.reviews.selectors import injected_ids

CHUNK_ROWS = 2000

LABEL_COLUMNS = ("id", "candidate_id", "catalog_id", "mission", "vetter", "label_class", "confidence", "source",
                 "is_current", "is_gold", "excluded_from_training", "seconds_spent", "created_at", "note")
PREDICTION_COLUMNS = ("id", "candidate_id", "catalog_id", "classifier_version", "predicted_class", "p_planet",
                      "p_triage", "uncertainty", "disagreement", "created_at") + tuple(f"p_{c}" for c in CLASS_CODES)


def _real(queryset: QuerySet) -> QuerySet:
    """Rows of real candidates only: injected known-answer checks never leave as real labels."""
    return queryset.exclude(candidate_id__in=injected_ids())


def label_rows(queryset: QuerySet) -> Iterator[tuple]:
    rows = _real(queryset).order_by("id").values_list(
        "id", "candidate_id", F("candidate__catalog_id"), F("candidate__target__mission"), F("vetter__username"),
        "label_class", "confidence", "source", "is_current", "is_gold", "excluded_from_training", "seconds_spent",
        "created_at", "note",
    )
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        yield tuple(row)


def prediction_rows(queryset: QuerySet) -> Iterator[tuple]:
    rows = _real(queryset).order_by("id").values_list(
        "id", "candidate_id", F("candidate__catalog_id"), F("classifier_version__name"), "predicted_class",
        "p_planet", "p_triage", "uncertainty", "disagreement", "created_at", "probabilities",
    )
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        *head, probabilities = row
        probabilities = probabilities or {}
        yield tuple(head) + tuple(probabilities.get(c) for c in CLASS_CODES)


def streaming_export(
    columns: tuple[str, ...], rows: Iterable[tuple], *, fmt: str, filename: str,
) -> StreamingHttpResponse:
    """A CSV or JSON (array of objects) download, streamed (:func:`vetting.core.export.streaming_download`:
    the admin's exports write CSV the same way, formulas neutralised)."""
    return streaming_download(columns, rows, fmt=fmt, filename=filename)
