"""Enqueue Celery tasks by their registered name, after the current transaction commits.

Services write a row (a ``TrainingRun``, an ``ImportJob``) and then need a worker to act on it.
They do not import their app's ``tasks`` module for that (tasks import services: that would be
a cycle); they name the task instead:

    jobs.send_on_commit("vetting.learning.tasks.run_training", run.pk, then=store_task_id)

The message is published only once the transaction commits (``transaction.on_commit``), so a
worker never sees a row that was rolled back. The queue comes from ``CELERY_TASK_ROUTES``
(settings) and the task's own declared options (Celery applies both to a message sent by name),
so a task sent here lands on the same queue as ``task.delay()`` would put it. A broker that
cannot be reached is logged, never raised: the row stays queued and a periodic task or a
re-run picks it up (each task is idempotent).

This module is part of the bottom layer: it imports no domain app.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.db import InterfaceError, OperationalError, transaction

logger = logging.getLogger(__name__)

#: Errors worth retrying in a task: the database or the broker was briefly unreachable.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def publish(name: str, args: list, **options):
    """Publish task ``name`` with positional ``args`` now; returns Celery's ``AsyncResult``.

    ``options`` are ``apply_async`` options (``retry=False`` fails at once on a dead broker).
    Raises whatever the broker client raises; :func:`send` is the forgiving wrapper.
    """
    return current_app.send_task(name, args=list(args), **options)


def send(name: str, *args, **options) -> str | None:
    """Publish task ``name`` now; returns its task id, or None when the broker refused (logged)."""
    try:
        result = publish(name, list(args), **options)
    except Exception as exc:  # kombu/redis raise many types; the caller's request must not fail
        logger.warning("task %s%r not sent: broker publish failed: %s", name, tuple(args), exc)
        return None
    return result.id or ""


def send_on_commit(name: str, *args, then: Callable[[str], None] | None = None, **options) -> None:
    """After the current transaction commits, :func:`send` task ``name``; then call
    ``then(task_id)`` if it was published (e.g. to store the id on the row it works on).

    Outside a transaction (autocommit) the task is sent at once.
    """

    def _send() -> None:
        task_id = send(name, *args, **options)
        if task_id is not None and then is not None:
            then(task_id)

    transaction.on_commit(_send)
