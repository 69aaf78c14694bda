"""The OpenAPI schema: valid, served with local Swagger UI, documenting every error, and
checked by ``schemathesis run --checks all`` against a live server for each role."""
from __future__ import annotations

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


# --- schemathesis run --checks all, as a client would run it (tests/api/schemathesis_run.py) ------

@pytest.mark.slow
@pytest.mark.timeout(960)
def test_schemathesis_all_checks_pass_for_a_vetter(live_server, make_candidate, make_version, predict,
                                                   add_lightcurve, vetter, curator, settings, monkeypatch):
    """Zero schemathesis failures with a vetter's token (the curator's run:
    tests/api/test_schema_curator.py)."""
    from tests.api.schemathesis_run import assert_schemathesis_passes, cli_world

    cli_world(make_candidate, make_version, predict, add_lightcurve, vetter, curator)
    assert_schemathesis_passes(live_server, vetter, settings, monkeypatch)
