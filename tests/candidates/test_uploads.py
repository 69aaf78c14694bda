"""Upload checks (vetting.candidates.uploads): one check for every path, the admin's included."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from vetting.candidates import services, uploads
from vetting.candidates.models import ImportJob

CSV = b"kepid,kepoi_name,koi_disposition,koi_period\n11446443,K00001.01,CONFIRMED,2.47\n"
FITS = b"SIMPLE  =                    T" + b" " * 50 + b"END" + b" " * 2797


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, global_view=np.zeros((2, 201), "<f4"))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("kind, name, data", [
    ("catalog", "koi.csv", CSV),
    ("fits", "kplr.fits", FITS),
    ("fits", "kplr.fits.gz", b"\x1f\x8b\x08rest"),
    ("views", "bundle.zip", _zip({"bundle/candidates.csv": CSV, "bundle/views.npz": _npz()})),
])
def test_good_files_pass(kind, name, data):
    uploads.check_upload(kind=kind, upload=SimpleUploadedFile(name, data))


@pytest.mark.parametrize("kind, name, data, words", [
    ("catalog", "koi.xlsx", CSV, "expects a file ending in"),
    ("catalog", "koi.csv", b"   \n", "the file is empty"),
    ("catalog", "koi.csv", b"\x00\xff\xfe binary", "not UTF-8"),
    ("catalog", "koi.csv", b"just words\n", "no delimited header"),
    ("fits", "lc.fits", b"this is not fits at all", "not a FITS file"),
    ("views", "bundle.zip", b"not a zip", "not a zip file"),
    ("views", "bundle.zip", _zip({"candidates.csv": CSV}), "missing views.npz"),
])
def test_bad_files_are_refused_with_a_reason(kind, name, data, words):
    with pytest.raises(ValidationError) as err:
        uploads.check_upload(kind=kind, upload=SimpleUploadedFile(name, data))
    assert list(err.value.message_dict) == ["upload"] and words in " ".join(err.value.messages)


def test_size_limit_is_its_own_error(settings):
    settings.VETTING_MAX_UPLOAD_MB = 1
    with pytest.raises(uploads.UploadTooLarge, match=r"file \(big.csv\) is 2.0 MB; the limit is 1 MB"):
        uploads.check_size(SimpleUploadedFile("big.csv", b"x" * 2 * 1024 * 1024), field="file")


def test_npz_must_hold_arrays():
    with pytest.raises(ValidationError, match="cannot be read as .npz"):
        uploads.check_npz(SimpleUploadedFile("views.npz", b"PK\x03\x04garbage"))
    uploads.check_npz(SimpleUploadedFile("views.npz", _npz()))


@pytest.mark.django_db
def test_the_service_runs_the_check(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(ValidationError, match="not a FITS file"):
        services.import_job_create(kind="fits", upload=SimpleUploadedFile("lc.fits", b"nope"))
    settings.VETTING_MAX_UPLOAD_MB = 0
    with pytest.raises(uploads.UploadTooLarge):
        services.import_job_create(kind="catalog", upload=SimpleUploadedFile("koi.csv", CSV))
    assert not ImportJob.objects.exists()


# --- the admin's upload goes through the same check ------------------------------------------

@pytest.fixture
def admin_upload(client, curator, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    curator.is_staff = True
    curator.save()
    client.force_login(curator)
    url = reverse("admin:candidates_importjob_upload")
    return lambda kind, name, data: client.post(url, {"kind": kind, "upload": SimpleUploadedFile(name, data)})


@pytest.mark.django_db
@pytest.mark.parametrize("kind, name, data, words", [
    ("fits", "lc.fits", b"this is not fits at all", b"is not a FITS file"),
    ("catalog", "koi.csv", b"\x00\xff\xfe binary", b"is not UTF-8 text"),
    ("catalog", "koi.csv", b"just words without delimiters\n", b"no delimited header row"),
    ("views", "bundle.zip", _zip({"candidates.csv": CSV}), b"missing views.npz"),
])
def test_admin_upload_refuses_content_the_api_refuses(admin_upload, kind, name, data, words):
    response = admin_upload(kind, name, data)
    assert response.status_code == 200 and words in response.content
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_admin_upload_reports_the_size_limit_on_the_field(admin_upload, settings):
    settings.VETTING_MAX_UPLOAD_MB = 0
    response = admin_upload("catalog", "koi.csv", CSV)
    assert response.status_code == 200 and b"the limit is 0 MB" in response.content
    assert "upload" in response.context["form"].errors and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_admin_upload_of_a_good_views_bundle_queues_a_job(admin_upload, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = admin_upload("views", "bundle.zip", _zip({"candidates.csv": CSV, "views.npz": _npz()}))
    assert response.status_code == 302
    assert ImportJob.objects.get().kind == "views"
