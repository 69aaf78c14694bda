"""The vetting queue: what vetters see next.

* :func:`queue_rebuild` - choose the queue from a classifier version's predictions with the
  active-learning strategies (``classifier.active.select_batch``, the curators' mix or ``VETTING_QUERY_MIX``,
  at most ``VETTING_QUEUE_SIZE`` entries); open mislabel flags go first;
* :func:`queue_settings_update` - curators choose the strategy mix (stored; the next rebuild
  uses it, and so does the rebuild this service starts);
* :func:`queue_requeue` - curators put candidates back at the head of the queue ("re-vet");
  those entries survive rebuilds.

:func:`queue_selection` (CPU work, outside any transaction) and :func:`queue_swap` (one short
transaction) are the two halves of a rebuild; ``rescoring.rescore_finish`` uses them too, so a
new version becomes active together with its queue.
"""
from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from vetting.learning.models import ClassifierVersion, MislabelFlag, Prediction, QueueEntry, QueueSettings
from vetting.learning.services import progress

logger = logging.getLogger(__name__)

#: Strategy name of queue entries a curator put back for re-vetting.
REVET_STRATEGY = "re-vet"
#: Strategy name of the entries that come from open mislabel flags.
MISLABEL_STRATEGY = "mislabel"
#: Registered name of the task that rebuilds the queue (``vetting.learning.tasks.queue_rebuild``).
QUEUE_REBUILD_TASK = "vetting.learning.tasks.queue_rebuild"
#: Queue entries curators put back by hand (``queue_requeue``) survive rebuilds.
KEPT_STRATEGIES = (REVET_STRATEGY,)


@transaction.atomic
def queue_requeue(*, candidate_ids: list[int], reason: str = "") -> int:
    """Put candidates at the head of the vetting queue for re-vetting; returns how many.

    Creates or updates one ``QueueEntry`` per candidate with strategy ``"re-vet"`` and a
    priority above every current entry, so vetters see them next. Unknown ids are skipped.
    Idempotent: requeueing twice keeps one entry per candidate (``candidate`` is unique).
    """
    from vetting.candidates.models import Candidate

    ids = sorted(set(Candidate.objects.filter(pk__in=list(candidate_ids)).values_list("pk", flat=True)))
    if not ids:
        return 0
    progress.advisory_lock("queue")
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


@transaction.atomic
def queue_settings_update(*, mix: dict, user=None, rebuild: bool = True) -> QueueSettings:
    """Store the curators' query-strategy mix (``{strategy: share}``; validated) and, after
    commit, rebuild the queue with it. Returns the stored settings row."""
    from django.core.exceptions import ValidationError

    from vetting.core import jobs

    try:
        shares = {str(k): float(v) for k, v in dict(mix).items()}
    except (TypeError, ValueError):
        raise ValidationError({"mix": "every share must be a number"}) from None
    obj = QueueSettings.objects.filter(pk=1).first() or QueueSettings(pk=1)
    obj.mix = {k: v for k, v in shares.items() if v != 0}
    obj.updated_by = user if getattr(user, "is_authenticated", False) else None
    obj.full_clean()
    obj.save()
    if rebuild:
        jobs.send_on_commit(QUEUE_REBUILD_TASK, retry=False)
    return obj


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
    entries = queue_selection(version)
    with transaction.atomic():
        progress.advisory_lock("queue")
        if version.is_active and not ClassifierVersion.objects.filter(pk=version.pk, is_active=True).exists():
            return QueueEntry.objects.count()  # a newer version took over: its own rebuild decides
        return queue_swap(entries)


def queue_swap(entries: dict[int, QueueEntry]) -> int:
    """Replace the queue by ``entries``, keeping curator re-vet entries (caller's transaction)."""
    progress.advisory_lock("queue")
    kept = set(QueueEntry.objects.filter(strategy__in=KEPT_STRATEGIES).values_list("candidate_id", flat=True))
    QueueEntry.objects.exclude(strategy__in=KEPT_STRATEGIES).delete()
    QueueEntry.objects.bulk_create([e for cid, e in entries.items() if cid not in kept], batch_size=1000)
    return QueueEntry.objects.count()


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


def queue_selection(version: ClassifierVersion) -> dict[int, QueueEntry]:
    """The queue entries (unsaved) the strategies and the open mislabel flags choose now."""
    from classifier.active import embed, select_batch
    from classifier.dataset import scalar_names_from_feature_names
    from vetting.learning.featurize import build_matrix
    from vetting.learning.selectors import query_mix

    size = int(settings.VETTING_QUEUE_SIZE)
    cand, proba, disagreement = _queue_pool(version, max(4 * size, 1000))
    entries: dict[int, QueueEntry] = {}
    if len(cand):
        # Diversity needs a vector per pool candidate: the same design matrix the model sees.
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
            batch_size=min(size, len(sel)), mix=query_mix(), seed=seed,
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
