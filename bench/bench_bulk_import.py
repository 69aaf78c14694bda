"""Catalog table import on PostgreSQL: COPY into a staging table + one upsert against the ORM's
``bulk_create(update_conflicts=True)`` (issue 16), same process, same throwaway database.

For each path: a fresh import of the real Kepler DR24 TCE and KOI tables (targets and candidates
created), then a re-import of the same files (every row updated). Prints rows/s of each and the
COPY/ORM ratio of the same run; the database is emptied between paths. The ORM path is what
SQLite uses (``vetting.candidates.importers.bulk.available`` is False there); here it is
forced on PostgreSQL so both run on the same server.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Stopwatch, Table, bench_parser, django_database, require_data, shared_data

TABLES = ("kepler/dr24_tce_autovetter.csv", "kepler/koi_cumulative_2019-01-20.csv")


def _slice(src: Path, dst: Path, n_rows: int | None) -> Path:
    if n_rows is None:
        return src
    from tests.candidates.conftest import write_slice

    return write_slice(src, dst, n_rows)


def _run_path(paths: list[Path], *, use_copy: bool) -> dict:
    from unittest import mock

    from vetting.candidates import services
    from vetting.candidates.importers import bulk
    from vetting.candidates.models import Candidate, Target

    Candidate.objects.all().delete()
    Target.objects.all().delete()
    out = {}
    with mock.patch.object(bulk, "available", lambda: use_copy):
        for phase in ("fresh", "re-import"):
            rows = 0
            with Stopwatch() as sw:
                for path in paths:
                    rows += services.import_catalog_file(path=path).counts["rows"]
            out[phase] = (rows, sw.wall, sw.cpu)
    out["candidates"] = Candidate.objects.count()
    return out


def main() -> int:
    parser = bench_parser(__doc__, "the first 3,000 rows of each table (default: all)")
    args = parser.parse_args()
    data = shared_data()
    sources = [data / t for t in TABLES]
    if not all(require_data(p, "archive table") for p in sources):
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, django_database("bench_bulk_import", media=True):
        paths = [_slice(p, Path(tmp) / p.name, 3000 if args.quick else None) for p in sources]
        results = {"ORM bulk_create": _run_path(paths, use_copy=False),
                   "COPY + upsert": _run_path(paths, use_copy=True)}
        table = Table(("path", 18), ("phase", 10), ("rows", 8, "d"), ("wall s", 8, ".2f"), ("cpu s", 8, ".2f"),
                      ("rows/s", 9, ".0f"))
        table.header()
        for name, res in results.items():
            for phase in ("fresh", "re-import"):
                rows, wall, cpu = res[phase]
                table.row(name, phase, rows, wall, cpu, rows / wall)
        orm, cp = results["ORM bulk_create"], results["COPY + upsert"]
        assert orm["candidates"] == cp["candidates"], "both paths must store the same candidates"
        for phase in ("fresh", "re-import"):
            print(f"{phase}: COPY rows/s / ORM rows/s = {orm[phase][1] / cp[phase][1]:.2f} "
                  f"(same run; wall times on a shared machine are noisy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
