"""The learning loop with a real Celery worker, Redis broker and PostgreSQL.

END-TO-END: labels arrive through ``label_create``, their commits request a run, the worker
trains, promotes, rescores (chord of ``score_chunk``) and rebuilds the queue; more labels and
a second run change predictions and the queue.
FAULT: the worker is SIGKILLed mid-retrain; the run ends failed with a clear error, a
follow-up run on a fresh worker succeeds, and no label is lost.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import spawn_celery_worker, stop_celery_worker, wait_until
from tests.learning.conftest import label_all
from vetting.learning import queue_selectors as page_selectors
from vetting.learning import services
from vetting.learning.models import ClassifierVersion, Prediction, QueueEntry, TrainingRun
from vetting.reviews.models import Consensus, Label

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: Quick training in the worker subprocess (its settings, vetting/settings/base.py, read these).
WORKER_ENV = {
    "VETTING_TRAINING_FAMILIES": "logistic,extra_trees",
    "VETTING_TRAINING_CV_FOLDS": "2",
    "VETTING_MISLABEL_FLAGS": "5",
    "VETTING_QUEUE_SIZE": "30",
    "VETTING_RETRAIN_EVERY_N_LABELS": "20",
    "VETTING_PROMOTION_TOLERANCE": "1.0",  # promotion itself is tested in test_services
    "VETTING_TRAINING_HEARTBEAT_S": "0.5",
}


@pytest.fixture
def training_env(monkeypatch):
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, value)


def _wait_for(predicate, timeout: float, what: str):
    return wait_until(predicate, timeout, what, poll_s=0.5, state=lambda: (
        f"runs: {list(TrainingRun.objects.values('pk', 'state', 'progress', 'message', 'error'))}"))


def _run_done(run_id: int):
    run = TrainingRun.objects.get(pk=run_id)
    return run if run.state in ("finished", "failed") else None


def _active_after(run_id: int):
    version = ClassifierVersion.objects.filter(training_run_id=run_id, is_active=True).first()
    return version


def test_end_to_end_labels_to_new_model_and_queue(
    training_env, celery_worker_process, make_population, vetter, vetter2, settings,
):
    from vetting.learning.tasks import retrain_if_due

    # One coalesced check, sent with the first label and run after the last of the 60.
    settings.VETTING_RETRAIN_CHECK_DELAY_S = 20
    pop = make_population(160, seed=11)
    label_all(pop[:60], vetter)
    # The label commits themselves request the run (a retrain check sent after commit; the beat
    # task is only a fallback): no call here.
    run = _wait_for(lambda: TrainingRun.objects.filter(trigger="threshold").first(), 60, "the requested run")
    run_id = run.pk
    assert retrain_if_due.delay().get(timeout=60) in (None, run_id)  # the beat finds nothing more to do
    run = _wait_for(lambda: _run_done(run_id), 240, "the first run")
    assert run.state == "finished", run.error
    assert run.trigger == "threshold" and run.n_labels == 60
    v1 = _wait_for(lambda: _active_after(run_id), 120, "the first version to be rescored and activated")
    assert Prediction.objects.filter(classifier_version=v1).count() == len(pop)
    queue1 = set(QueueEntry.objects.values_list("candidate_id", flat=True))
    assert queue1
    before = {p.candidate_id: p.probabilities for p in Prediction.objects.filter(classifier_version=v1)}

    # Vetters label what the queue showed them, then someone asks for a retrain from the API side.
    shown = page_selectors.queue_next(user=vetter2, limit=30)
    label_all([(c, c.simulated_truth) for c in shown], vetter2)
    label_all(pop[60:100], vetter)
    n_consensus = Consensus.objects.count()
    run2 = services.training_run_request(trigger="api")
    run2 = _wait_for(lambda: _run_done(run2.pk), 240, "the second run")
    assert run2.state == "finished", run2.error and run2.n_labels == n_consensus
    v2 = _wait_for(lambda: _active_after(run2.pk), 120, "the second version")
    v1.refresh_from_db()
    assert not v1.is_active and v1.status == "retired" and v2.n_labels == n_consensus
    after = {p.candidate_id: p.probabilities for p in Prediction.objects.filter(classifier_version=v2)}
    assert set(after) == set(before)
    # Predictions changed: every candidate's, except those both versions are certain of (the
    # calibrated ensemble may put probability 1.0 on easy synthetic candidates, rounded to 6 digits).
    certain = {c for c in after if max(after[c].values()) >= 0.999999 and max(before[c].values()) >= 0.999999}
    changed = sum(after[c] != before[c] for c in after)
    assert changed > (len(after) - len(certain)) // 2 and changed > 0
    queue2 = set(QueueEntry.objects.values_list("candidate_id", flat=True))
    assert queue2 != queue1 and not queue2 & {c.pk for c in shown} - set(
        QueueEntry.objects.filter(strategy="mislabel").values_list("candidate_id", flat=True)
    )


def test_worker_killed_mid_retrain_leaves_a_clear_state_and_loses_no_label(
    training_env, transactional_db, make_population, vetter, vetter2
):
    from vetting.celery import app

    pop = make_population(120, seed=12)
    label_all(pop[:60], vetter)
    # The label commits sent retrain checks (and a killed earlier worker's unacknowledged ones
    # come back from the broker): this worker must not act on them, so that this test's manual
    # run is the one it trains (the checks are tested end to end above).
    app.control.purge()
    slow = spawn_celery_worker(name="faultworker", queues="default,training",
                               extra_env={**WORKER_ENV, "VETTING_TRAINING_STEP_DELAY_S": "1.5",
                                          "VETTING_RETRAIN_EVERY_N_LABELS": "100000"})
    try:
        run = services.training_run_request(trigger="manual")
        _wait_for(lambda: TrainingRun.objects.filter(pk=run.pk, state="running", progress__gte=0.15).exists(),
                  120, "the run to be mid-way")
        os.killpg(slow.pid, signal.SIGKILL)  # the whole worker dies, mid-retrain
        slow.wait(timeout=10)
    finally:
        stop_celery_worker(slow)
    run.refresh_from_db()
    assert run.state == "running"  # nobody could tell it yet

    # Labels keep arriving while no worker is alive.
    label_all(pop[60:80], vetter2)
    time.sleep(2.0)
    assert services.recover_stale_runs(stale_after=1.5) == 1
    run.refresh_from_db()
    assert run.state == "failed" and "worker lost" in run.error and run.finished_at
    follow_up = TrainingRun.objects.get(state="queued")
    assert follow_up.trigger == "schedule"

    fresh = spawn_celery_worker(name="faultworker", queues="default,training", extra_env=WORKER_ENV)
    try:
        done = _wait_for(lambda: _run_done(follow_up.pk), 240, "the follow-up run")
        assert done.state == "finished", done.error
        _wait_for(lambda: _active_after(follow_up.pk), 120, "the follow-up version")
    finally:
        stop_celery_worker(fresh)
    assert Label.objects.count() == 80 and Consensus.objects.count() == 80
    assert done.n_labels == 80  # the follow-up trained on every label, including those made meanwhile
    assert not TrainingRun.objects.filter(state="running").exists()
    app.control.purge()
