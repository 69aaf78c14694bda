"""Rescoring: predictions of a classifier version for every candidate, activation, pruning.

* :func:`predictions_upsert_chunk` - score a chunk of candidates and upsert their predictions
  (one row per candidate and version under a unique constraint: idempotent), in short
  transactions with pauses (``VETTING_RESCORE_YIELD``) so pages keep the database; on
  PostgreSQL each batch is COPYed into a staging table and written by one
  ``INSERT ... ON CONFLICT DO UPDATE`` (:func:`vetting.core.db.copy_upsert`), elsewhere by the
  ORM's ``bulk_create(update_conflicts=True)``: the same rows either way;
* :func:`rescore_sync` / :func:`rescore_async` - every candidate in chunks, in-process or as a
  Celery chord of ``score_chunk`` tasks (sent by name: this module imports no task);
* :func:`rescore_finish` - activate a promoted version together with the queue rebuilt from it,
  then :func:`predictions_prune` the predictions of superseded versions and refresh the
  planner's statistics of both tables (``ANALYZE``, :func:`vetting.core.db.analyze`).
"""
from __future__ import annotations

import json
import logging
import time
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from vetting.core import db
from vetting.learning.models import ClassifierVersion, Prediction, QueueEntry, TrainingRun
from vetting.learning.services import artifacts, progress, queue

logger = logging.getLogger(__name__)

#: Candidates per ``score_chunk`` task / synchronous scoring step.
SCORE_CHUNK = 5000
#: Predictions per upsert transaction while rescoring (ORM path: multi-row INSERT ... VALUES).
PREDICTION_WRITE_BATCH = 500
#: Predictions per upsert transaction on PostgreSQL (COPY + one upsert: a transaction of this
#: size takes about as long as a 500-row ORM batch did).
PREDICTION_COPY_BATCH = 2500
#: Columns a rescore overwrites when a prediction of the same (candidate, version) exists.
PREDICTION_UPDATE_FIELDS = ("probabilities", "per_model", "predicted_class", "p_planet", "p_triage",
                            "uncertainty", "disagreement")
#: Predictions deleted per transaction by :func:`predictions_prune`.
PRUNE_BATCH = 5000

#: Registered names of the tasks :func:`rescore_async` sends (``vetting.learning.tasks``).
SCORE_CHUNK_TASK = "vetting.learning.tasks.score_chunk"
RESCORE_FINISH_TASK = "vetting.learning.tasks.rescore_finish"


class ScoredRow(NamedTuple):
    """A prediction to write: the fields of :class:`Prediction` but ``id`` and ``created_at``.

    A plain tuple: a chunk's 5,000 model instances cost more Python time than their COPY. The
    upserts take these or unsaved :class:`Prediction` instances alike.
    """

    candidate_id: int
    classifier_version_id: int
    probabilities: dict
    per_model: dict
    predicted_class: str
    p_planet: float
    p_triage: float
    uncertainty: float
    disagreement: float


def predictions_upsert_chunk(*, version_id: int, candidate_ids: list[int]) -> int:
    """Score candidates with a version and upsert their predictions; returns rows written.

    Idempotent: one prediction per (candidate, version) under a unique constraint, updated
    in place when the chunk runs again (redelivery, retry).
    """
    from classifier.dataset import scalar_names_from_feature_names
    from classifier.training import score
    from vetting.learning.featurize import iter_chunks

    version = ClassifierVersion.objects.get(pk=version_id)
    model = artifacts.load_model(version)
    scalar_names = scalar_names_from_feature_names(version.feature_names)
    written = 0
    for matrix in iter_chunks(candidate_ids, scalar_names=scalar_names):
        if matrix.feature_names != list(version.feature_names):
            raise ValueError(f"features of {version.name} do not match the site's design matrix")
        scores = score(model, matrix.X.astype(np.float64))
        rows = [ScoredRow(candidate_id=cid, classifier_version_id=version_id, **fields)
                for cid, fields in zip(matrix.candidate_ids.tolist(), _prediction_fields(scores))]
        batch = PREDICTION_COPY_BATCH if db.is_postgresql() else PREDICTION_WRITE_BATCH
        for start in range(0, len(rows), batch):
            written += _upsert_predictions(rows[start:start + batch])
    return written


def rescore_yield() -> float:
    """After each prediction upsert the worker pauses this many times the upsert's duration
    (``VETTING_RESCORE_YIELD``, default 1.0; 0 = no pause).

    The worker process is niced, but the PostgreSQL backend that executes its upserts is not
    (renicing a backend invites priority inversion on PostgreSQL's internal locks): pausing
    keeps that backend busy at most 1 / (1 + yield) of the time, so page queries are not
    starved while a large catalog is rescored.
    """
    return max(0.0, float(settings.VETTING_RESCORE_YIELD))


def _upsert_predictions(rows: list[Prediction | ScoredRow], *, method: str | None = None) -> int:
    """One short transaction: insert or update ``rows`` (unique per candidate and version).

    ``method``: ``"copy"`` (PostgreSQL: :func:`predictions_copy`) or ``"orm"``
    (:func:`predictions_bulk_create`); default: COPY where the database is PostgreSQL.
    """
    started = time.perf_counter()
    method = method or ("copy" if db.is_postgresql() else "orm")
    with transaction.atomic():
        (predictions_copy if method == "copy" else predictions_bulk_create)(rows)
    pause = rescore_yield() * (time.perf_counter() - started)
    if pause > 0 and not connection.in_atomic_block:  # (inside a caller's transaction a pause only holds locks)
        time.sleep(min(pause, 1.0))
    return len(rows)


def predictions_bulk_create(rows: list[Prediction | ScoredRow]) -> None:
    """Upsert unsaved ``rows`` with the ORM (any database; caller's transaction)."""
    objs = [r if isinstance(r, Prediction) else Prediction(**r._asdict()) for r in rows]
    Prediction.objects.bulk_create(objs, update_conflicts=True, unique_fields=["candidate", "classifier_version"],
                                   update_fields=list(PREDICTION_UPDATE_FIELDS))


#: Columns of a prediction row the COPY path sends (``created_at`` is set to now() on insert).
_COPY_COLUMNS = ("candidate_id", "classifier_version_id", *PREDICTION_UPDATE_FIELDS)


def predictions_copy(rows: list[Prediction | ScoredRow]) -> None:
    """Upsert unsaved ``rows`` through COPY into a staging table and one
    ``INSERT ... ON CONFLICT (candidate_id, classifier_version_id) DO UPDATE`` (PostgreSQL;
    caller's transaction). Same rows as :func:`predictions_bulk_create`: a new row gets
    ``created_at`` = now(), an existing one keeps it and has the scored columns overwritten."""
    def values(p: Prediction | ScoredRow) -> tuple:
        return (p.candidate_id, p.classifier_version_id, json.dumps(p.probabilities), json.dumps(p.per_model),
                p.predicted_class, p.p_planet, p.p_triage, p.uncertainty, p.disagreement)

    db.copy_upsert(Prediction, columns=_COPY_COLUMNS, rows=map(values, rows),
                   conflict=("candidate_id", "classifier_version_id"), update=PREDICTION_UPDATE_FIELDS,
                   extra={"created_at": "now()"})


def _prediction_fields(scores) -> list[dict]:
    """The scored fields of each candidate's prediction (probabilities rounded to 6 decimals).

    Whole arrays are turned into Python lists first: indexing numpy arrays element by element
    costs more than the rest for a 5,000-candidate chunk.
    """
    classes = list(scores.classes)
    proba = np.round(scores.proba.astype(float), 6).tolist()
    families = {name: np.round(p.astype(float), 6).tolist() for name, p in scores.family_proba.items()}
    columns = zip(proba, *families.values(), [str(c) for c in scores.predicted.tolist()],
                  *(np.asarray(a, dtype=float).tolist()
                    for a in (scores.p_planet, scores.p_triage, scores.uncertainty, scores.disagreement)))
    names, k = list(families), len(families)
    out = []
    for row in columns:
        predicted, p_planet, p_triage, uncertainty, disagreement = row[1 + k:]
        out.append({
            "probabilities": dict(zip(classes, row[0])),
            "per_model": {name: dict(zip(classes, p)) for name, p in zip(names, row[1:1 + k])},
            "predicted_class": predicted,
            "p_planet": p_planet,
            "p_triage": p_triage,
            "uncertainty": uncertainty,
            "disagreement": disagreement,
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
            progress.step(run_id, 0.85 + 0.1 * (k + 1) / len(chunks), f"rescored {written} candidates")
    rescore_finish(version_id=version.pk, run_id=run_id)
    return written


def rescore_async(*, version_id: int, run_id: int | None = None):
    """Rescore through a Celery chord: ``score_chunk`` per chunk, then ``rescore_finish``.

    The tasks are named, not imported (queues from ``CELERY_TASK_ROUTES``). A broker that cannot
    be reached leaves the version promoted but inactive, logged. Returns the chord's
    ``AsyncResult`` (its value: the queue size ``rescore_finish`` returns), or None when nothing
    was sent.
    """
    from celery import chord, signature

    chunks = _candidate_id_chunks()
    try:
        return chord([signature(SCORE_CHUNK_TASK, args=(version_id, chunk)) for chunk in chunks])(
            signature(RESCORE_FINISH_TASK, args=(version_id, run_id))
        )
    except Exception as exc:  # broker down: the version stays promoted-but-inactive, logged
        logger.error("rescoring of version %s could not be enqueued: %s", version_id, exc)
        return None


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
    entries = queue.queue_selection(version)
    with transaction.atomic():
        progress.advisory_lock("promotion")
        version = ClassifierVersion.objects.select_for_update().get(pk=version_id)
        if _superseded(version):
            return 0
        if not version.is_active:
            for old in ClassifierVersion.objects.filter(is_active=True).exclude(pk=version.pk):
                old.is_active = False
                old.status = ClassifierVersion.Status.RETIRED
                old.save(update_fields=["is_active", "status"])  # save() so the history records it
            version.is_active = True
            version.promoted_at = progress.now()
            version.save(update_fields=["is_active", "promoted_at"])
        size = queue.queue_swap(entries)
    pruned = predictions_prune()
    # A whole version's predictions were just written and the queue swapped: without fresh
    # statistics the planner may read the new version's rows as absent (seq scans on the pages).
    db.analyze(Prediction, QueueEntry)
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
        doomed_rows = Prediction.objects.filter(classifier_version_id__in=doomed)
        ids = list(doomed_rows.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            deleted += Prediction.objects.filter(pk__in=ids).delete()[0]
    return deleted
