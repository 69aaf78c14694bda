"""Enqueue Celery tasks by their registered name, after the current transaction commits.

Services write a row (a ``TrainingRun``, an ``ImportJob``) and then need a worker to act on it.
They do not import their app's ``tasks`` module for that (tasks import services: that would be
a cycle); they name the task instead:

    jobs.send_on_commit("vetting.learning.tasks.run_training", run.pk, then=store_task_id)

The message is published only once the transaction commits (``transaction.on_commit``), so a
worker never sees a row that was rolled back. The queue comes from ``CELERY_TASK_ROUTES``
(settings) and the task's own declared options (Celery applies both to a message sent by name),
so a task sent here lands on the same queue as ``task.delay()`` would put it. A broker that
cannot be reached is logged, never raised: the row stays queued with no task id and a beat
task re-sends it (:func:`vetting.core.liveness.resend_queued`; each task is idempotent).

A publish never blocks its caller (often a web request) for more than about
``VETTING_BROKER_PUBLISH_TIMEOUT_S`` (default 1 s), whether Redis is down (connection refused),
unroutable (connect timeout) or hung (accepts connections, never answers: socket timeout):
each publish uses its own short-lived connection with short socket timeouts and no retry,
and it does not subscribe to the result backend (no caller reads task results: the
job's row is its result), which would otherwise be a second Redis round trip with its own
retries.

This module is part of the bottom layer: it imports no domain app.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

logger = logging.getLogger(__name__)

#: Errors worth retrying in a task: the database or the broker was briefly unreachable.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


#: Shown wherever a job was accepted but its task could not be published yet (202 bodies,
#: progress boxes); the beat task re-sends it once the broker answers.
NOT_SENT_MESSAGE = "broker unreachable; will be re-sent"


def publish_budget_s() -> float:
    """Seconds a publish may block its caller at most, roughly (``VETTING_BROKER_PUBLISH_TIMEOUT_S``)."""
    return float(settings.VETTING_BROKER_PUBLISH_TIMEOUT_S)


def publish(name: str, args: list, **options):
    """Publish task ``name`` with positional ``args`` now; returns Celery's ``AsyncResult``.

    ``options`` are ``apply_async`` options. The call is bounded by :func:`publish_budget_s`:
    one attempt on a fresh connection whose connect and read timeouts are half the budget each
    (a hung Redis costs one read timeout, 0.5 s at the default 1 s). No retry: a Redis that did
    not answer within the budget will not answer a retry either, and the beat task re-sends
    the job a minute later. A fresh connection costs about 10 ms more than the app's pooled one
    on a local Redis (``bench/bench_broker_publish.py``); a pooled one could be left broken by
    an outage, and 202s are rare. Raises whatever the broker client raises; :func:`send` is the
    forgiving wrapper.
    """
    per_call = publish_budget_s() / 2
    transport_options = {
        "socket_connect_timeout": per_call, "socket_timeout": per_call,
        # Connection establishment (kombu's default_channel) retries forever unless told.
        "max_retries": 0, "connect_retries_timeout": per_call,
    }
    options.setdefault("retry", False)
    options.setdefault("ignore_result", True)  # no result-backend subscription on publish
    with current_app.connection_for_write(connect_timeout=per_call, transport_options=transport_options) as conn:
        return current_app.send_task(name, args=list(args), connection=conn, **options)


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
