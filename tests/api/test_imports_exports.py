"""Imports (202 + ImportJob, 413 oversize, 400 malformed) and streaming CSV/JSON exports."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.helpers import error_of

KOI_CSV = b"# koi table\nkepid,kepoi_name,koi_disposition,koi_period\n11446443,K00001.01,CONFIRMED,2.47\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def test_catalog_upload_answers_202_with_a_job(curator_client):
    from vetting.candidates.models import ImportJob

    response = curator_client.post("/api/imports/", {"kind": "catalog", "file": upload("koi.csv", KOI_CSV),
                                                     "options": json.dumps({"table": "koi"})}, format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued" and body["kind"] == "catalog" and body["options"] == {"table": "koi"}
    job = ImportJob.objects.get(pk=body["id"])
    assert job.upload.read() == KOI_CSV and job.created_by.username == "carla"
    polled = curator_client.get(f"/api/imports/{job.pk}/").json()
    assert polled["state"] == "queued" and polled["progress"] == 0.0


def test_views_bundle_as_two_files_is_packed_into_one_zip(curator_client, npz_bytes):
    from vetting.candidates.models import ImportJob

    csv_data = b"tic_id,toi,label_4class\n1,100.01,PC\n"
    response = curator_client.post("/api/imports/", {
        "kind": "views", "file": upload("candidates.csv", csv_data), "views_file": upload("views.npz", npz_bytes(20)),
    }, format="multipart")
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(pk=response.json()["id"])
    with zipfile.ZipFile(job.upload.open("rb")) as bundle:
        assert sorted(bundle.namelist()) == ["candidates.csv", "views.npz"]
        assert bundle.read("candidates.csv") == csv_data


def test_fits_upload_accepted(curator_client):
    fits = b"SIMPLE  =                    T" + b" " * 50 + b"END" + b" " * 2797
    response = curator_client.post("/api/imports/", {"kind": "fits", "file": upload("kplr.fits", fits)},
                                   format="multipart")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("payload, field, words, status", [
    # Files that are not what ``kind`` takes: 415 (the request is well formed, the file's format is not).
    ({"kind": "fits", "file": ("lc.fits", b"this is not fits at all")}, "file", "not a FITS file", 415),
    ({"kind": "catalog", "file": ("koi.csv", b"\x00\xff\xfe binary")}, "file", "not UTF-8", 415),
    ({"kind": "catalog", "file": ("koi.csv", b"")}, "file", "empty", 415),
    ({"kind": "views", "file": ("c.csv", b"a,b\n1,2\n"), "views_file": ("v.npz", b"")}, "views_file", "", 415),
    ({"kind": "fits", "file": ("lc.fits", b"")}, "file", "", 415),
    ({"kind": "catalog", "file": ("koi.csv", b"just words without delimiters\n")}, "file", "no delimited header", 415),
    ({"kind": "views", "file": ("c.csv", b"a,b\n1,2\n"), "views_file": ("v.npz", b"PK\x03\x04garbage")},
     "views_file", "cannot be read as .npz", 415),
    ({"kind": "views", "file": ("c.csv", b"a,b\n1,2\n")}, "views_file", "views.npz in views_file", 415),
    ({"kind": "catalog", "file": ("koi.csv", KOI_CSV), "views_file": ("v.npz", b"x")}, "views_file", "second file",
     415),
    # Malformed requests: 400.
    ({"kind": "catalog", "file": ("koi.xlsx", KOI_CSV)}, "upload", "expects a file ending in", 400),
    ({"kind": "spreadsheet", "file": ("koi.csv", KOI_CSV)}, "kind", "valid choice", 400),
    ({"kind": "catalog", "file": ("koi.csv", KOI_CSV), "options": "{not json"}, "options", "JSON object", 400),
    ({"kind": "catalog", "file": ("koi.csv", KOI_CSV), "options": '{"colour": "red"}'}, "options", "unknown option",
     400),
    ({"kind": "catalog", "file": ("koi.csv", KOI_CSV), "options": '{"table": "' + "[" * 50 + '"}'}, "options",
     "unknown table", 400),
    ({"kind": "catalog", "file": ("koi.csv", KOI_CSV), "options": '{"mission": "\\u0000"}'}, "options", "NUL", 400),
    ({"kind": "catalog", "file": ("koi.csv", KOI_CSV), "options": "[" * 5000}, "options", "JSON object", 400),
    ({"kind": "catalog"}, "file", "No file", 400),
])
def test_malformed_uploads_are_rejected_and_write_nothing(curator_client, payload, field, words, status):
    from vetting.candidates.models import ImportJob

    data = {k: upload(*v) if isinstance(v, tuple) else v for k, v in payload.items()}
    response = curator_client.post("/api/imports/", data, format="multipart")
    assert response.status_code == status, response.content
    error = error_of(response)
    assert field in error["fields"], error
    assert words in error["message"], error
    assert not ImportJob.objects.exists()


def test_oversize_upload_is_413(curator_client, settings):
    from vetting.candidates.models import ImportJob

    settings.VETTING_MAX_UPLOAD_MB = 1
    big = KOI_CSV + b"1,K2.01,CANDIDATE,3.0\n" * 60000  # ~1.3 MB
    response = curator_client.post("/api/imports/", {"kind": "catalog", "file": upload("koi.csv", big)},
                                   format="multipart")
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large" and "limit is 1 MB" in error["message"]
    assert not ImportJob.objects.exists()


def test_oversize_single_file_is_413_without_content_length(settings):
    """Chunked uploads carry no Content-Length: each file's size is checked after parsing."""
    from api.exceptions import PayloadTooLarge
    from api.uploads import check_file_size

    settings.VETTING_MAX_UPLOAD_MB = 1
    with pytest.raises(PayloadTooLarge, match="file \\(big.csv\\) is 2.0 MB"):
        check_file_size(upload("big.csv", b"x" * 2 * 1024 * 1024), "file")


def test_imports_need_curator(vetter_client):
    response = vetter_client.post("/api/imports/", {"kind": "catalog", "file": upload("koi.csv", KOI_CSV)},
                                  format="multipart")
    assert response.status_code == 403


# --- exports ------------------------------------------------------------------------------------

@pytest.fixture
def labeled(make_candidate, vetter, vetter2):
    from vetting.reviews.services import label_create

    a, b = make_candidate("K00010.01"), make_candidate("K00011.01")
    label_create(candidate=a, vetter=vetter, label_class="EB", note='has "quotes", commas')
    label_create(candidate=a, vetter=vetter, label_class="PC")  # supersedes the EB
    label_create(candidate=b, vetter=vetter2, label_class="V")
    return a, b


def _streamed(response) -> str:
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_label_export_csv_for_curator(curator_client, labeled):
    response = curator_client.get("/api/exports/labels.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="labels.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_streamed(response))))
    assert sorted((r["catalog_id"], r["vetter"], r["label_class"]) for r in rows) == [
        ("K00010.01", "vera", "PC"), ("K00011.01", "victor", "V")]
    history_response = curator_client.get("/api/exports/labels.csv?is_current=false")
    history = list(csv.DictReader(io.StringIO(_streamed(history_response))))
    assert [(r["label_class"], r["note"]) for r in history] == [("EB", 'has "quotes", commas')]


def test_label_export_json_vetter_sees_own(vetter_client, labeled):
    rows = json.loads(_streamed(vetter_client.get("/api/exports/labels.json")))
    assert [(r["vetter"], r["label_class"], r["is_current"]) for r in rows] == [("vera", "PC", True)]


def test_prediction_exports(vetter_client, make_candidate, make_version, predict):
    version = make_version("v2", active=True)
    old = make_version("v1")
    a, b = make_candidate(), make_candidate()
    predict(a, version, 0.7)
    predict(b, version, 0.2)
    predict(a, old, 0.1)
    rows = json.loads(_streamed(vetter_client.get("/api/exports/predictions.json")))
    assert [(r["candidate_id"], r["classifier_version"], r["p_planet"], r["p_PC"]) for r in rows] == [
        (a.pk, "v2", 0.7, 0.7), (b.pk, "v2", 0.2, 0.2)]
    text = _streamed(vetter_client.get("/api/exports/predictions.csv?classifier_version=v1"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(int(r["candidate_id"]), float(r["p_planet"])) for r in rows] == [(a.pk, 0.1)]
    bad = vetter_client.get("/api/exports/predictions.csv?p_planet_min=lots")
    assert bad.status_code == 400 and "p_planet_min" in error_of(bad)["fields"]


def test_empty_exports_are_valid(vetter_client, db):
    assert json.loads(_streamed(vetter_client.get("/api/exports/predictions.json"))) == []
    header = _streamed(vetter_client.get("/api/exports/labels.csv")).splitlines()
    assert header == ["id,candidate_id,catalog_id,mission,vetter,label_class,confidence,source,is_current,is_gold,"
                      "excluded_from_training,seconds_spent,created_at,note"]


def test_oversize_upload_rejected_before_the_body_is_parsed_for_browser_sessions(curator, settings):
    from rest_framework.test import APIClient

    settings.VETTING_MAX_UPLOAD_MB = 1
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(curator)
    big = KOI_CSV + b"1,K2.01,CANDIDATE,3.0\n" * 60000
    response = client.post("/api/imports/", {"kind": "catalog", "file": upload("koi.csv", big)}, format="multipart")
    assert response.status_code == 413  # not 403 (CSRF), which would have needed the parsed body
