"""Writes of the learning app: training-run requests, the retrain itself, rescoring, queue.

Tasks, views, the API, the admin and the ``retrain`` command call these functions; the logic
lives here and in ``classifier`` (Django-free). Each public function is keyword-only.

A run's life (``training_run_execute``):

1. claim: conditional UPDATE ``queued -> running``; the partial unique constraint
   ``one_running_training_run`` turns a second concurrent claim into an IntegrityError (BUSY);
2. snapshot the consensus labels (hash), featurise, train with grouped cross-validation;
3. flag suspected mislabels from the out-of-fold probabilities;
4. save the artifact, create the ``ClassifierVersion`` and decide promotion (not worse than the
   active version by ``classifier.evaluation.compare``), finish the run;
5. if promoted: rescore every candidate in chunks (Celery group, or synchronously; short
   upsert transactions with pauses), then activate the version, rebuild the queue and prune
   the predictions of superseded versions (``rescore_finish``).

A heartbeat thread refreshes ``heartbeat_at`` while the run is running; ``recover_stale_runs``
fails runs whose heartbeat stopped (dead worker) and requests a follow-up run.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from vetting.learning.models import ClassifierVersion, MislabelFlag, Prediction, QueueEntry, TrainingRun

logger = logging.getLogger(__name__)

#: ``training_run_execute`` outcome when another run holds the one-running lock.
BUSY = "busy"
#: Outcomes of a redelivered or superseded task that had nothing to do.
SKIPPED = "skipped"
ABORTED = "aborted"


def _setting(name: str, default):
    """A domain setting, else the environment variable of the same name, else ``default``.

    The environment fallback lets a test worker subprocess get test-only knobs
    (e.g. ``VETTING_TRAINING_STEP_DELAY_S``) without a settings module of its own.
    """
    if hasattr(settings, name):
        return getattr(settings, name)
    raw = os.environ.get(name)
    if raw is None:
        return default
    return type(default)(raw) if default is not None else raw


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a running run counts as dead (default 120 s)."""
    return float(_setting("VETTING_TRAINING_STALE_AFTER_S", 120.0))


def heartbeat_every_s() -> float:
    """Seconds between heartbeats of a running run (default 5 s)."""
    return float(_setting("VETTING_TRAINING_HEARTBEAT_S", 5.0))


def _enqueue_run(run_id: int) -> None:
    """Publish ``run_training`` for a run; a dead broker is logged, never raised.

    The row stays queued and the periodic ``retrain_if_due`` task re-sends queued runs whose
    task never started, so a broker outage loses nothing.
    """
    from vetting.learning.tasks import run_training

    try:
        result = run_training.apply_async(args=[run_id], retry=False)
    except Exception as exc:  # kombu/redis raise many types; the request must not fail.
        logger.warning("training run %s stays queued: broker publish failed: %s", run_id, exc)
        return
    TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.QUEUED).update(task_id=result.id or "")


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
    _advisory_lock("training_run_request")
    existing = TrainingRun.objects.filter(state=TrainingRun.State.QUEUED).order_by("created_at").first()
    if existing is not None:
        return existing
    run = TrainingRun(trigger=trigger, requested_by=requested_by, state=TrainingRun.State.QUEUED)
    run.full_clean()
    run.save()
    transaction.on_commit(lambda: _enqueue_run(run.pk))
    return run


def _advisory_lock(name: str) -> None:
    """Transaction-scoped PostgreSQL advisory lock (no-op on other databases)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"vetting.learning.{name}"])


# --- Curation: send candidates back to the vetting queue (added for the admin) ---------------
#: Strategy name of queue entries a curator put back for re-vetting.
REVET_STRATEGY = "re-vet"


@transaction.atomic
def queue_requeue(*, candidate_ids: list[int], reason: str = "") -> int:
    """Put candidates at the head of the vetting queue for re-vetting; returns how many.

    Creates or updates one ``QueueEntry`` per candidate with strategy ``"re-vet"`` and a
    priority above every current entry, so vetters see them next. Unknown ids are skipped.
    Idempotent: requeueing twice keeps one entry per candidate (``candidate`` is unique).
    """
    from django.db.models import Max

    from vetting.candidates.models import Candidate
    from vetting.learning.models import QueueEntry

    ids = sorted(set(Candidate.objects.filter(pk__in=list(candidate_ids)).values_list("pk", flat=True)))
    if not ids:
        return 0
    _advisory_lock("queue")
    top = QueueEntry.objects.aggregate(top=Max("priority"))["top"] or 0.0
    for pk in ids:
        QueueEntry.objects.update_or_create(
            candidate_id=pk,
            defaults={"priority": top + 1.0, "strategy": REVET_STRATEGY, "classifier_version": None},
        )
    logger.info(
        "candidates requeued for re-vetting",
        extra={"event": "queue_requeue", "n_candidates": len(ids), "reason": reason[:200]},
    )
    return len(ids)


# --- Executing a run ---------------------------------------------------------------------------

class _RunAborted(Exception):
    """The run is no longer ``running`` (e.g. ``recover_stale_runs`` failed it): stop quietly."""


class NotEnoughLabels(ValueError):
    """The consensus labels cannot train a classifier yet (too few, one class, one star)."""


#: Least consensus labels a run trains on.
MIN_LABELS = 10


def _now():
    return timezone.now()


def _step(run_id: int, progress: float, message: str) -> None:
    """Record progress and a heartbeat; abort if the run was taken away from us.

    ``VETTING_TRAINING_STEP_DELAY_S`` (test-only, default 0) sleeps before each step so a
    fault test can kill the worker mid-run.
    """
    delay = float(_setting("VETTING_TRAINING_STEP_DELAY_S", 0.0))
    if delay > 0:
        time.sleep(delay)
    updated = TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.RUNNING).update(
        progress=min(max(progress, 0.0), 1.0), message=message[:255], heartbeat_at=_now()
    )
    if not updated:
        raise _RunAborted(f"training run {run_id} is no longer running")
    logger.info("training run %s: %s (%.0f%%)", run_id, message, 100 * progress)


class _Heartbeat:
    """Refresh ``heartbeat_at`` every ``heartbeat_every_s()`` seconds from a daemon thread.

    Long steps (a fit) make no progress updates; the thread keeps the run visibly alive. If
    the process dies, the thread dies with it and the heartbeat goes stale.
    """

    def __init__(self, run_id: int):
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(heartbeat_every_s()):
                try:
                    TrainingRun.objects.filter(pk=self.run_id, state=TrainingRun.State.RUNNING).update(
                        heartbeat_at=_now()
                    )
                except Exception:  # a missed beat is not fatal; the next one may succeed
                    logger.exception("heartbeat of training run %s failed", self.run_id)
        finally:
            connection.close()  # this thread's own connection


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
            if _is_stale(run):
                _fail_lost_run(run, "worker lost: the task was redelivered while the run had no heartbeat")
            return SKIPPED
        try:
            with transaction.atomic():  # savepoint: the IntegrityError must not poison the outer block
                claimed = TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.QUEUED).update(
                    state=TrainingRun.State.RUNNING, started_at=_now(), heartbeat_at=_now(),
                    attempts=F("attempts") + 1, task_id=task_id[:64], progress=0.0,
                    message="started", error="",
                )
        except IntegrityError:
            return BUSY  # the partial unique constraint: another run is running
    return None if claimed else SKIPPED


def _is_stale(run: TrainingRun, stale_after: float | None = None) -> bool:
    beat = run.heartbeat_at or run.started_at or run.created_at
    return beat < _now() - timedelta(seconds=stale_after if stale_after is not None else stale_after_s())


def _fail_lost_run(run: TrainingRun, reason: str) -> bool:
    """Fail a running run whose worker is gone and request a follow-up; False if not running."""
    beat = run.heartbeat_at or run.started_at
    error = f"{reason} (last heartbeat {beat.isoformat() if beat else 'never'}); a follow-up run was requested"
    updated = TrainingRun.objects.filter(pk=run.pk, state=TrainingRun.State.RUNNING).update(
        state=TrainingRun.State.FAILED, error=error, finished_at=_now(), message="worker lost"
    )
    if updated:
        logger.warning("training run %s failed: %s", run.pk, error)
        training_run_request(trigger=TrainingRun.Trigger.SCHEDULE)
    return bool(updated)


def training_run_fail(*, run_id: int, error: str) -> bool:
    """Mark a running run failed with ``error``; False if it was not running."""
    return bool(
        TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.RUNNING).update(
            state=TrainingRun.State.FAILED, error=error, finished_at=_now()
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
        with _Heartbeat(run_id):
            _train_and_decide(run_id, rescore=rescore)
    except _RunAborted as exc:
        logger.warning("%s", exc)
        return ABORTED
    except Exception as exc:  # any failure ends the run clearly; nothing is left running
        from vetting.learning.tasks import TRANSIENT_ERRORS

        if not connection.in_atomic_block:
            close_old_connections()  # a broken connection must not stop us recording the failure
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, NotEnoughLabels):
            error += "\n" + "".join(traceback.format_exc(limit=8))
            logger.exception("training run %s failed", run_id)
        training_run_fail(run_id=run_id, error=error)
        if isinstance(exc, TRANSIENT_ERRORS):
            training_run_request(trigger=TrainingRun.Trigger.SCHEDULE)  # try again later
        return TrainingRun.State.FAILED
    return TrainingRun.State.FINISHED


def label_snapshot() -> tuple[np.ndarray, np.ndarray]:
    """The training labels now: (candidate ids (n,) int64 ascending, class codes (n,) object).

    ``reviews.Consensus`` already leaves out labels excluded from training; catalog-only
    consensus (method ``catalog``) counts only when ``VETTING_INCLUDE_CATALOG_LABELS``.
    """
    from vetting.reviews.models import Consensus

    qs = Consensus.objects.order_by("candidate_id")
    if not settings.VETTING_INCLUDE_CATALOG_LABELS:
        qs = qs.exclude(method="catalog")
    rows = list(qs.values_list("candidate_id", "label_class"))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    labels = np.array([r[1] for r in rows], dtype=object)
    return ids, labels


def snapshot_hash(candidate_ids: np.ndarray, labels: np.ndarray) -> str:
    """Stable hash of a label snapshot (order-independent; see classifier.persistence)."""
    from classifier.persistence import label_snapshot_hash

    return label_snapshot_hash(zip((str(i) for i in candidate_ids.tolist()), (str(c) for c in labels.tolist())))


def _check_trainable(labels: np.ndarray, groups: np.ndarray) -> None:
    if len(labels) < MIN_LABELS:
        raise NotEnoughLabels(f"not enough consensus labels to train: {len(labels)} < {MIN_LABELS}")
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise NotEnoughLabels(f"consensus labels cover only one class ({classes}); need at least two")
    if len(np.unique(groups)) < 2:
        raise NotEnoughLabels("labeled candidates lie on a single star; grouped validation needs two or more")


def _train_and_decide(run_id: int, *, rescore: str) -> None:
    from classifier.training import train
    from vetting.learning.featurize import build_matrix

    _step(run_id, 0.05, "freezing the label snapshot")
    ids, labels = label_snapshot()
    snap = snapshot_hash(ids, labels)
    TrainingRun.objects.filter(pk=run_id).update(label_snapshot_hash=snap, n_labels=len(ids))

    _step(run_id, 0.15, f"building features of {len(ids)} labeled candidates")
    matrix = build_matrix(ids)
    by_id = dict(zip(ids.tolist(), labels.tolist()))
    y = np.array([by_id[i] for i in matrix.candidate_ids.tolist()], dtype=object)
    _check_trainable(y, matrix.groups)

    _step(run_id, 0.3, "training with grouped cross-validation")
    seed = int(settings.VETTING_TRAINING_SEED)
    model_params = {}
    families = _setting("VETTING_TRAINING_FAMILIES", None)  # optional override of the profile's families
    if families:
        model_params["families"] = [f.strip() for f in families.split(",")] if isinstance(families, str) else list(families)
    result = train(
        matrix.X.astype(np.float64), y, matrix.groups, seed=seed,
        profile=settings.VETTING_TRAINING_PROFILE, n_splits=int(_setting("VETTING_TRAINING_CV_FOLDS", 3)),
        **model_params,
    )

    _step(run_id, 0.7, "flagging suspected mislabels")
    n_flags = _flag_mislabels(run_id, matrix.candidate_ids, y, result.oof_proba, result.classes)

    _step(run_id, 0.8, "saving the model artifact")
    version = _create_version(run_id, result, matrix.feature_names, snap, len(y), seed)

    if version.status == ClassifierVersion.Status.PROMOTED and rescore == "sync":
        _step(run_id, 0.85, "rescoring all candidates")
        rescore_sync(version=version, run_id=run_id)
    message = (
        f"{version.name} {version.status}: {version.decision_reason}; {n_flags} suspected mislabels flagged"
    )
    if version.status == ClassifierVersion.Status.PROMOTED and rescore == "async":
        message = f"{version.name} promoted; rescoring candidates in the background"
    finished = TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.RUNNING).update(
        state=TrainingRun.State.FINISHED, progress=1.0, finished_at=_now(), message=message[:255]
    )
    if not finished:
        raise _RunAborted(f"training run {run_id} was taken away before it could finish")
    if version.status == ClassifierVersion.Status.PROMOTED and rescore == "async":
        transaction.on_commit(lambda: rescore_async(version_id=version.pk, run_id=run_id))


def _flag_mislabels(run_id: int, candidate_ids: np.ndarray, y: np.ndarray, oof_proba, classes) -> int:
    """Flag the labeled candidates whose consensus the out-of-fold model finds least likely."""
    from classifier.active import rank_suspected_mislabels

    if oof_proba is None:
        return 0
    top = int(_setting("VETTING_MISLABEL_FLAGS", 20))
    classes = list(classes)
    order, suspicion = rank_suspected_mislabels(y, oof_proba, classes)
    flags = []
    for i in order[:top].tolist():
        # Normalised margin: suspicion > 0.5 means another class beats the given one out of fold.
        if suspicion[i] <= 0.5:
            break
        others = np.array(oof_proba[i], dtype=float)
        others[classes.index(y[i])] = -np.inf
        flags.append(MislabelFlag(
            candidate_id=int(candidate_ids[i]), training_run_id=run_id, given_class=str(y[i]),
            suggested_class=classes[int(np.argmax(others))], score=float(1.0 - suspicion[i]),
        ))
    with transaction.atomic():
        # A newer cross-validation supersedes older suspicions.
        MislabelFlag.objects.filter(is_open=True).update(is_open=False)
        MislabelFlag.objects.bulk_create(flags, ignore_conflicts=True)
    return len(flags)


def _artifact_dir() -> Path:
    path = Path(settings.VETTING_ARTIFACT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _artifact_name(path: Path) -> str:
    """FileField name: relative to MEDIA_ROOT when inside it, else the absolute path."""
    try:
        return str(path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
    except ValueError:
        return str(path.resolve())


def artifact_path(version: ClassifierVersion) -> Path:
    """Absolute path of a version's artifact file."""
    name = Path(version.artifact.name)
    return name if name.is_absolute() else Path(settings.MEDIA_ROOT) / name


def _next_version_name() -> str:
    n = ClassifierVersion.objects.count() + 1
    while ClassifierVersion.objects.filter(name=f"v{n}").exists():
        n += 1
    return f"v{n}"


def _create_version(run_id, result, feature_names, snap: str, n_labels: int, seed: int) -> ClassifierVersion:
    """Save the artifact, create the version and record the promotion decision."""
    from classifier.evaluation import compare
    from classifier.persistence import read_metadata, save_artifact

    name = _next_version_name()
    path = save_artifact(
        result.model, _artifact_dir(), feature_names=list(feature_names), classes=list(result.classes),
        seed=seed, label_hash=snap, metrics=result.metrics,
        extra={"name": name, "n_labels": n_labels, "training_run": run_id,
               "profile": settings.VETTING_TRAINING_PROFILE},
    )
    meta = read_metadata(path)
    sha256 = meta["sha256"]
    library_versions = meta.get("library_versions") or {}
    code_version = str(meta.get("code_version") or "unknown")[:64]

    _step(run_id, 0.82, "comparing with the active model")
    tolerance = float(_setting("VETTING_PROMOTION_TOLERANCE", 0.01))
    with transaction.atomic():
        _advisory_lock("promotion")
        active = ClassifierVersion.objects.filter(is_active=True).first()
        ok, reason = compare(result.metrics, active.metrics if active else None, tolerance=tolerance)
        if active is not None:
            reason = f"vs {active.name}: {reason}"
        version = ClassifierVersion(
            name=name, training_run_id=run_id, artifact=_artifact_name(path), artifact_sha256=sha256,
            metrics=_jsonable(result.metrics), label_snapshot_hash=snap, n_labels=n_labels,
            classes=list(result.classes), feature_names=list(feature_names),
            library_versions=library_versions, code_version=code_version, seed=seed,
            status=ClassifierVersion.Status.PROMOTED if ok else ClassifierVersion.Status.REJECTED,
            decision_reason=reason,
        )
        version.full_clean()
        version.save()
    return version


def _jsonable(value):
    """Metrics dict -> plain JSON types (numpy scalars, NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if value != value or value in (float("inf"), float("-inf")) else value
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- Rescoring ---------------------------------------------------------------------------------

#: Candidates per ``score_chunk`` task / synchronous scoring step.
SCORE_CHUNK = 5000

_model_cache: dict[tuple[int, str], object] = {}


def _load_model(version: ClassifierVersion):
    """The fitted model of a version, from its artifact (sha256 checked), cached per process."""
    from classifier.persistence import load_artifact

    key = (version.pk, version.artifact_sha256)
    if key not in _model_cache:
        model = load_artifact(artifact_path(version), expected_sha256=version.artifact_sha256).model
        _model_cache.clear()  # keep one model in memory per worker process
        _model_cache[key] = model
    return _model_cache[key]


def predictions_upsert_chunk(*, version_id: int, candidate_ids: list[int]) -> int:
    """Score candidates with a version and upsert their predictions; returns rows written.

    Idempotent: one prediction per (candidate, version) under a unique constraint, updated
    in place when the chunk runs again (redelivery, retry).
    """
    from classifier.dataset import scalar_names_from_feature_names
    from classifier.training import score
    from vetting.learning.featurize import iter_chunks

    version = ClassifierVersion.objects.get(pk=version_id)
    model = _load_model(version)
    scalar_names = scalar_names_from_feature_names(version.feature_names)
    written = 0
    for matrix in iter_chunks(candidate_ids, scalar_names=scalar_names):
        if matrix.feature_names != list(version.feature_names):
            raise ValueError(f"features of {version.name} do not match the site's design matrix")
        scores = score(model, matrix.X.astype(np.float64))
        rows = [
            Prediction(candidate_id=int(cid), classifier_version_id=version_id, **fields)
            for cid, fields in zip(matrix.candidate_ids.tolist(), _prediction_fields(scores))
        ]
        for start in range(0, len(rows), PREDICTION_WRITE_BATCH):
            written += _upsert_predictions(rows[start:start + PREDICTION_WRITE_BATCH])
    return written


#: Predictions per upsert transaction while rescoring.
PREDICTION_WRITE_BATCH = 500


def rescore_yield() -> float:
    """After each prediction upsert the worker pauses this many times the upsert's duration
    (``VETTING_RESCORE_YIELD``, default 1.0; 0 = no pause).

    The worker process is niced, but the PostgreSQL backend that executes its upserts is not
    (renicing a backend invites priority inversion on PostgreSQL's internal locks): pausing
    keeps that backend busy at most 1 / (1 + yield) of the time, so page queries are not
    starved while a large catalog is rescored.
    """
    return max(0.0, float(_setting("VETTING_RESCORE_YIELD", 1.0)))


def _upsert_predictions(rows: list[Prediction]) -> int:
    """One short transaction: insert or update ``rows`` (unique per candidate and version)."""
    started = time.perf_counter()
    with transaction.atomic():
        Prediction.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["candidate", "classifier_version"],
            update_fields=["probabilities", "per_model", "predicted_class", "p_planet", "p_triage",
                           "uncertainty", "disagreement"],
        )
    pause = rescore_yield() * (time.perf_counter() - started)
    if pause > 0 and not connection.in_atomic_block:  # (inside a caller's transaction a pause only holds locks)
        time.sleep(min(pause, 1.0))
    return len(rows)


def _prediction_fields(scores) -> list[dict]:
    classes = list(scores.classes)
    proba = np.round(scores.proba.astype(float), 6)
    families = {name: np.round(p.astype(float), 6) for name, p in scores.family_proba.items()}
    out = []
    for i in range(len(scores)):
        out.append({
            "probabilities": dict(zip(classes, proba[i].tolist())),
            "per_model": {name: dict(zip(classes, p[i].tolist())) for name, p in families.items()},
            "predicted_class": str(scores.predicted[i]),
            "p_planet": float(scores.p_planet[i]),
            "p_triage": float(scores.p_triage[i]),
            "uncertainty": float(scores.uncertainty[i]),
            "disagreement": float(scores.disagreement[i]),
        })
    return out


def _candidate_id_chunks(size: int = SCORE_CHUNK) -> list[list[int]]:
    from vetting.candidates.models import Candidate

    ids = list(Candidate.objects.order_by("pk").values_list("pk", flat=True))
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def rescore_sync(*, version: ClassifierVersion, run_id: int | None = None) -> int:
    """Score every candidate in-process, then activate the version and rebuild the queue."""
    chunks = _candidate_id_chunks()
    written = 0
    for k, chunk in enumerate(chunks):
        written += predictions_upsert_chunk(version_id=version.pk, candidate_ids=chunk)
        if run_id is not None:
            _step(run_id, 0.85 + 0.1 * (k + 1) / len(chunks), f"rescored {written} candidates")
    rescore_finish(version_id=version.pk, run_id=run_id)
    return written


def rescore_async(*, version_id: int, run_id: int | None = None) -> None:
    """Rescore through a Celery chord: ``score_chunk`` per chunk, then ``rescore_finish``."""
    from celery import chord

    from vetting.learning.tasks import rescore_finish as finish_task
    from vetting.learning.tasks import score_chunk

    chunks = _candidate_id_chunks()
    try:
        chord([score_chunk.s(version_id, chunk) for chunk in chunks])(finish_task.s(version_id, run_id))
    except Exception as exc:  # broker down: the version stays promoted-but-inactive, logged
        logger.error("rescoring of version %s could not be enqueued: %s", version_id, exc)


def rescore_finish(*, version_id: int, run_id: int | None = None) -> int:
    """Activate a promoted version once it has scored every candidate together with the queue
    rebuilt from it, then prune the predictions of superseded versions (:func:`predictions_prune`).

    Idempotent (a redelivered task activates nothing twice and rebuilds the same queue). An
    older version never replaces a newer promoted one. Returns the queue size. The queue's
    selection (CPU work) runs before and outside the transaction that activates the version and
    swaps the queue entries, so that transaction is short and readers never see the new version
    with the old queue; the pruning runs after it, in batches.
    """
    version = ClassifierVersion.objects.get(pk=version_id)
    if _superseded(version):
        return 0
    entries = _queue_selection(version)
    with transaction.atomic():
        _advisory_lock("promotion")
        version = ClassifierVersion.objects.select_for_update().get(pk=version_id)
        if _superseded(version):
            return 0
        if not version.is_active:
            for old in ClassifierVersion.objects.filter(is_active=True).exclude(pk=version.pk):
                old.is_active = False
                old.status = ClassifierVersion.Status.RETIRED
                old.save(update_fields=["is_active", "status"])  # save() so the history records it
            version.is_active = True
            version.promoted_at = _now()
            version.save(update_fields=["is_active", "promoted_at"])
        size = _queue_swap(entries)
    pruned = predictions_prune()
    if run_id is not None:
        n_scored = Prediction.objects.filter(classifier_version=version).count()
        TrainingRun.objects.filter(pk=run_id).update(
            message=f"{version.name} active: {n_scored} candidates scored, {size} in the vetting queue"[:255]
        )
    logger.info("version %s active; queue %s entries; %s superseded predictions pruned", version.name, size, pruned)
    return size


def _superseded(version: ClassifierVersion) -> bool:
    """True when ``version`` must not become (or stay the base of) the active version: it is
    not promoted, or a newer promoted version exists."""
    if version.status != ClassifierVersion.Status.PROMOTED:
        return True
    return ClassifierVersion.objects.filter(
        status=ClassifierVersion.Status.PROMOTED, created_at__gt=version.created_at
    ).exists()


#: Predictions deleted per transaction by :func:`predictions_prune`.
PRUNE_BATCH = 5000


def predictions_prune(*, batch_size: int = PRUNE_BATCH) -> int:
    """Delete the predictions of superseded classifier versions; returns how many.

    Kept: the active version's, the previous active version's (the retired version promoted
    last: what the model page and ``/api/candidates/{id}/predictions/`` compare with), and
    those of promoted versions newer than the active one (still being scored). Deleted: older
    retired versions', rejected versions' (normally none: they are never scored) and those of
    promoted versions that a newer version overtook before they became active. In batches of
    ``batch_size`` rows, one transaction each, so no long delete holds locks or a snapshot.
    """
    active = ClassifierVersion.objects.filter(is_active=True).first()
    if active is None:
        return 0
    keep = {active.pk}
    previous = (ClassifierVersion.objects.filter(status=ClassifierVersion.Status.RETIRED)
                .order_by(F("promoted_at").desc(nulls_last=True), "-created_at").values_list("pk", flat=True).first())
    if previous is not None:
        keep.add(previous)
    keep.update(ClassifierVersion.objects.filter(
        status=ClassifierVersion.Status.PROMOTED, is_active=False, created_at__gt=active.created_at,
    ).values_list("pk", flat=True))
    doomed = list(ClassifierVersion.objects.exclude(pk__in=keep).values_list("pk", flat=True))
    deleted = 0
    while doomed:
        ids = list(Prediction.objects.filter(classifier_version_id__in=doomed).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            deleted += Prediction.objects.filter(pk__in=ids).delete()[0]
    return deleted


# --- The vetting queue -------------------------------------------------------------------------

#: Queue entries curators put back by hand (``queue_requeue``) survive rebuilds.
_KEPT_STRATEGIES = ("re-vet",)
MISLABEL_STRATEGY = "mislabel"


def _queue_pool(version: ClassifierVersion, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unlabeled candidates the strategies choose from: (ids, probabilities (n, k), disagreement).

    Bounded so 100k candidates stay cheap: the most uncertain, the most disputed between
    model families and a uniform random sample, ``size`` of each (deduplicated).
    """
    base = Prediction.objects.filter(classifier_version=version, candidate__consensus__isnull=True)
    ids: dict[int, None] = {}
    for order in ("-uncertainty", "-disagreement", "?"):
        for cid in base.order_by(order).values_list("candidate_id", flat=True)[:size]:
            ids.setdefault(cid, None)
    rows = list(
        base.filter(candidate_id__in=list(ids)).order_by("candidate_id").values_list(
            "candidate_id", "probabilities", "disagreement"
        )
    )
    classes = list(version.classes)
    cand = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    proba = np.array([[r[1].get(c, 0.0) for c in classes] for r in rows], dtype=float).reshape(len(rows), len(classes))
    disagreement = np.fromiter((r[2] for r in rows), dtype=float, count=len(rows))
    return cand, proba, disagreement


def queue_rebuild(*, version: ClassifierVersion | None = None) -> int:
    """Rebuild the vetting queue from a version's predictions; returns the number of entries.

    Unlabeled candidates are chosen by ``classifier.active.select_batch`` with the strategy
    mix ``VETTING_QUERY_MIX`` (at most ``VETTING_QUEUE_SIZE``); open mislabel flags come
    first with strategy ``mislabel``; curator re-vet entries are kept.

    The selection (features, embedding, strategies: CPU work) runs outside any transaction;
    only the swap of the entries is one short transaction, so readers always see a whole queue.
    A rebuild from a version that stopped being active meanwhile changes nothing.
    """
    version = version or ClassifierVersion.objects.filter(is_active=True).first()
    if version is None:
        return 0
    entries = _queue_selection(version)
    with transaction.atomic():
        _advisory_lock("queue")
        if version.is_active and not ClassifierVersion.objects.filter(pk=version.pk, is_active=True).exists():
            return QueueEntry.objects.count()  # a newer version took over: its own rebuild decides
        return _queue_swap(entries)


def _queue_swap(entries: dict[int, QueueEntry]) -> int:
    """Replace the queue by ``entries``, keeping curator re-vet entries (caller's transaction)."""
    _advisory_lock("queue")
    kept = set(QueueEntry.objects.filter(strategy__in=_KEPT_STRATEGIES).values_list("candidate_id", flat=True))
    QueueEntry.objects.exclude(strategy__in=_KEPT_STRATEGIES).delete()
    QueueEntry.objects.bulk_create([e for cid, e in entries.items() if cid not in kept], batch_size=1000)
    return QueueEntry.objects.count()


def _queue_selection(version: ClassifierVersion) -> dict[int, QueueEntry]:
    """The queue entries (unsaved) the strategies and the open mislabel flags choose now."""
    from classifier.active import embed, select_batch
    from vetting.learning.featurize import build_matrix

    size = int(settings.VETTING_QUEUE_SIZE)
    cand, proba, disagreement = _queue_pool(version, max(4 * size, 1000))
    entries: dict[int, QueueEntry] = {}
    if len(cand):
        # Diversity needs a vector per pool candidate: the same design matrix the model sees.
        from classifier.dataset import scalar_names_from_feature_names

        matrix = build_matrix(cand.tolist(), scalar_names=scalar_names_from_feature_names(version.feature_names))
        order = {cid: i for i, cid in enumerate(matrix.candidate_ids.tolist())}
        keep = np.array([order[c] for c in cand.tolist() if c in order], dtype=int)
        cand_kept = matrix.candidate_ids[keep] if len(keep) else cand[:0]
        pos = {cid: i for i, cid in enumerate(cand.tolist())}
        sel = np.array([pos[c] for c in cand_kept.tolist()], dtype=int)
        seed = int(settings.VETTING_TRAINING_SEED) + version.pk
        queries = select_batch(
            {"proba": proba[sel], "disagreement": disagreement[sel], "classes": list(version.classes)},
            embed(matrix.X[keep].astype(np.float64), random_state=seed),
            batch_size=min(size, len(sel)), mix=dict(settings.VETTING_QUERY_MIX), seed=seed,
        )
        for q in queries:
            cid = int(cand_kept[q.index])
            entries[cid] = QueueEntry(
                candidate_id=cid, priority=float(q.priority), strategy=str(q.strategy)[:32], classifier_version=version
            )
    top = max((e.priority for e in entries.values()), default=0.0)
    for flag in MislabelFlag.objects.filter(is_open=True).order_by("score")[:size]:
        # Suspected mislabels go first: a wrong training label hurts every later model.
        entries[flag.candidate_id] = QueueEntry(
            candidate_id=flag.candidate_id, priority=top + 1.0 + (1.0 - flag.score),
            strategy=MISLABEL_STRATEGY, classifier_version=version,
        )
    return entries


# --- Periodic tasks ----------------------------------------------------------------------------

def _resend_lost_queued_runs(older_than_s: float) -> int:
    """Re-publish queued runs whose task never started (broker was down), if none is running."""
    if TrainingRun.objects.filter(state=TrainingRun.State.RUNNING).exists():
        return 0  # their message would only find the lock taken
    cutoff = _now() - timedelta(seconds=older_than_s)
    lost = list(
        TrainingRun.objects.filter(state=TrainingRun.State.QUEUED, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    for run_id in lost:
        _enqueue_run(run_id)  # a duplicate message is harmless: the claim is conditional
    return len(lost)


def retrain_if_due(*, requeue_after_s: float | None = None) -> TrainingRun | None:
    """Request a run when ``VETTING_RETRAIN_EVERY_N_LABELS`` consensus labels changed since the
    last run started; re-send queued runs whose task never started. Returns the requested run.
    """
    from vetting.learning.selectors import labels_since_last_run

    if requeue_after_s is None:
        requeue_after_s = float(_setting("VETTING_REQUEUE_AFTER_S", 60.0))
    _resend_lost_queued_runs(requeue_after_s)
    threshold = int(settings.VETTING_RETRAIN_EVERY_N_LABELS)
    new = labels_since_last_run()
    if new >= threshold:
        logger.info("%s new consensus labels since the last run (threshold %s): retraining", new, threshold)
        return training_run_request(trigger=TrainingRun.Trigger.THRESHOLD)
    return None


def recover_stale_runs(*, stale_after: float | None = None) -> int:
    """Fail running runs whose heartbeat is older than ``stale_after`` seconds (a dead worker)
    and request a follow-up run; returns how many were failed.
    """
    seconds = stale_after if stale_after is not None else stale_after_s()
    failed = 0
    for run in TrainingRun.objects.filter(state=TrainingRun.State.RUNNING):
        if _is_stale(run, seconds):
            with transaction.atomic():
                failed += _fail_lost_run(run, f"worker lost: no heartbeat for more than {seconds:.0f} s")
    return failed
