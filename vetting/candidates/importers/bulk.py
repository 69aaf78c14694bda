"""PostgreSQL bulk upsert: COPY rows into a staging table, then ONE ``INSERT ... ON CONFLICT``.

The ORM's ``bulk_create(update_conflicts=True)`` sends one multi-row INSERT per batch with every
value as a bound parameter, plus a SELECT before and after to tell created from updated rows and
learn the pks. Here, on PostgreSQL, the rows stream through ``COPY ... FROM STDIN`` (psycopg 3
``cursor.copy``) into a temporary table dropped at commit, and a single statement upserts them
all, returning each row's pk, key and whether it was inserted (``xmax = 0``: the row version was
not created by an update; see the PostgreSQL docs on system columns and e.g. "INSERT ... ON
CONFLICT: created or updated?" discussions). The staging rows are upserted in key order so
chunks running at once lock shared rows (targets) in one order and do not deadlock.

Semantics are those of ``bulk_create(update_conflicts=True, unique_fields=..., update_fields=...)``:
a new row gets every concrete field (``auto_now_add``/``auto_now`` filled in), an existing one
only ``update_fields``. :mod:`vetting.candidates.importers.upsert` calls this on PostgreSQL and
the ORM path elsewhere (SQLite); the results are the same (tests/candidates/test_bulk_upsert.py).
"""
from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Model

from vetting.core import db


def available() -> bool:
    """True when the default database is PostgreSQL (psycopg 3: ``cursor.copy``)."""
    return db.is_postgresql()


def copy_upsert(model: type[Model], objs: list[Model], *, unique_fields: list[str],
                update_fields: list[str]) -> list[tuple]:
    """Upsert ``objs`` (no two with the same ``unique_fields`` values) in one statement
    (:func:`vetting.core.db.copy_upsert`).

    Returns one ``(pk, *unique values, inserted: bool)`` tuple per row, in key order. Unique
    values are the database values (an FK field gives its id).
    """
    if not objs:
        return []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    key_cols = [meta.get_field(name).column for name in unique_fields]
    q = connection.ops.quote_name
    rows = ([f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields] for obj in objs)
    with transaction.atomic():
        return db.copy_upsert(
            model, columns=[f.column for f in fields], rows=rows, conflict=key_cols,
            update=[meta.get_field(name).column for name in update_fields],
            returning=[q(meta.pk.column), *(q(c) for c in key_cols), "(xmax = 0)"])
