"""Import benchmark: every real shared-data file imported twice into a throwaway database.

Database: a dedicated PostgreSQL database ``bench_imports_<pid>`` created on the server of
``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/postgres``, the one
``make test``/``make bench`` start), migrated, and dropped at the end. Light-curve files go to
a temporary media folder, also removed. Prints, per import, the seconds and the row counts of
each table, and checks that the second run of each import adds no rows (exit code 1 if it does).

Imports: KOI cumulative, DR24 TCE and TOI tables (with catalog labels), the Kepler FITS files,
the Astronet-Triage views bundle (with labels), and the simulated demo (``--demo-n``, default
500, light-curve processing in ``--workers`` processes).

Usage: ``.venv/bin/python bench/bench_imports.py [--demo-n 500] [--workers 2]``
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from _common import Stopwatch, Table, bench_parser, django_database, require_data, shared_data


def main() -> int:
    parser = bench_parser(__doc__, quick="the demo import only, 50 candidates")
    parser.add_argument("--demo-n", type=int, default=int(os.environ.get("BENCH_DEMO_N", 500)))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", default="", help="run only the imports whose name contains this text")
    args = parser.parse_args()
    if args.quick:
        args.demo_n, args.only = 50, args.only or "demo"
    data = shared_data()
    if not require_data(data / "README.md", "real data"):
        return 0
    with django_database(f"bench_imports_{os.getpid()}", media=True):
        return run(data, args)


def run(data: Path, args) -> int:
    from vetting.candidates import services
    from vetting.candidates.models import Candidate, LightCurve, Target
    from vetting.reviews import demo
    from vetting.reviews.models import Consensus, Label

    def table_counts() -> dict[str, int]:
        return {"targets": Target.objects.count(), "candidates": Candidate.objects.count(),
                "lightcurves": LightCurve.objects.count(), "labels": Label.objects.count(),
                "consensus": Consensus.objects.count()}

    def fits_all():
        files = sorted((data / "kepler" / "lightcurves").glob("*.fits"))
        for path in files:
            services.import_fits_file(path=path)
        return len(files)

    steps = [
        ("KOI cumulative (9,564 rows)", lambda: services.import_catalog_file(
            path=data / "kepler" / "koi_cumulative_2019-01-20.csv", with_catalog_labels=True)),
        ("DR24 TCE (16,447 rows)", lambda: services.import_catalog_file(
            path=data / "kepler" / "dr24_tce_autovetter.csv", with_catalog_labels=True)),
        ("TOI (7,703 rows)", lambda: services.import_catalog_file(
            path=data / "tess" / "toi_2025-10-04.csv", with_catalog_labels=True)),
        ("Kepler FITS files (14)", fits_all),
        ("Astronet-Triage views (14,858 rows)", lambda: services.import_views_bundle(
            path=data / "tess" / "astronet_triage", with_catalog_labels=True)),
        (f"simulated demo (n={args.demo_n}, 200 labels)", lambda: demo.load_demo(
            n=args.demo_n, seed=42, labels=min(200, args.demo_n), workers=args.workers)),
    ]
    failures = 0
    table = Table(("import", 40), ("run", 3, "d"), ("seconds", 8, ".2f"))
    table.header(note="rows added per table")
    for label, step in steps:
        if args.only.lower() not in label.lower():
            continue
        for run_number in (1, 2):
            before = table_counts()
            with Stopwatch() as sw:
                step()
            after = table_counts()
            added = {k: after[k] - before[k] for k in after}
            table.row(label, run_number, sw.wall, note=", ".join(f"{k}+{v}" for k, v in added.items()))
            if run_number == 2 and any(added.values()):
                print(f"  FAIL: the second import of {label} added rows")
                failures += 1
    print("totals:", ", ".join(f"{k}={v}" for k, v in table_counts().items()))
    print("second runs added no rows" if not failures else f"{failures} re-import(s) added rows")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
