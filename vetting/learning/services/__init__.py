"""Writes of the learning app, split by concern. Each public function is keyword-only.

==============  ===================================================================================
module          what it holds
==============  ===================================================================================
``runs``        training runs: ``training_run_request`` / ``_execute`` / ``_fail``,
                ``retrain_if_due``, ``recover_stale_runs``; the claim; outcomes ``BUSY``,
                ``SKIPPED``, ``ABORTED``
``training``    one run's work: ``label_snapshot``, ``snapshot_hash``, ``train_and_decide``
``mislabels``   ``flag_mislabels`` from out-of-fold probabilities
``promotion``   ``create_version`` (artifact + version + promotion decision on the same labels)
``artifacts``   ``save_version_artifact``, ``artifact_path``, ``load_model``
``warm_start``  ``base_model_install``: a base model trained on public labels
``rescoring``   ``predictions_upsert_chunk``, ``rescore_sync`` / ``_async`` / ``_finish``,
                ``predictions_prune``
``queue``       ``queue_rebuild``, ``queue_requeue``
``progress``    a running run's progress and heartbeat, staleness, advisory locks
``modelcard``   label snapshot + model card files beside each artifact, ``version_card``,
                ``reproduce_request`` / ``reproduce_execute`` ("Reproduce this model")
``release``     ``release_build``: the labeled-data release zip (snapshot, candidates, card,
                model, environment, MANIFEST.sha256)
==============  ===================================================================================

Imports point one way: ``runs`` -> ``training`` -> ``mislabels``, ``promotion`` -> ``artifacts``, ``rescoring`` ->
``queue`` -> ``progress``. No module imports ``vetting.learning.tasks``: tasks are sent by their
registered name through :mod:`vetting.core.jobs`.

The public services are re-exported here, so ``from vetting.learning import services;
services.training_run_request(...)`` works; code that needs a module's internals imports that
module.
"""
from vetting.learning.services.artifacts import artifact_path
from vetting.learning.services.queue import queue_rebuild, queue_requeue, queue_settings_update
from vetting.learning.services.rescoring import (
    predictions_prune,
    predictions_upsert_chunk,
    rescore_async,
    rescore_finish,
    rescore_sync,
)
from vetting.learning.services.runs import (
    ABORTED,
    BUSY,
    SKIPPED,
    recover_stale_runs,
    retrain_if_due,
    training_run_execute,
    training_run_fail,
    training_run_request,
)
from vetting.learning.services.training import NotEnoughLabels, label_snapshot, snapshot_hash

__all__ = [
    "ABORTED", "BUSY", "SKIPPED", "NotEnoughLabels",
    "artifact_path", "label_snapshot", "predictions_prune", "predictions_upsert_chunk",
    "queue_rebuild", "queue_requeue", "queue_settings_update", "recover_stale_runs", "rescore_async", "rescore_finish",
    "rescore_sync", "retrain_if_due", "snapshot_hash", "training_run_execute", "training_run_fail",
    "training_run_request",
]
