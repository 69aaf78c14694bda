"""The OpenAPI schema: valid, served with local Swagger UI, documenting every error, and
checked by ``schemathesis run --checks all`` against a live server for each role."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/candidates/{id}/lightcurve/", "/api/queue/", "/api/training-runs/", "/api/imports/",
                 "/api/exports/labels.csv", "/api/labels/{id}/", "/api/disputes/{id}/resolve/"):
        assert f"  {path}:" in text, path
    assert "TokenAuth" in text or "tokenAuth" in text


def test_issue12_defect9_every_operation_documents_its_errors_enums_and_nulls(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) > 25
    for path, method, op in operations:
        for code in ("400", "401", "403", "404", "405", "406", "429"):
            body = op["responses"][code]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, (path, method, code)
        if "requestBody" in op:
            assert {"409", "411", "413", "415"} <= set(op["responses"]), (path, method)
    dispute = schema["components"]["schemas"]["Dispute"]["properties"]
    for field in ("disputed_class", "proposed_class", "resolved_class"):
        assert dispute[field]["nullable"] is True, field
        refs = {item.get("$ref") for item in dispute[field]["oneOf"]}
        assert "#/components/schemas/LabelClassEnum" in refs and "#/components/schemas/BlankEnum" not in refs


def test_docs_page_serves_swagger_ui_locally(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Transit vetting API"


# --- schemathesis run --checks all, as a client would run it, for each role ------------------------

#: Random test cases per operation in the fuzzing phase; the coverage phase (boundaries, every
#: documented constraint violated, wrong types, missing parameters, unsupported methods) is
#: systematic whatever this is.
CLI_MAX_EXAMPLES = 5


def _cli_world(make_candidate, make_version, predict, add_lightcurve, vetter, curator):
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


@pytest.mark.slow
def test_schemathesis_all_checks_pass_for_vetter_and_curator(live_server, make_candidate, make_version, predict,
                                                            add_lightcurve, vetter, curator, settings,
                                                            monkeypatch):
    """``schemathesis run --checks all`` against the live schema, as an outside tester runs it
    (from the repository, so ``schemathesis.toml`` applies), once with a vetter's token and once
    with a curator's, side by side: zero failures. That is: no 5xx, every status, content type
    and body as documented, schema-valid input accepted, schema-violating input refused,
    authentication not ignored, unsupported methods answered 405."""
    import subprocess
    import sys

    from rest_framework.authtoken.models import Token

    from tests.conftest import REPO_ROOT

    _cli_world(make_candidate, make_version, predict, add_lightcurve, vetter, curator)
    # Reports: everything but the print itself (Chromium takes seconds per case; the real print
    # is tested in tests/web/test_report.py). The live server runs in this process.
    from vetting.core import reports

    settings.VETTING_REPORT_BROWSER = sys.executable  # any executable: "a browser is installed"
    monkeypatch.setattr(reports, "print_html", lambda html, fmt: b"%PDF-1.4 stand-in" if fmt == "pdf"
                        else b"\x89PNG stand-in")
    runs = {}
    for role, user in (("vetter", vetter), ("curator", curator)):
        token = Token.objects.get_or_create(user=user)[0].key
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "run", f"{live_server.url}/api/schema/?format=json",
            "--checks", "all", "-H", f"Authorization: Token {token}", "--max-examples", str(CLI_MAX_EXAMPLES),
            "--seed", "20261127", "--workers", "1", "--no-color", "--phases", "examples,coverage,fuzzing",
            "--generation-database", "none", "--wait-for-schema", "60", "--request-timeout", "30",
        ]
        runs[role] = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True)
    reports = {role: run.communicate(timeout=600)[0] for role, run in runs.items()}
    for role, run in runs.items():
        assert run.returncode == 0, f"{role}:\n{reports[role][-20000:]}"
        assert "failure" not in reports[role].splitlines()[-1], reports[role][-3000:]
