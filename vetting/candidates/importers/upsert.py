"""Bulk upserts of targets and candidates under their unique constraints (re-imports update,
never duplicate). Used by the catalog, views-bundle and demo importers.

On PostgreSQL the rows go through COPY into a staging table and one ``INSERT ... ON CONFLICT``
(:mod:`vetting.candidates.importers.bulk`); elsewhere (SQLite) through the ORM's
``bulk_create(update_conflicts=True)``. Same rows, same counts, same pks returned.
"""
from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.utils import timezone

from vetting.candidates.importers import bulk
from vetting.candidates.models import Candidate, Target

BATCH = 1000
#: Rows per COPY + upsert statement on PostgreSQL.
COPY_BATCH = 20000


def upsert_targets(rows: dict[tuple[str, str], dict], *,
                   fields: list[str]) -> tuple[dict[tuple[str, str], int], Counter]:
    """Upsert ``{(mission, catalog_id): {field: value}}``; only ``fields`` are overwritten on a
    re-import (a table without coordinates must not erase them). Returns ``(pk by key, counts)``."""
    counts: Counter = Counter()
    # Sorted: import chunks running at once upsert overlapping targets; taking the row locks in
    # one order keeps their transactions from deadlocking.
    keys = sorted(rows)
    pks: dict[tuple[str, str], int] = {}
    now = timezone.now()
    if bulk.available():
        update = sorted(set(fields) | {"updated_at"})
        counts.update(targets_created=0, targets_updated=0)  # the same keys as the ORM path
        for start in range(0, len(keys), COPY_BATCH):
            objs = [Target(mission=m, catalog_id=c, **rows[(m, c)]) for m, c in keys[start:start + COPY_BATCH]]
            for pk, mission, catalog_id, inserted in bulk.copy_upsert(
                    Target, objs, unique_fields=["mission", "catalog_id"], update_fields=update):
                pks[(mission, catalog_id)] = pk
                counts["targets_created" if inserted else "targets_updated"] += 1
        return pks, counts
    for start in range(0, len(keys), BATCH):
        chunk = keys[start:start + BATCH]
        existing = _existing_targets(chunk)
        objs = [Target(mission=m, catalog_id=c, updated_at=now, **rows[(m, c)]) for m, c in chunk]
        with transaction.atomic():
            Target.objects.bulk_create(objs, update_conflicts=True, unique_fields=["mission", "catalog_id"],
                                       update_fields=sorted(set(fields) | {"updated_at"}))
        counts["targets_created"] += len(chunk) - len(existing)
        counts["targets_updated"] += len(existing)
        pks.update(_existing_targets(chunk))
    return pks, counts


def _existing_targets(keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    by_mission: dict[str, list[str]] = {}
    for mission, catalog_id in keys:
        by_mission.setdefault(mission, []).append(catalog_id)
    found = {}
    for mission, ids in by_mission.items():
        for pk, cid in Target.objects.filter(mission=mission, catalog_id__in=ids).values_list("pk", "catalog_id"):
            found[(mission, cid)] = pk
    return found


def upsert_candidates(objs: list[Candidate], *, fields: list[str]) -> tuple[dict[str, int], Counter]:
    """Upsert candidates of ONE source catalog by ``catalog_id``; ``fields`` are overwritten on
    conflict. Returns ``(pk by catalog_id, counts)``."""
    counts: Counter = Counter()
    pks: dict[str, int] = {}
    if not objs:
        return pks, counts
    source = objs[0].source_catalog
    objs = sorted(objs, key=lambda c: c.catalog_id)  # one lock order across concurrent chunks
    now = timezone.now()
    if bulk.available():
        update = sorted(set(fields) | {"updated_at"})
        counts.update(candidates_created=0, candidates_updated=0)
        for start in range(0, len(objs), COPY_BATCH):
            for pk, _source, catalog_id, inserted in bulk.copy_upsert(
                    Candidate, objs[start:start + COPY_BATCH], unique_fields=["source_catalog", "catalog_id"],
                    update_fields=update):
                pks[catalog_id] = pk
                counts["candidates_created" if inserted else "candidates_updated"] += 1
        return pks, counts
    for start in range(0, len(objs), BATCH):
        chunk = objs[start:start + BATCH]
        ids = [c.catalog_id for c in chunk]
        in_chunk = Candidate.objects.filter(source_catalog=source, catalog_id__in=ids)
        existing = set(in_chunk.values_list("catalog_id", flat=True))
        for obj in chunk:
            obj.updated_at = now
        with transaction.atomic():
            Candidate.objects.bulk_create(chunk, update_conflicts=True, unique_fields=["source_catalog", "catalog_id"],
                                          update_fields=sorted(set(fields) | {"updated_at"}))
        counts["candidates_created"] += len(set(ids) - existing)
        counts["candidates_updated"] += len(existing & set(ids))
        pks.update(dict(in_chunk.values_list("catalog_id", "pk")))
    return pks, counts
