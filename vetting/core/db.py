"""Database helpers shared by the apps' services: planner statistics after bulk writes, cheap
row estimates, and the PostgreSQL COPY path of bulk upserts.

Imports no app: callers pass model classes. Every helper is a no-op (or falls back to an exact
answer) on a database other than PostgreSQL, so SQLite development sites behave the same.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.db import connection

logger = logging.getLogger(__name__)


def is_postgresql() -> bool:
    """True when the default database is PostgreSQL (COPY, ANALYZE and pg_class are available)."""
    return connection.vendor == "postgresql"


def analyze(*models) -> list[str]:
    """Refresh the planner statistics of the tables of ``models`` (``ANALYZE``) after a bulk write.

    Autovacuum analyzes a table once about 10 % of its rows changed, and may be off on a server;
    until then the planner plans with the old row counts and value distributions (e.g. a
    freshly rescored version with "no" predictions), which turns index scans into sequential
    scans on the pages. ANALYZE reads a fixed sample (300 x ``default_statistics_target`` rows),
    so it costs about a second whatever the table's size.

    Parameters
    ----------
    *models : Django model classes
        The tables to analyze (``model._meta.db_table``).

    Returns
    -------
    list of str
        The tables analyzed (empty on SQLite and other databases: a no-op there).
    """
    if not is_postgresql():
        return []
    tables = [m._meta.db_table for m in models]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    logger.info("analyzed %s", ", ".join(tables))
    return tables


def estimated_count(model) -> int | None:
    """The planner's row estimate of ``model``'s table (``pg_class.reltuples``, kept by ANALYZE
    and autovacuum; O(1)), or None where unknown (not PostgreSQL, or never analyzed)."""
    if not is_postgresql():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def estimate_expression(model):
    """The planner's row estimate of ``model``'s table as an SQL expression to annotate in a
    query (``pg_class.reltuples``, O(1); -1 before the first ANALYZE), or None off PostgreSQL.

    The caller decides in Python whether the estimate will do or an exact ``COUNT(*)`` is needed
    (a second query). An exact count folded into the same statement under ``CASE`` is never run
    when the estimate is taken, but the planner still costs it: above ``jit_above_cost``
    (100,000, reached near a million rows) PostgreSQL JIT-compiled the whole statement, 60-100 ms
    on every call of an otherwise sub-millisecond query (issue 16).
    """
    from django.db.models import FloatField
    from django.db.models.expressions import RawSQL

    if not is_postgresql():
        return None
    return RawSQL("(SELECT reltuples FROM pg_class WHERE oid = %s::regclass)", (model._meta.db_table,),
                  output_field=FloatField())


def copy_upsert(model, *, columns: Sequence[str], rows: Iterable[Sequence], conflict: Sequence[str],
                update: Sequence[str], extra: dict[str, str] | None = None,
                returning: Sequence[str] | None = None) -> int | list[tuple]:
    """Upsert ``rows`` into ``model``'s table with PostgreSQL COPY: the rows are copied into a
    temporary staging table (dropped at commit), then one ``INSERT ... SELECT ... ON CONFLICT
    (conflict) DO UPDATE SET col = EXCLUDED.col`` for ``update`` writes them. Call inside a
    transaction (``transaction.atomic``); PostgreSQL only.

    COPY parses rows in the server's tight loop instead of binding one parameter per value, and
    the single upsert visits each index once per row, so this writes several times more rows
    per second than multi-row ``INSERT ... VALUES`` batches (``bench/bench_scale.py`` prints both).

    Parameters
    ----------
    model : Django model class
    columns : sequence of str
        Database column names of the values in each row (e.g. ``candidate_id``).
    rows : iterable of sequences
        One value per column; dicts/lists must already be JSON text for ``jsonb`` columns.
    conflict : sequence of str
        Columns of the unique constraint the rows may collide with.
    update : sequence of str
        Columns overwritten on a conflict.
    extra : dict, optional
        ``{column: SQL expression}`` set on insert only (e.g. ``{"created_at": "now()"}``).
    returning : sequence of str, optional
        SQL expressions to return per written row (e.g. ``['"id"', '(xmax = 0)']``: the pk and
        whether the row was inserted rather than updated).

    Returns
    -------
    int or list of tuple
        Rows copied (each inserted or updated once), or the ``returning`` tuples when asked.

    Rows are upserted in ``conflict`` order, so writers running at once lock shared rows in one
    order and do not deadlock.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("copy_upsert must run inside transaction.atomic() (its staging table drops at commit)")
    q = connection.ops.quote_name
    table = model._meta.db_table
    stage = q(f"_stage_{table}")
    cols = ", ".join(q(c) for c in columns)
    extra = dict(extra or {})
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")  # a leftover of an earlier call in this transaction
        cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {q(table)} WITH NO DATA")
        n = 0
        with cursor.cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        set_clause = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in update)
        keys = ", ".join(q(c) for c in conflict)
        cursor.execute(
            f"INSERT INTO {q(table)} ({cols}{''.join(', ' + q(c) for c in extra)}) "
            f"SELECT {cols}{''.join(', ' + e for e in extra.values())} FROM {stage} ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {set_clause}"
            + (f" RETURNING {', '.join(returning)}" if returning else "")
        )
        written = cursor.fetchall() if returning else n
        cursor.execute(f"DROP TABLE {stage}")
    return written
