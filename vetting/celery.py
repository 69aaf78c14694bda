"""Celery application. Tasks live in the domain apps' ``tasks.py`` and stay thin."""
import logging
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

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


@worker_init.connect
def _native_threads_per_process(sender=None, **_):
    """Size the native thread pools (OpenMP in scikit-learn's gradient boosting, BLAS) of each
    worker process: ``VETTING_WORKER_THREADS``, or with 0 (the default) the cores divided by the
    worker's processes (``--concurrency``): a solo worker on 2 cores keeps 2 threads, each of 2
    prefork processes gets 1.

    Parallelism is by worker processes; a process that also starts one OpenMP thread per core
    oversubscribes the cores as soon as a second process runs, and its threads wait at every
    barrier for one that is descheduled (worse under ``SCHED_IDLE``): predicting 5,000
    candidates with a 600-tree gradient boosting model took 4.3 s with 2 threads beside a busy
    core against 1.5 s with 1. The prefork children read the size from the environment.
    """
    from django.conf import settings

    n = int(settings.VETTING_WORKER_THREADS)
    if n <= 0:
        n = max(1, (os.cpu_count() or 1) // max(1, int(getattr(sender, "concurrency", 1) or 1)))
    limit_native_threads(n)


@worker_process_init.connect
def _native_threads_in_child(**_):
    limit_native_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


def limit_native_threads(n: int) -> None:
    """Limit OpenMP and BLAS pools of this process, and of processes it starts, to ``n`` threads."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(n)  # for libraries loaded later and for child processes
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime, so the limit reaches it)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)


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
