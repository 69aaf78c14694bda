"""Import jobs fanned out as chunks (issue 16): planning, idempotent chunks, progress as the sum
of the chunks, chunk recovery; and with real Celery workers, chunks spread over two worker
processes and a chunk whose worker is killed mid-run is retried with no duplicate."""
from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from tests.candidates.conftest import KOI
from tests.conftest import wait_until
from vetting.candidates import services
from vetting.candidates.models import Candidate, ImportChunk, ImportJob, Target


def _upload(path):
    return ContentFile(path.read_bytes(), name=path.name)


@pytest.fixture
def no_broker(monkeypatch):
    """Record task publishes and chords instead of sending them."""
    sent = []

    def publish(name, args, **options):
        sent.append((name, list(args)))
        return type("Result", (), {"id": f"t-{len(sent)}"})()

    monkeypatch.setattr("vetting.core.jobs.publish", publish)
    return sent


@pytest.mark.django_db
def test_catalog_job_is_split_into_chunks_whose_counts_and_progress_add_up(table_slice, settings, no_broker):
    settings.VETTING_IMPORT_CHUNK_ROWS = 40
    path = table_slice(KOI, 150)
    whole = services.import_catalog_file(path=path)  # the one-task import, as a reference
    Candidate.objects.all().delete()
    Target.objects.all().delete()

    job = services.import_job_create(kind="catalog", upload=_upload(path))
    done = services.import_job_run(job_id=job.pk)
    assert done.state == "finished" and done.progress == 1.0 and done.errors == []
    chunks = list(done.chunks.order_by("index"))
    assert [c.size for c in chunks] == [40, 40, 40, 30] and all(c.state == "finished" for c in chunks)
    assert sum(c.counts["candidates_created"] for c in chunks) == done.counts["candidates_created"] == 150
    assert done.counts["rows"] == whole.counts["rows"] == 150
    assert done.counts["chunks"] == done.counts["chunks_finished"] == 4 and done.counts["chunks_failed"] == 0
    assert Candidate.objects.count() == 150 and Target.objects.count() == whole.counts["targets_created"]
    # the parts (the chunks' rows in storage) are deleted once the job ended
    from django.core.files.storage import default_storage

    assert not any(default_storage.exists(c.spec["part"]) for c in chunks)


@pytest.mark.django_db
def test_a_chunk_run_again_updates_and_never_duplicates(table_slice, settings, no_broker):
    settings.VETTING_IMPORT_CHUNK_ROWS = 25
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 60)))
    services.import_job_run(job_id=job.pk, fan_out=True)  # planned; the chord went nowhere
    job.refresh_from_db()
    chunks = list(job.chunks.order_by("index"))
    assert job.state == "running" and len(chunks) == 3 and all(c.state == "queued" for c in chunks)

    first = services.import_chunk_run(chunk_id=chunks[0].pk)
    assert first.state == "finished" and Candidate.objects.count() == 25
    job.refresh_from_db()
    assert job.state == "running" and job.progress == pytest.approx(25 / 60) and job.counts["chunks_finished"] == 1
    assert services.import_chunk_run(chunk_id=chunks[0].pk).attempts == 1  # a duplicate message: nothing
    # its worker "died" after writing: the chunk is queued again and re-run, rows are updated
    ImportChunk.objects.filter(pk=chunks[0].pk).update(state="queued")
    again = services.import_chunk_run(chunk_id=chunks[0].pk)
    assert again.attempts == 2 and again.counts["candidates_updated"] == 25 and Candidate.objects.count() == 25

    for chunk in chunks[1:]:
        services.import_chunk_run(chunk_id=chunk.pk)  # the last one ends the job
    job.refresh_from_db()
    assert job.state == "finished" and job.progress == 1.0 and Candidate.objects.count() == 60
    assert services.import_job_finish(job_id=job.pk).counts == job.counts  # the chord's final step: a no-op


@pytest.mark.django_db
def test_bad_rows_keep_their_upload_line_numbers_across_chunks(table_slice, settings, no_broker):
    settings.VETTING_IMPORT_CHUNK_ROWS = 10
    broken = table_slice(KOI, 30, edit=lambda i, line: line.rstrip("\n") + ",extra\n" if i in (3, 25) else line)
    reference = services.import_catalog_file(path=broken)
    job = services.import_job_run(job_id=services.import_job_create(kind="catalog", upload=_upload(broken)).pk)
    assert job.state == "finished" and job.errors == [str(e) for e in reference.errors] and len(job.errors) == 2
    assert job.counts["rows_rejected"] == reference.counts["rows_rejected"] == 2 and Candidate.objects.count() == 28


@pytest.mark.django_db
def test_a_bad_file_fails_the_job_before_any_chunk(tmp_path, no_broker):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    job = services.import_job_run(job_id=services.import_job_create(kind="catalog", upload=_upload(bad)).pk)
    assert job.state == "failed" and not job.chunks.exists() and not Candidate.objects.exists()


def _stale(chunk: ImportChunk, seconds: float = 600) -> None:
    """Pretend ``chunk`` started (attempt + 1) and last beat ``seconds`` ago, half done."""
    then = timezone.now() - timedelta(seconds=seconds)
    ImportChunk.objects.filter(pk=chunk.pk).update(state="running", attempts=chunk.attempts + 1, started_at=then,
                                                   heartbeat_at=then, created_at=then, done=chunk.size // 2)


@pytest.mark.django_db
def test_a_lost_chunk_is_requeued_then_failed_with_the_reason(table_slice, settings, no_broker):
    settings.VETTING_IMPORT_CHUNK_ROWS = 10
    settings.VETTING_IMPORT_MAX_ATTEMPTS = 2
    job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 20)))
    services.import_job_run(job_id=job.pk, fan_out=True)
    first, second = ImportChunk.objects.filter(job=job).order_by("index")
    services.import_chunk_run(chunk_id=second.pk)
    no_broker.clear()

    _stale(first)  # its worker died half-way (attempt 1)
    assert services.import_jobs_recover(stale_after_s=120) == {"requeued": 1, "failed": 0, "resent": 1}
    first.refresh_from_db()
    assert first.state == "queued" and first.done == 0 and "worker lost at 50%, attempt 1 of 2" in first.message
    assert no_broker == [("vetting.candidates.tasks.import_chunk_run", [first.pk])]
    assert ImportJob.objects.get(pk=job.pk).state == "running"  # a job with chunks is judged by them

    first.refresh_from_db()
    _stale(first)  # lost again, on its last attempt
    assert services.import_jobs_recover(stale_after_s=120)["failed"] == 1
    job.refresh_from_db()
    assert job.state == "failed" and "chunk 1 of 2" in job.errors[0] and "worker lost" in job.errors[0]
    assert job.counts["chunks_failed"] == 1 and job.counts["candidates_created"] == 10  # chunk 2's rows stay


@pytest.mark.django_db
def test_products_job_recomputes_stored_light_curves_in_chunks(settings, no_broker,
                                                               django_capture_on_commit_callbacks):
    from vetting.candidates.importers.demo import load_demo

    settings.VETTING_IMPORT_CHUNK_CANDIDATES = 3
    load_demo(n=8, seed=3, workers=1)
    Candidate.objects.update(features={}, plot_payload=None)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.products_job_create()
    assert job.kind == "products" and no_broker == [("vetting.candidates.tasks.import_job_run", [job.pk])]
    done = services.import_job_run(job_id=job.pk)
    assert done.state == "finished", done.errors
    assert [c.size for c in done.chunks.order_by("index")] == [3, 3, 2]
    assert done.counts["products_recomputed"] == 8 and done.counts["chunks"] == 3
    assert not Candidate.objects.filter(plot_payload=None).exists()


# --- real workers ---------------------------------------------------------------------------

def _wait(predicate, seconds: float, what: str):
    return wait_until(predicate, seconds, what, state=lambda: (
        f"chunks: {list(ImportChunk.objects.values('index', 'state', 'attempts', 'message'))}"))


def _ended(job_id: int):
    job = ImportJob.objects.get(pk=job_id)
    return job if job.state in ("finished", "failed") else None


SLOW = ("-I", "tests.candidates.slow_import")


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_chunks_run_on_two_worker_processes_and_progress_sums(table_slice, real_worker_media):
    from tests.conftest import spawn_celery_worker, stop_celery_worker
    from vetting.celery import app

    app.control.purge()
    env = {"SLOW_IMPORT_DELAY_S": "0.5", "VETTING_IMPORT_CHUNK_ROWS": "500", "VETTING_IMPORT_HEARTBEAT_S": "0.5"}
    workers = [spawn_celery_worker(name=f"fanout{i}", queues="imports", extra_args=SLOW, extra_env=env)
               for i in range(2)]
    try:
        job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 4000)))
        seen = []
        _wait(lambda: seen.append(ImportJob.objects.get(pk=job.pk).progress) or _ended(job.pk), 240, "the job")
    finally:
        for proc in workers:
            stop_celery_worker(proc)
    job.refresh_from_db()
    assert job.state == "finished", job.errors
    chunks = list(job.chunks.all())
    assert len(chunks) == 8 and all(c.state == "finished" and c.attempts == 1 for c in chunks)
    ran_on = {c.message.removeprefix("run by ") for c in chunks}
    assert ran_on == {proc.hostname for proc in workers}  # both worker processes took chunks
    assert Candidate.objects.count() == job.counts["candidates_created"] == 4000
    assert seen == sorted(seen) and any(0 < p < 1 for p in seen)  # progress grew with the chunks
    assert job.counts["chunks_finished"] == 8


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_chunk_then_chunk_is_retried_and_job_completes_without_duplicates(
        table_slice, real_worker_media):
    from tests.conftest import spawn_celery_worker, stop_celery_worker
    from vetting.celery import app

    app.control.purge()
    env = {"VETTING_IMPORT_CHUNK_ROWS": "2000", "VETTING_IMPORT_HEARTBEAT_S": "0.5"}
    slow = spawn_celery_worker(name="chunkfault", queues="imports", extra_args=SLOW,
                               extra_env={**env, "SLOW_IMPORT_DELAY_S": "4"})
    try:
        job = services.import_job_create(kind="catalog", upload=_upload(table_slice(KOI, 6000)))
        victim = _wait(lambda: ImportChunk.objects.filter(job=job, state="running").first(), 120,
                       "a chunk to be running")
        time.sleep(1.0)  # mid-chunk: its rows are being written, its progress report sleeps
        os.killpg(slow.pid, signal.SIGKILL)  # the whole worker dies, mid-chunk
        slow.wait(timeout=10)
    finally:
        stop_celery_worker(slow)
    victim.refresh_from_db()
    assert victim.state == "running" and victim.attempts == 1
    assert services.import_jobs_recover(stale_after_s=60)["requeued"] == 0  # its heartbeat is fresh
    time.sleep(2.5)
    assert services.import_jobs_recover(stale_after_s=2)["requeued"] == 1
    victim.refresh_from_db()
    assert victim.state == "queued" and "worker lost" in victim.message and victim.task_id  # re-sent

    fresh = [spawn_celery_worker(name=f"chunkfresh{i}", queues="imports", extra_env=env) for i in range(2)]
    try:
        done = _wait(lambda: _ended(job.pk), 180, "the job to end")
    finally:
        for proc in fresh:
            stop_celery_worker(proc)
    app.control.purge()
    victim.refresh_from_db()
    assert done.state == "finished", done.errors
    assert victim.state == "finished" and victim.attempts == 2
    assert Candidate.objects.count() == done.counts["rows"] == 6000  # retried without duplicates
    assert done.progress == 1.0 and done.counts["chunks_finished"] == 3
