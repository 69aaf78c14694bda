"""Training runs: request, claim and execute, fail, recover, and the periodic retrain check.

A run's life (:func:`training_run_execute`):

1. claim: conditional UPDATE ``queued -> running``; the partial unique constraint
   ``one_running_training_run`` turns a second concurrent claim into an IntegrityError (BUSY);
2. ``training.train_and_decide``: snapshot the consensus labels (hash), featurise, train with
   grouped cross-validation, flag suspected mislabels, save the artifact, create the
   ``ClassifierVersion``, decide promotion, finish the run;
3. if promoted: rescore every candidate in chunks (Celery chord, or synchronously), then
   activate the version, rebuild the queue and prune superseded predictions
   (``rescoring.rescore_finish``).

A heartbeat thread refreshes ``heartbeat_at`` while the run is running; :func:`recover_stale_runs`
fails runs whose heartbeat stopped (dead worker) and requests a follow-up run. The task
``run_training`` is sent by name after commit (:mod:`vetting.core.jobs`); this module imports
no task.
"""
from __future__ import annotations

import logging
import traceback

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F

from vetting.core import jobs, liveness
from vetting.learning.models import TrainingRun
from vetting.learning.services import progress, training

logger = logging.getLogger(__name__)

#: ``training_run_execute`` outcome when another run holds the one-running lock.
BUSY = "busy"
#: Outcomes of a redelivered or superseded task that had nothing to do.
SKIPPED = "skipped"
ABORTED = "aborted"

#: Registered name of the task that executes a run (``vetting.learning.tasks.run_training``).
RUN_TRAINING_TASK = "vetting.learning.tasks.run_training"


def _store_task_id(run_id: int):
    def store(task_id: str) -> None:
        TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.QUEUED).update(task_id=task_id)

    return store


@transaction.atomic
def training_run_request(*, trigger: str, requested_by=None) -> TrainingRun:
    """Ask for a retrain; returns the queued run (existing or new).

    Coalescing: while a queued run exists every request returns it (requests made while a run
    is running coalesce into that single follow-up run). Otherwise a queued run is created and
    ``run_training`` is enqueued after commit. A broker outage does not fail the request.
    """
    if trigger not in TrainingRun.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}; expected one of {sorted(TrainingRun.Trigger.values)}")
    # Serialise concurrent requests so two callers never create two queued runs.
    progress.advisory_lock("training_run_request")
    existing = TrainingRun.objects.filter(state=TrainingRun.State.QUEUED).order_by("created_at").first()
    if existing is not None:
        return existing
    run = TrainingRun(trigger=trigger, requested_by=requested_by, state=TrainingRun.State.QUEUED)
    run.full_clean()
    run.save()
    jobs.send_on_commit(RUN_TRAINING_TASK, run.pk, retry=False, then=_store_task_id(run.pk))
    return run


def _claim(run_id: int, task_id: str) -> str | None:
    """Claim queued run ``run_id`` (None when claimed), else the outcome to return.

    A redelivered message finds its run finished/failed (SKIPPED), running with a fresh
    heartbeat elsewhere (SKIPPED), or running with a stale heartbeat: its worker died, so it
    is failed here and a follow-up is requested.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.state in (TrainingRun.State.FINISHED, TrainingRun.State.FAILED):
            return SKIPPED
        if run.state == TrainingRun.State.RUNNING:
            if progress.is_stale(run):
                _fail_lost_run(run, "worker lost: the task was redelivered while the run had no heartbeat")
            return SKIPPED
        try:
            with transaction.atomic():  # savepoint: the IntegrityError must not poison the outer block
                claimed = TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.QUEUED).update(
                    state=TrainingRun.State.RUNNING, started_at=progress.now(), heartbeat_at=progress.now(),
                    attempts=F("attempts") + 1, task_id=task_id[:64], progress=0.0,
                    message="started", error="",
                )
        except IntegrityError:
            return BUSY  # the partial unique constraint: another run is running
    return None if claimed else SKIPPED


def _fail_lost_run(run: TrainingRun, reason: str) -> bool:
    """Fail a running run whose worker is gone and request a follow-up; False if not running."""
    beat = run.heartbeat_at or run.started_at
    error = f"{reason} (last heartbeat {beat.isoformat() if beat else 'never'}); a follow-up run was requested"
    updated = TrainingRun.objects.filter(pk=run.pk, state=TrainingRun.State.RUNNING).update(
        state=TrainingRun.State.FAILED, error=error, finished_at=progress.now(), message="worker lost"
    )
    if updated:
        logger.warning("training run %s failed: %s", run.pk, error)
        training_run_request(trigger=TrainingRun.Trigger.SCHEDULE)
    return bool(updated)


def training_run_fail(*, run_id: int, error: str) -> bool:
    """Mark a running run failed with ``error``; False if it was not running."""
    return bool(
        TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.RUNNING).update(
            state=TrainingRun.State.FAILED, error=error, finished_at=progress.now()
        )
    )


def training_run_execute(*, run_id: int, task_id: str = "", rescore: str = "async") -> str:
    """Claim and execute training run ``run_id``; returns the outcome.

    Outcomes: ``"finished"``, ``"failed"`` (error stored on the run), ``BUSY`` (another run
    holds the lock: retry later), ``SKIPPED`` (nothing to do: redelivered or already done),
    ``ABORTED`` (the run was failed by ``recover_stale_runs`` while we worked).
    ``rescore="async"`` rescores through a Celery chord (worker); ``"sync"`` in-process
    (commands, tests).
    """
    if rescore not in ("async", "sync"):
        raise ValueError(f"rescore must be 'async' or 'sync'; got {rescore!r}")
    outcome = _claim(run_id, task_id)
    if outcome is not None:
        return outcome
    try:
        with progress.Heartbeat(run_id):
            training.train_and_decide(run_id, rescore=rescore)
    except progress.RunAborted as exc:
        logger.warning("%s", exc)
        return ABORTED
    except Exception as exc:  # any failure ends the run clearly; nothing is left running
        if not connection.in_atomic_block:
            close_old_connections()  # a broken connection must not stop us recording the failure
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, training.NotEnoughLabels):
            error += "\n" + "".join(traceback.format_exc(limit=8))
            logger.exception("training run %s failed", run_id)
        training_run_fail(run_id=run_id, error=error)
        if isinstance(exc, jobs.TRANSIENT_ERRORS):
            training_run_request(trigger=TrainingRun.Trigger.SCHEDULE)  # try again later
        return TrainingRun.State.FAILED
    return TrainingRun.State.FINISHED


# --- Periodic tasks ----------------------------------------------------------------------------

def _resend_lost_queued_runs(older_than_s: float) -> int:
    """Re-publish queued runs whose task never started (broker was down, or its message was
    lost), if none is running (:func:`vetting.core.liveness.resend_queued`; a duplicate message
    is harmless: the claim is conditional)."""
    if TrainingRun.objects.filter(state=TrainingRun.State.RUNNING).exists():
        return 0  # their message would only find the lock taken
    return liveness.resend_queued(TrainingRun.objects.all(), RUN_TRAINING_TASK, older_than_s=older_than_s,
                                  only_unsent=False)


def retrain_if_due(*, requeue_after_s: float | None = None) -> TrainingRun | None:
    """Request a run when it is due (``selectors.retrain_status``): at least
    ``VETTING_RETRAIN_EVERY_N_LABELS`` training labels the active model has not seen, and at
    least a fifth of that many new since the last run (so a rejected run's labels keep counting
    and a retry follows soon, without retraining on every further label). Also re-sends queued
    runs whose task never started (older than ``requeue_after_s``, default
    ``VETTING_REQUEUE_AFTER_S``). Returns the requested run.

    Called right after label commits (``vetting.reviews.services`` sends the task by name) and by
    the beat as a fallback.
    """
    from vetting.learning.selectors import retrain_status

    if requeue_after_s is None:
        requeue_after_s = float(settings.VETTING_REQUEUE_AFTER_S)
    _resend_lost_queued_runs(requeue_after_s)
    status = retrain_status()
    if status["due"]:
        logger.info("%s training labels unseen by the active model (%s since the last run; threshold %s): "
                    "retraining", status["unseen"], status["since_last_run"], status["threshold"])
        return training_run_request(trigger=TrainingRun.Trigger.THRESHOLD)
    return None


def recover_stale_runs(*, stale_after: float | None = None) -> int:
    """Fail running runs whose heartbeat is older than ``stale_after`` seconds (a dead worker;
    default ``VETTING_TRAINING_STALE_AFTER_S``) and request a follow-up run; returns how many.
    """
    seconds = stale_after if stale_after is not None else progress.stale_after_s()
    failed = 0
    for run in liveness.stale_running(TrainingRun.objects.all(), seconds):
        with transaction.atomic():
            failed += _fail_lost_run(run, f"worker lost: no heartbeat for more than {seconds:.0f} s")
    return failed
