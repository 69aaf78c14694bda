"""Storage that web and worker machines share (issue 16): light curves, import uploads and model
artifacts go through Django's storage API; with ``VETTING_STORAGE=s3`` they live in an
S3-compatible store. A real S3 HTTP server (moto's, in its own process on a loopback port)
stands in for MinIO/S3: what one side writes with its own MEDIA_ROOT, the other reads with a
different one (nothing of it is on either's local disk)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile

pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

BUCKET = "vetting-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """A moto S3 server process on 127.0.0.1:<free port>; yields its endpoint URL."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto S3 server did not start within 30 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3(s3_server, settings, monkeypatch, tmp_path):
    """Django's default storage on the fake S3 (a fresh bucket); returns a function that switches
    MEDIA_ROOT, as a second machine with its own local disk would have."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": BUCKET, "endpoint_url": s3_server, "region_name": "us-east-1", "addressing_style": "path",
        "file_overwrite": False, "default_acl": None}}}

    def machine(name: str) -> Path:
        settings.MEDIA_ROOT = tmp_path / name
        settings.VETTING_ARTIFACT_DIR = "models"
        return settings.MEDIA_ROOT

    machine("worker")
    yield SimpleNamespace(client=client, machine=machine)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    if keys:
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
    client.delete_bucket(Bucket=BUCKET)


def _keys(s3) -> set[str]:
    return {o["Key"] for o in s3.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_artifact_written_by_the_worker_is_read_by_the_web_process(s3):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from classifier.persistence import ArtifactIntegrityError
    from vetting.learning.models import ClassifierVersion
    from vetting.learning.services import artifacts

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    result = SimpleNamespace(model=model, classes=["0", "1"], metrics={"auc": 1.0})
    worker_media = s3.machine("worker")
    name, sha, libs, _code = artifacts.save_version_artifact(result, ["x"], "snap", 4, 7, name="v1")
    assert name.startswith("models/vetting-model-") and {name, name[:-len(".joblib")] + ".json"} <= _keys(s3)
    assert not any(worker_media.rglob("*"))  # nothing on the worker's local disk

    s3.machine("web")  # the web process: another MEDIA_ROOT, the same bucket
    version = ClassifierVersion(name="v1", artifact=name, artifact_sha256=sha)
    artifacts._model_cache.clear()
    loaded = artifacts.load_model(version)
    assert loaded.predict_proba(X).tolist() == model.predict_proba(X).tolist()
    assert artifacts.artifact_metadata(version)["sha256"] == sha and libs["scikit-learn"]
    assert artifacts.artifact_path(version).read_bytes()  # a checked local copy for path readers

    # the integrity check still holds for bytes read from the store
    s3.client.put_object(Bucket=BUCKET, Key=name, Body=b"not the model")
    artifacts._model_cache.clear()
    with pytest.raises(ArtifactIntegrityError):
        artifacts.load_model(version)


@pytest.mark.django_db
def test_light_curves_and_import_jobs_are_shared_through_s3(s3, settings, table_slice_koi):
    import numpy as np

    from vetting.candidates import services
    from vetting.candidates.importers.lightcurves import LightCurveArrays, import_arrays
    from vetting.candidates.models import Candidate, ImportJob, LightCurve

    settings.VETTING_IMPORT_CHUNK_ROWS = 10
    # the web process accepts an upload into the bucket ...
    s3.machine("web")
    job = services.import_job_create(kind="catalog", upload=ContentFile(table_slice_koi.read_bytes(), name="koi.csv"))
    assert job.upload.name in _keys(s3)
    # ... a worker with another disk plans it (parts in the bucket) and runs its chunks
    s3.machine("worker")
    done = services.import_job_run(job_id=job.pk)
    assert done.state == "finished", done.errors
    assert done.counts["chunks"] == 3 and Candidate.objects.count() == 25
    assert not any(k.startswith("imports/parts/") for k in _keys(s3))  # parts removed at the end
    assert ImportJob.objects.get(pk=job.pk).upload.name in _keys(s3)  # the upload is kept (retention)

    # a light curve stored by the worker is read by the web process
    time_ = np.linspace(0, 10, 500)
    lc = LightCurveArrays(time=time_, flux=np.ones(500, "<f4"), flux_err=np.full(500, 1e-3, "<f4"),
                          quality=np.zeros(500, "<i4"), mission="kepler", target_catalog_id="KIC 42",
                          time_system="BKJD")
    import_arrays(lc=lc)
    row = LightCurve.objects.get()
    assert row.data.name in _keys(s3)
    s3.machine("web")
    assert np.array_equal(LightCurve.objects.get().load_arrays()["time"], time_)


@pytest.fixture
def table_slice_koi(shared_data, tmp_path):
    from tests.candidates.conftest import KOI, write_slice

    return write_slice(shared_data / KOI, tmp_path / "koi.csv", 25)
