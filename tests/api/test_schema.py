"""The OpenAPI schema: valid, served with local Swagger UI, and fuzzed by schemathesis (no 5xx)."""
from __future__ import annotations

import contextlib

import pytest
from django.core.management import call_command

from tests.api.helpers import token_client

#: Examples per operation: enough to hit type errors, unknown ids and odd strings, small enough
#: that the whole fuzz stays around half a minute on a shared 2-core machine.
MAX_EXAMPLES = 4


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/candidates/{id}/lightcurve/", "/api/queue/", "/api/training-runs/", "/api/imports/",
                 "/api/exports/labels.csv", "/api/labels/{id}/", "/api/disputes/{id}/resolve/"):
        assert f"  {path}:" in text, path
    assert "TokenAuth" in text or "tokenAuth" in text


def test_docs_page_serves_swagger_ui_locally(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Transit vetting API"


@contextlib.contextmanager
def _keep_test_connection():
    """Django's WSGI handler closes "old" connections per request; inside a test transaction that
    would drop the test's data, so pause it like django.test.Client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(curator, make_candidate, make_version, predict, settings, tmp_path):
    import schemathesis
    from django.core.wsgi import get_wsgi_application
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    settings.MEDIA_ROOT = tmp_path / "media"
    version = make_version("v1", active=True)
    for _ in range(3):
        predict(make_candidate(), version, 0.5)
    token = token_client(curator)._credentials["HTTP_AUTHORIZATION"]
    failures: list[str] = []
    seen: list[int] = []

    with _keep_test_connection():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 25

        # A factory, so that each property test binds its own operation (@given forbids default arguments).
        def make_check(operation):
            @given(case=operation.as_strategy())
            @hsettings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                       suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call(headers={"Authorization": token})
                seen.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{operation.method.upper()} {case.formatted_path} -> {response.status_code}: "
                                    f"{response.text[:300]}")

            return check

        for operation in operations:
            make_check(operation)()
    assert not failures, "\n".join(failures)
    assert sum(200 <= code < 300 for code in seen) > len(operations)  # authenticated, not all rejected
