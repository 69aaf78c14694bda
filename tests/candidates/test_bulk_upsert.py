"""Bulk table imports: COPY + one upsert on PostgreSQL, the ORM elsewhere, with the same result
(issue 16). The PostgreSQL side runs here on the test database; the SQLite side runs the same
script in a fresh interpreter on a throwaway SQLite file (the dev settings' default engine)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.candidates.conftest import KOI, write_slice
from tests.conftest import REPO_ROOT

#: Import a table, re-import it with one changed value and one new row; print what is stored.
SCRIPT = r"""
import json, sys
from vetting.candidates import services
from vetting.candidates.importers import bulk
from vetting.candidates.models import Candidate, Target

first, second = sys.argv[1], sys.argv[2]
out = {"copy": bulk.available()}
out["first"] = dict(services.import_catalog_file(path=first).counts)
out["second"] = dict(services.import_catalog_file(path=second).counts)
out["targets"] = sorted(Target.objects.values_list("mission", "catalog_id", "teff_k", "ra_deg"))
out["candidates"] = sorted(
    [c.catalog_id, c.target.catalog_id, c.period_days, c.epoch, c.depth_ppm, c.catalog_disposition,
     c.catalog_score, c.catalog_features, c.epoch_system, c.features]
    for c in Candidate.objects.select_related("target"))
print("RESULT " + json.dumps(out, default=str))
"""


@pytest.fixture
def tables(shared_data, tmp_path):
    first = write_slice(shared_data / KOI, tmp_path / "koi.csv", 120)
    # the second import: one value changed in the first row, 10 more rows
    second = write_slice(shared_data / KOI, tmp_path / "koi2.csv", 130,
                         edit=lambda i, line: line.replace(",9.488035570,", ",9.5,") if i == 0 else line)
    return first, second


def _run(code: str, *args) -> dict:
    from contextlib import redirect_stdout
    from io import StringIO

    exec_globals: dict = {}
    sys_argv, sys.argv = sys.argv, ["script", *map(str, args)]
    try:
        buffer = StringIO()
        with redirect_stdout(buffer):
            exec(code, exec_globals)
    finally:
        sys.argv = sys_argv
    return json.loads(buffer.getvalue().split("RESULT ", 1)[1])


@pytest.mark.django_db
def test_copy_upsert_on_postgresql_matches_the_orm_path_on_sqlite(tables, tmp_path):
    first, second = tables
    on_postgres = _run(SCRIPT, first, second)
    assert on_postgres["copy"] is True
    assert on_postgres["first"]["candidates_created"] == 120 and on_postgres["second"]["candidates_created"] == 10
    assert on_postgres["second"]["candidates_updated"] == 120

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vetting.settings.dev",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "VETTING_MEDIA_ROOT": str(tmp_path / "media")}
    setup = "import django; django.setup(); from django.core.management import call_command; " \
            "call_command('migrate', verbosity=0)\n"
    proc = subprocess.run([sys.executable, "-c", setup + SCRIPT, str(first), str(second)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    on_sqlite = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert on_sqlite["copy"] is False
    for key in ("first", "second", "targets", "candidates"):
        assert on_sqlite[key] == on_postgres[key], key
    assert sum(c[2] == 9.5 for c in on_postgres["candidates"]) == 1  # the re-import updated the changed row
