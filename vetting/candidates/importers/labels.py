"""Catalog dispositions leave the candidates app here, as label classes for the labels app.

``candidates`` sits below ``reviews`` and never imports it: the writer is named in settings
(``VETTING_CATALOG_LABEL_WRITER``, by default :func:`vetting.reviews.catalog_labels.catalog_labels_bulk_upsert`),
as light-curve sources are.
"""
from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.utils.module_loading import import_string


def write_catalog_labels(*, items: list[tuple[int, str, str]]) -> Counter:
    """Set the catalog labels ``(candidate_id, label_class, note)``; returns the writer's counts
    (``labels_created``, ``labels_unchanged``)."""
    if not items:
        return Counter()
    return import_string(settings.VETTING_CATALOG_LABEL_WRITER)(items=items)
