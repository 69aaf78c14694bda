"""ImportJob rows: created with an upload, run by the service and by a real Celery worker."""
from __future__ import annotations

import os
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

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


# --- liveness: claim, heartbeat, recovery (issue 12, defect 1) ---------------------------------

def _fake_publish(monkeypatch, sent: list, *, fail: bool = False):
    """Replace the broker publish: record ``(name, args)`` or raise like a dead broker."""
    def publish(name, args, **options):
        if fail:
            raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        sent.append((name, list(args)))
        return type("Result", (), {"id": f"t-{len(sent)}"})()

    monkeypatch.setattr("vetting.core.jobs.publish", publish)


def _age(job: ImportJob, *, seconds: float, **fields) -> None:
    """Pretend ``job`` was created (and its heartbeat last seen) ``seconds`` ago."""
    from datetime import timedelta

    then = timezone.now() - timedelta(seconds=seconds)
    stamps = {"created_at": then}
    if fields.get("state") == "running":
        stamps |= {"started_at": then, "heartbeat_at": then}
    ImportJob.objects.filter(pk=job.pk).update(**stamps, **fields)


@pytest.mark.django_db
def test_job_claim_counts_attempts_and_beats(table_slice, monkeypatch):
    _fake_publish(monkeypatch, [])
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 5)))
    done = services.import_job_run(job_id=job.pk, task_id="task-abc")
    assert done.state == "finished" and done.attempts == 1 and done.task_id == "task-abc"
    assert done.heartbeat_at is not None and done.heartbeat_at >= done.started_at


@pytest.mark.django_db
def test_job_whose_worker_died_is_requeued_resent_and_resumed_idempotently(table_slice, monkeypatch):
    """Defect 1: a worker killed mid-import left the job ``running`` forever."""
    sent = []
    _fake_publish(monkeypatch, sent)
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 30)))
    services.import_catalog_file(path=job.upload.path)  # the dead worker's partial work
    _age(job, seconds=600, state="running", progress=0.27, attempts=1, task_id="dead-task")
    sent.clear()

    assert services.import_jobs_recover(stale_after_s=120) == {"requeued": 1, "failed": 0, "resent": 1}
    job.refresh_from_db()
    assert job.state == "queued" and "worker lost at 27%, attempt 1 of 3" in job.message
    assert sent == [("vetting.candidates.tasks.import_job_run", [job.pk])] and job.task_id == "t-1"
    assert services.import_jobs_recover(stale_after_s=120)["requeued"] == 0  # nothing twice

    done = services.import_job_run(job_id=job.pk, task_id="t-1")
    assert done.state == "finished" and done.attempts == 2
    assert Candidate.objects.count() == 30  # re-imported rows were updated, never duplicated


@pytest.mark.django_db
def test_job_lost_too_often_is_failed_with_the_reason(table_slice, monkeypatch, settings):
    settings.VETTING_IMPORT_MAX_ATTEMPTS = 2
    sent = []
    _fake_publish(monkeypatch, sent)
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 3)))
    _age(job, seconds=600, state="running", progress=0.5, attempts=2)
    sent.clear()
    assert services.import_jobs_recover(stale_after_s=120)["failed"] == 1
    job.refresh_from_db()
    assert job.state == "failed" and job.finished_at and sent == []
    assert "worker lost at 50%, attempt 2 of 2" in job.errors[0] and "no heartbeat" in job.errors[0]


@pytest.mark.django_db
def test_running_job_with_a_fresh_heartbeat_is_left_alone(table_slice, monkeypatch):
    _fake_publish(monkeypatch, [])
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 3)))
    _age(job, seconds=600, state="running", attempts=1)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())  # it is alive
    assert services.import_jobs_recover(stale_after_s=120) == {"requeued": 0, "failed": 0, "resent": 0}
    assert ImportJob.objects.get(pk=job.pk).state == "running"


@pytest.mark.django_db
def test_job_accepted_while_the_broker_was_down_is_resent_by_beat(table_slice, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    """Defect 1: an upload while Redis was down stayed ``queued`` with no task id forever."""
    with django_capture_on_commit_callbacks(execute=True):
        _fake_publish(monkeypatch, [], fail=True)
        job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 3)))
    assert job.task_id == "" and ImportJob.objects.get(pk=job.pk).task_id == ""
    assert services.import_jobs_recover(requeue_after_s=0)["resent"] == 0  # broker still down: kept

    sent = []
    _fake_publish(monkeypatch, sent)  # the broker is back
    assert services.import_jobs_recover(requeue_after_s=3600)["resent"] == 0  # too young to tell
    assert services.import_jobs_recover(requeue_after_s=0)["resent"] == 1
    assert sent == [("vetting.candidates.tasks.import_job_run", [job.pk])]
    assert ImportJob.objects.get(pk=job.pk).task_id == "t-1"
    assert services.import_jobs_recover(requeue_after_s=0)["resent"] == 0  # sent once: it waits its turn


@pytest.mark.django_db
def test_job_whose_message_was_lost_is_resent_when_nothing_runs(table_slice, monkeypatch, settings):
    settings.VETTING_QUEUED_STUCK_AFTER_S = 900
    sent = []
    _fake_publish(monkeypatch, sent)
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 3)))
    _age(job, seconds=1000, task_id="lost-with-redis")
    other = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 3)))
    _age(other, seconds=10, state="running", attempts=1)
    sent.clear()
    assert services.import_jobs_recover()["resent"] == 0  # an import runs: the queue is moving
    ImportJob.objects.filter(pk=other.pk).update(state="finished")
    assert services.import_jobs_recover()["resent"] == 1 and sent[0][1] == [job.pk]


# --- retention of uploaded files (issue 12, defect 10) ----------------------------------------

@pytest.mark.django_db
def test_uploads_of_ended_jobs_are_deleted_after_their_retention(table_slice, settings, monkeypatch):
    """Defect 10: uploaded files of failed jobs were kept forever."""
    from datetime import timedelta

    settings.VETTING_UPLOAD_RETENTION_DAYS = 7
    settings.VETTING_FAILED_UPLOAD_RETENTION_DAYS = 30
    _fake_publish(monkeypatch, [])
    now = timezone.now()

    def job_in(state: str, days_ago: float | None) -> ImportJob:
        job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 3)))
        finished = now - timedelta(days=days_ago) if days_ago is not None else None
        ImportJob.objects.filter(pk=job.pk).update(state=state, finished_at=finished)
        return ImportJob.objects.get(pk=job.pk)

    old_finished, new_finished = job_in("finished", 8), job_in("finished", 6)
    old_failed, new_failed = job_in("failed", 31), job_in("failed", 8)
    queued, running = job_in("queued", None), job_in("running", None)
    paths = {job.pk: job.upload.path for job in ImportJob.objects.all()}
    size = old_finished.upload.size + old_failed.upload.size

    assert services.import_uploads_purge(now=now) == {"files": 2, "bytes": size}
    for job, purged in ((old_finished, True), (new_finished, False), (old_failed, True), (new_failed, False),
                        (queued, False), (running, False)):
        job.refresh_from_db()
        assert (job.upload.name == "") is purged and (job.upload_purged_at is not None) is purged, job.state
        assert (not os.path.exists(paths[job.pk])) is purged
    assert ImportJob.objects.count() == 6  # the rows (counts, errors) stay
    assert services.import_uploads_purge(now=now) == {"files": 0, "bytes": 0}
    # a purged job that is somehow re-run fails cleanly instead of crashing the worker
    ImportJob.objects.filter(pk=old_finished.pk).update(state="queued")
    assert services.import_job_run(job_id=old_finished.pk).state == "failed"


# A real worker killed mid-import: tests/candidates/test_import_fanout.py (the chunk it ran is
# retried and the job completes without duplicates).
