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

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def shared_data() -> Path:
    return Path(os.environ.get("VETTING_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-n", type=int, default=int(os.environ.get("BENCH_DEMO_N", 500)))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", default="", help="run only the imports whose name contains this text")
    parser.add_argument("--quick", action="store_true", help="smoke run: the demo import only, 50 candidates")
    args = parser.parse_args()
    if args.quick:
        args.demo_n, args.only = 50, args.only or "demo"
    data = shared_data()
    if not (data / "README.md").exists():
        print(f"skipped: real data not found at {data} (set VETTING_SHARED_DATA)")
        return 0

    import psycopg

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"bench_imports_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    media = Path(tempfile.mkdtemp(prefix="bench-imports-media-"))
    try:
        os.environ["DATABASE_URL"] = server.rsplit("/", 1)[0] + "/" + name
        os.environ["VETTING_MEDIA_ROOT"] = str(media)
        os.environ["DJANGO_SETTINGS_MODULE"] = "vetting.settings.dev"
        os.environ.setdefault("VETTING_LOG_LEVEL", "WARNING")
        return run(data, args)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(media, ignore_errors=True)


def run(data: Path, args) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from vetting.candidates import services
    from vetting.candidates.models import Candidate, LightCurve, Target
    from vetting.reviews.models import Consensus, Label

    call_command("migrate", verbosity=0)

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
        (f"simulated demo (n={args.demo_n}, 200 labels)", lambda: services.load_demo(
            n=args.demo_n, seed=42, labels=min(200, args.demo_n), workers=args.workers)),
    ]
    failures = 0
    print(f"{'import':40s} {'run':>3s} {'seconds':>8s}  rows added per table")
    for label, step in steps:
        if args.only.lower() not in label.lower():
            continue
        for run_number in (1, 2):
            before = table_counts()
            start = time.perf_counter()
            step()
            seconds = time.perf_counter() - start
            after = table_counts()
            added = {k: after[k] - before[k] for k in after}
            print(f"{label:40s} {run_number:3d} {seconds:8.2f}  " + ", ".join(f"{k}+{v}" for k, v in added.items()), flush=True)
            if run_number == 2 and any(added.values()):
                print(f"  FAIL: the second import of {label} added rows")
                failures += 1
    print("totals:", ", ".join(f"{k}={v}" for k, v in table_counts().items()))
    print("second runs added no rows" if not failures else f"{failures} re-import(s) added rows")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
