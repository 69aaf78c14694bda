"""Progress, liveness and locks of training runs (shared by the other service modules).

* :func:`step` records a running run's progress and heartbeat, and raises :class:`RunAborted`
  when the run was taken away (``recover_stale_runs`` failed it meanwhile);
* :class:`Heartbeat` refreshes ``heartbeat_at`` from a daemon thread during long steps (a fit);
* :func:`is_stale` decides whether a running run's worker is gone
  (``VETTING_TRAINING_STALE_AFTER_S``);
* :func:`advisory_lock` serialises requests, promotions and queue swaps on PostgreSQL.

The other modules call these through the module (``progress.step(...)``), so a test can wrap
them in one place.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.utils import timezone

from vetting.core import liveness
from vetting.learning.models import TrainingRun

logger = logging.getLogger(__name__)


class RunAborted(Exception):
    """The run is no longer ``running`` (e.g. ``recover_stale_runs`` failed it): stop quietly."""


def now():
    return timezone.now()


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a running run counts as dead
    (``VETTING_TRAINING_STALE_AFTER_S``)."""
    return float(settings.VETTING_TRAINING_STALE_AFTER_S)


def heartbeat_every_s() -> float:
    """Seconds between heartbeats of a running run (``VETTING_TRAINING_HEARTBEAT_S``)."""
    return float(settings.VETTING_TRAINING_HEARTBEAT_S)


def is_stale(run: TrainingRun, stale_after: float | None = None) -> bool:
    """True when ``run``'s last sign of life is older than ``stale_after`` (default the setting)."""
    return liveness.is_stale(run, stale_after if stale_after is not None else stale_after_s())


def advisory_lock(name: str) -> None:
    """Transaction-scoped PostgreSQL advisory lock (no-op on other databases)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"vetting.learning.{name}"])


def step(run_id: int, progress: float, message: str) -> None:
    """Record progress and a heartbeat; raise :class:`RunAborted` if the run was taken away."""
    updated = TrainingRun.objects.filter(pk=run_id, state=TrainingRun.State.RUNNING).update(
        progress=min(max(progress, 0.0), 1.0), message=message[:255], heartbeat_at=now()
    )
    if not updated:
        raise RunAborted(f"training run {run_id} is no longer running")
    logger.info("training run %s: %s (%.0f%%)", run_id, message, 100 * progress)


class Heartbeat(liveness.Heartbeat):
    """Refresh a running run's ``heartbeat_at`` every ``heartbeat_every_s()`` seconds from a daemon
    thread (the one heartbeat of every job kind: :class:`vetting.core.liveness.Heartbeat`)."""

    def __init__(self, run_id: int):
        super().__init__(TrainingRun, run_id, heartbeat_every_s)
        self.run_id = run_id
