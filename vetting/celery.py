"""Celery application. Tasks live in the domain apps' ``tasks.py`` and stay thin."""
import logging
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetting.settings.dev")

app = Celery("vetting")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@worker_init.connect
def _yield_cpu_to_the_web(**_):
    """Background work runs at a lower CPU priority than the web server (inherited by the pool).

    On a small machine a retrain would otherwise take every core and slow pages down for the
    vetters. Settings ``VETTING_WORKER_NICE`` (default 10; 0 keeps the normal priority) and, on
    Linux, ``VETTING_WORKER_SCHED`` (default ``idle``; ``normal`` to keep the default policy).
    """
    from django.conf import settings

    nice = int(settings.VETTING_WORKER_NICE)
    if nice > 0:
        os.nice(nice)
    set_idle_policy(settings.VETTING_WORKER_SCHED)


def set_idle_policy(policy: str) -> bool:
    """Put the calling thread (and the threads and processes it starts later) in Linux's
    ``SCHED_IDLE`` class when ``policy`` is ``"idle"``; True if it did.

    A niced process still takes about a tenth of a core that a web request wants, and a request
    that wakes up may wait for the worker's time slice to end; a ``SCHED_IDLE`` thread gets the
    CPU only when nothing else wants it and is preempted at once (it is never starved: it keeps
    a tiny share, so heartbeats still go out). The worker holds no lock a page or a label write
    waits for (labels lock candidates ``FOR NO KEY UPDATE``; prediction and queue writes are
    short transactions), so the lower priority cannot stall the site through the database.
    """
    if policy != "idle":
        return False
    if not hasattr(os, "SCHED_IDLE"):
        logger.info("SCHED_IDLE is not available here; the worker keeps the default scheduling policy")
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:
        logger.warning("could not switch the worker to SCHED_IDLE: %s", exc)
        return False
    return True
