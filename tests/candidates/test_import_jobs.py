"""ImportJob rows: created with an upload, run by the service and by a real Celery worker."""
from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from tests.candidates.conftest import KOI
from vetting.candidates import services
from vetting.candidates.models import Candidate, ImportJob
from vetting.reviews.models import Label


def _upload(path, name=None):
    return ContentFile(path.read_bytes(), name=name or path.name)


@pytest.mark.django_db
def test_job_runs_through_the_service(table_slice, vetter, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("vetting.core.jobs.publish",
                        lambda name, args, **options: sent.append((name, args)) or type("R", (), {"id": "t-1"})())
    with django_capture_on_commit_callbacks(execute=True):
        job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 40)),
                                         options={"with_catalog_labels": True}, created_by=vetter)
        assert sent == []  # only after commit
    assert sent == [("vetting.candidates.tasks.import_job_run", [job.pk])]
    assert ImportJob.objects.get(pk=job.pk).task_id == "t-1"
    done = services.import_job_run(job_id=job.pk)
    assert done.state == "finished" and done.progress == 1.0 and done.errors == []
    assert done.counts["candidates_created"] == 40 and Label.objects.count() == done.counts["labels_created"]
    assert done.started_at and done.finished_at
    # a redelivered task does nothing
    assert services.import_job_run(job_id=job.pk).counts == done.counts and Candidate.objects.count() == 40


@pytest.mark.django_db
def test_job_with_bad_file_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    job = services.import_job_create(kind="catalog", upload=_upload(bad), options={}, created_by=None)
    done = services.import_job_run(job_id=job.pk)
    assert done.state == "failed" and "cannot tell which archive table" in done.errors[0]
    assert not Candidate.objects.exists()


@pytest.mark.django_db
def test_job_rows_rejected_are_listed(table_slice):
    path = table_slice(KOI, 10, edit=lambda i, line: line.replace(",9.488035570,", ",x,") if i == 0 else line)
    done = services.import_job_run(job_id=services.import_job_create(kind="catalog", upload=_upload(path)).pk)
    assert done.state == "finished" and len(done.errors) == 1 and "'koi_period'" in done.errors[0]
    assert done.counts["rows_rejected"] == 1 and Candidate.objects.count() == 9


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs, field", [
    ({"kind": "nope"}, "kind"),
    ({"kind": "catalog", "options": {"colour": 1}}, "options"),
    ({"kind": "catalog", "options": {"table": "k2"}}, "options"),
    ({"kind": "fits"}, "upload"),
])
def test_job_create_validates(kwargs, field, tmp_path):
    upload = ContentFile(b"x", name="table.csv")
    with pytest.raises(ValidationError) as err:
        services.import_job_create(upload=upload, **kwargs)
    assert field in err.value.message_dict and not ImportJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_job_runs_in_a_real_worker(celery_worker_process, table_slice):
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 30)), options={})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in {"finished", "failed"}:
            break
        time.sleep(0.3)
    assert job.state == "finished", job.errors
    assert job.task_id and job.counts["candidates_created"] == 30 and Candidate.objects.count() == 30
    job.upload.delete(save=False)  # the shared test media root: leave nothing behind
