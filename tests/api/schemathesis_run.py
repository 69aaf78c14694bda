"""``schemathesis run --checks all`` against a live server, as a client would run it, for one role.

Used by tests/api/test_schema.py (vetter) and tests/api/test_schema_curator.py (curator): two
files, so pytest-xdist runs the two on two processes, each with its own live server.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Random test cases per operation in the fuzzing phase; the coverage phase (boundaries, every
#: documented constraint violated, wrong types, missing parameters, unsupported methods) is
#: systematic whatever this is.
CLI_MAX_EXAMPLES = 5


def cli_world(make_candidate, make_version, predict, add_lightcurve, vetter, curator):
    """Rows for every endpoint to find: candidates with predictions and a light curve, labels of
    both users, disputes (of a label, of the model, resolved), a training run and an import job."""
    from vetting.candidates.models import ImportJob
    from vetting.learning.models import TrainingRun
    from vetting.reviews.services import dispute_open, dispute_resolve, label_create

    version = make_version("v1", active=True)
    candidates = [make_candidate() for _ in range(4)]
    for i, cand in enumerate(candidates):
        predict(cand, version, 0.2 * (i + 1), uncertainty=0.1 * (i + 1))
    add_lightcurve(candidates[0], n=500)
    label = label_create(candidate=candidates[0], vetter=vetter, label_class="PC", note="=1+1")
    label_create(candidate=candidates[0], vetter=curator, label_class="EB")
    dispute_open(candidate=candidates[0], opened_by=curator, reason="odd/even", label=label)
    resolved = dispute_open(candidate=candidates[1], opened_by=vetter, reason="EB?", model_version="v1")
    dispute_resolve(dispute=resolved, curator=curator, resolved_class="EB")
    TrainingRun.objects.create(state="finished", trigger="manual", progress=1.0)
    ImportJob.objects.create(kind="catalog", state="finished", upload="imports/x.csv", options={})


def assert_schemathesis_passes(live_server, user, settings, monkeypatch, timeout_s: float = 900) -> None:
    """Run ``schemathesis run --checks all`` with ``user``'s token (from the repository, so
    ``schemathesis.toml`` applies) and require zero failures: no 5xx, every status, content type
    and body as documented, schema-valid input accepted, schema-violating input refused,
    authentication not ignored, unsupported methods answered 405. The run is killed if the test
    ends first, so it never goes on hitting a later test's server."""
    from rest_framework.authtoken.models import Token

    from tests.conftest import REPO_ROOT
    from vetting.core import reports

    # Reports: everything but the print itself (Chromium takes seconds per case; the real print
    # is tested in tests/web/test_report.py). The live server runs in this process.
    settings.VETTING_REPORT_BROWSER = sys.executable  # any executable: "a browser is installed"
    monkeypatch.setattr(reports, "print_html", lambda html, fmt: b"%PDF-1.4 stand-in" if fmt == "pdf"
                        else b"\x89PNG stand-in")
    token = Token.objects.get_or_create(user=user)[0].key
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{live_server.url}/api/schema/?format=json",
        "--checks", "all", "-H", f"Authorization: Token {token}", "--max-examples", str(CLI_MAX_EXAMPLES),
        "--seed", "20261127", "--workers", "1", "--no-color", "--phases", "examples,coverage,fuzzing",
        "--generation-database", "none", "--wait-for-schema", "60", "--request-timeout", "30",
    ]
    run = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        report = run.communicate(timeout=timeout_s)[0]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, report[-20000:]
    assert "failure" not in report.splitlines()[-1], report[-3000:]
