"""NASA Exoplanet Archive tables: KOI cumulative, Kepler DR24/DR25 TCE, TESS TOI.

Table names, detection and the archive column of each model field (with units) are defined
once in :mod:`classifier.catalogs` (shared with ``python -m classifier``); :data:`TABLES`
adds what the import needs (ids, required columns). Every epoch is kept in its own time system
(``Candidate.epoch_system``); light-curve code converts when folding. Lines starting with ``#``
are the archive's comments. The table is detected from its columns unless named. All other
finite numeric columns go to ``Candidate.catalog_features`` under their archive names.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from classifier import catalogs
from classifier.dispositions import catalog_class
from classifier.jsonutil import json_number
from classifier.table_features import TABLE_FEATURE_NAMES, archive_table_features
from vetting.candidates.importers.errors import BadFileError, ImportReport, RowError, RowValueError
from vetting.candidates.importers.labels import write_catalog_labels
from vetting.candidates.importers.upsert import upsert_candidates, upsert_targets
from vetting.candidates.models import Candidate, Mission


def _tce_id(row: dict) -> str:
    return f"TCE {int(_num(row, 'kepid', True))}-{int(_num(row, 'tce_plnt_num', True)):02d}"


def _toi_id(row: dict) -> str:
    value = _num(row, "toi", True)
    return f"TOI-{value:.2f}"


@dataclass(frozen=True)
class TableSpec:
    """How one archive table maps to Target and Candidate fields."""

    name: str  # SourceCatalog value
    mission: str
    star_prefix: str
    star_column: str
    candidate_id: Callable[[dict], str]
    epoch_system: str
    #: model field -> archive column (numbers; units as in the module docstring)
    candidate_columns: dict[str, str]
    target_columns: dict[str, str]
    disposition_column: str | None
    score_column: str | None = None
    required: tuple[str, ...] = ()


_ID_COLUMNS = frozenset({"loc_rowid", "kepid", "tid", "toi", "tce_plnt_num", "koi_tce_plnt_num", "rowid"})


def _spec(table: str, mission: str, star_prefix: str, candidate_id, required: tuple[str, ...],
          score_column: str | None = None) -> TableSpec:
    return TableSpec(
        name=table, mission=mission, star_prefix=star_prefix, star_column=catalogs.STAR_ID_COLUMNS[table],
        candidate_id=candidate_id, epoch_system=catalogs.EPOCH_SYSTEMS[table],
        candidate_columns=catalogs.CANDIDATE_COLUMNS[table], target_columns=catalogs.STAR_COLUMNS[table],
        disposition_column=catalogs.DISPOSITION_COLUMNS[table], score_column=score_column, required=required)


TABLES: dict[str, TableSpec] = {
    "koi": _spec("koi", Mission.KEPLER, "KIC", lambda row: _text(row, "kepoi_name", True),
                 ("kepid", "kepoi_name", "koi_disposition", "koi_period", "koi_time0bk", "koi_duration"),
                 score_column="koi_score"),
    "dr24_tce": _spec("dr24_tce", Mission.KEPLER, "KIC", _tce_id,
                      ("kepid", "tce_plnt_num", "tce_period", "tce_time0bk", "tce_duration", "av_training_set")),
    # DR25 TCE: the DR24 columns without the autovetter training label.
    "dr25_tce": _spec("dr25_tce", Mission.KEPLER, "KIC", _tce_id,
                      ("kepid", "tce_plnt_num", "tce_period", "tce_time0bk", "tce_duration")),
    "toi": _spec("toi", Mission.TESS, "TIC", _toi_id,
                 ("toi", "tid", "tfopwg_disp", "pl_orbper", "pl_tranmid", "pl_trandurh")),
}


# --- values -------------------------------------------------------------------------------------

def _text(row: dict, column: str, required: bool = False) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        raise RowValueError(column, "is empty (required)")
    return value


def _num(row: dict, column: str, required: bool = False) -> float | None:
    """A finite float, or None for an empty cell; RowValueError for text or infinities."""
    raw = (row.get(column) or "").strip()
    if not raw:
        if required:
            raise RowValueError(column, "is empty (required)")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise RowValueError(column, f"{raw!r} is not a number") from None
    if math.isnan(value):
        if required:
            raise RowValueError(column, "is NaN (required)")
        return None
    if math.isinf(value):
        raise RowValueError(column, f"{raw!r} is not finite")
    return value


def numeric_cells(row: dict, columns) -> dict[str, float]:
    """The finite numbers among ``row[column]`` (``Candidate.catalog_features``); text cells
    (names, dispositions, dates), empty cells and NaN/inf are left out."""
    cells = ((column, json_number((row.get(column) or "").strip() or None)) for column in columns)
    return {column: value for column, value in cells if value is not None}


def _positive(row: dict, column: str, required: bool) -> float | None:
    value = _num(row, column, required)
    if value is not None and value <= 0:
        raise RowValueError(column, f"must be positive (got {value:g})")
    return value


# --- reading ------------------------------------------------------------------------------------

def detect_table(columns: list[str]) -> str:
    """Name of the archive table with these columns (:func:`classifier.catalogs.detect_table`);
    BadFileError if none fits."""
    table = catalogs.detect_table(columns)
    if table is None:
        raise BadFileError(
            "cannot tell which archive table this is: expected a KOI table (kepoi_name, kepid), a TCE table "
            "(kepid, tce_plnt_num) or a TOI table (toi, tid); found columns "
            + ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else ""))
    return table


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line number, row dict)`` pairs; ``#`` comment and blank lines skipped.

    Raises BadFileError for an unreadable, binary, empty or header-only file. Rows whose field
    count differs from the header come back with the key ``None`` set to the problem.
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise BadFileError(f"{path.name}: cannot open ({exc.strerror})") from exc
    rows: list[tuple[int, dict]] = []
    with handle:
        try:
            text = handle.read()
        except UnicodeDecodeError as exc:
            raise BadFileError(f"{path.name}: not a text CSV file (byte {exc.start} is not UTF-8)") from exc
        if "\x00" in text:
            raise BadFileError(f"{path.name}: not a text CSV file (contains NUL bytes)")
        lines = text.splitlines()
        first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
        if first is None:
            raise BadFileError(f"{path.name}: the file is empty (no header line after the # comments)")
        reader = csv.reader(lines[first:])
        header = [h.strip() for h in next(reader)]
        if len(header) < 2:
            raise BadFileError(f"{path.name}: line {first + 1} is not a comma-separated header ({lines[first][:60]!r})")
        for values in reader:
            line = first + reader.line_num
            if not values or not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                rows.append((line, {None: f"has {len(values)} fields, the header has {len(header)}"}))
                continue
            rows.append((line, dict(zip(header, values))))
    if not rows:
        raise BadFileError(f"{path.name}: the table has a header but no data rows")
    return header, rows


# --- import -------------------------------------------------------------------------------------

def checked_table(path: Path, table: str | None = None) -> tuple[TableSpec, list[str], list[tuple[int, dict]]]:
    """Read and check a whole archive table before anything is written: ``(spec, header, rows)``.

    BadFileError for an unreadable file, an unknown table or missing required columns.
    """
    header, rows = read_table(path)
    detected = detect_table(header)
    table = table or detected
    if table not in TABLES:
        raise BadFileError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    spec = TABLES[table]
    missing = [c for c in spec.required if c not in header]
    if missing:
        raise BadFileError(f"{path.name}: missing required column(s) for a {table} table: {', '.join(missing)}")
    return spec, *_with_table_features(spec.name, header, rows)


def _with_table_features(table: str, header: list[str], rows: list[tuple[int, dict]]):
    """Header and rows with the table-level features (:mod:`classifier.table_features`) as extra
    columns, computed over the whole file (so every chunk of an import job carries the same values,
    and the command line, the benchmarks and the site agree); they land in ``catalog_features``."""
    good = [row for _, row in rows if None not in row]
    if not good:
        return header, rows
    values = archive_table_features({c: [row.get(c) for row in good] for c in header}, table)
    for k, row in enumerate(good):
        for name in TABLE_FEATURE_NAMES:
            row[name] = repr(float(values[name][k])) if math.isfinite(values[name][k]) else ""
    return header + [n for n in TABLE_FEATURE_NAMES if n not in header], rows


def import_archive_table(*, path: Path, table: str | None = None, with_catalog_labels: bool = False,
                         progress=None) -> ImportReport:
    """Import one archive table; see :func:`vetting.candidates.services.import_catalog_file`.

    The whole file is parsed and validated before the first write, so a bad file writes nothing;
    bad rows are reported with their line number and column and skipped.
    """
    spec, header, rows = checked_table(path, table)
    return import_archive_rows(spec=spec, header=header, rows=rows, source=f"{path.name} ({spec.name})",
                               with_catalog_labels=with_catalog_labels, progress=progress)


def import_archive_rows(*, spec: TableSpec, header: list[str], rows: list[tuple[int, dict]], source: str = "",
                        with_catalog_labels: bool = False, progress=None) -> ImportReport:
    """Import checked rows of one archive table (all of a file, or one chunk of an import job).

    ``rows``: ``(line number, row dict)`` as :func:`read_table` returns them. Idempotent: targets
    and candidates are upserted under their unique constraints.
    """
    table = spec.name
    report = ImportReport(kind="catalog", source=source)
    targets, candidates, labels = {}, {}, {}
    target_fields = [f for f, c in spec.target_columns.items() if c in header]
    feature_columns = [c for c in header if c not in _ID_COLUMNS]
    for line, row in rows:
        if None in row:
            report.errors.append(RowError(line, "(row)", row[None]))
            continue
        try:
            parsed = _parse_row(spec, row, target_fields, feature_columns)
        except RowValueError as exc:
            report.errors.append(RowError(line, exc.column, exc.message, _row_id(spec, row)))
            continue
        target_key, target_values, cand, code = parsed
        targets[target_key] = target_values
        candidates[cand["catalog_id"]] = (target_key, cand)  # a repeated id: the last row wins
        if code:
            labels[cand["catalog_id"]] = (code, f"{table} disposition {cand['catalog_disposition']}")
    report.counts["rows"] = len(rows)
    target_pks, counts = upsert_targets(targets, fields=target_fields)
    report.counts.update(counts)
    objs = [Candidate(target_id=target_pks[key], source_catalog=spec.name, epoch_system=spec.epoch_system, **values)
            for key, values in candidates.values()]
    fields = ["target", "epoch_system", "catalog_disposition", "catalog_score", "catalog_features",
              *spec.candidate_columns]
    pks: dict[str, int] = {}
    for start in range(0, len(objs), 2000):
        batch_pks, counts = upsert_candidates(objs[start:start + 2000], fields=fields)
        pks.update(batch_pks)
        report.counts.update(counts)
        if progress:
            progress(min(start + 2000, len(objs)), len(objs))
    centroids = _catalog_centroids(table, header, list(pks.values()))
    if centroids:
        report.counts["catalog_centroids"] += centroids
    if with_catalog_labels and labels:
        report.counts.update(write_catalog_labels(
            items=[(pks[cid], code, note) for cid, (code, note) in labels.items() if cid in pks]))
    return report.finish()


def row_candidate_id(spec: TableSpec, row: dict) -> str:
    """The candidate id of a row ("" when it cannot be read: the row is rejected at import)."""
    return "" if None in row else _row_id(spec, row)


def _catalog_centroids(table: str, header: list[str], candidate_ids: list[int]) -> int:
    """Kepler DV centroid offsets of the table into the candidates' pixel metrics (only when the
    table has those columns; see :func:`vetting.candidates.importers.tpf.apply_catalog_centroids`)."""
    columns = catalogs.CENTROID_COLUMNS.get(table)
    if not columns or columns["offset_arcsec"] not in header:
        return 0
    from vetting.candidates.importers.tpf import apply_catalog_centroids

    return apply_catalog_centroids(table=table, candidate_ids=candidate_ids)


def _row_id(spec: TableSpec, row: dict) -> str:
    try:
        return spec.candidate_id(row)
    except (RowValueError, ValueError):
        return ""


def _parse_row(spec: TableSpec, row: dict, target_fields: list[str], feature_columns: list[str]):
    star = _num(row, spec.star_column, True)
    if star != int(star) or star <= 0:
        raise RowValueError(spec.star_column, f"{row[spec.star_column]!r} is not a positive integer star id")
    target_key = (spec.mission, f"{spec.star_prefix} {int(star)}")
    target_values = {f: _num(row, spec.target_columns[f]) for f in target_fields}
    catalog_id = spec.candidate_id(row)
    # Ephemeris columns must exist, but a value may be empty (e.g. single-transit TOIs have no
    # period): the candidate is kept without it and gets no folded views.
    cand: dict = {"catalog_id": catalog_id}
    for field_name, column in spec.candidate_columns.items():
        if column not in row:
            cand[field_name] = None
        elif field_name in {"period_days", "duration_hours"}:
            cand[field_name] = _positive(row, column, False)
        else:
            cand[field_name] = _num(row, column, False)
    disposition = _text(row, spec.disposition_column) if spec.disposition_column in row else ""
    cand["catalog_disposition"] = disposition
    cand["catalog_score"] = _num(row, spec.score_column) if spec.score_column in row else None
    cand["catalog_features"] = numeric_cells(row, feature_columns)
    code = catalog_class(spec.name, disposition, row) if disposition else None
    return target_key, target_values, cand, code
