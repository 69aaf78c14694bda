"""Celery application. Tasks live in the domain apps' ``tasks.py`` and stay thin."""
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetting.settings.dev")

app = Celery("vetting")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _yield_cpu_to_the_web(**_):
    """Background work runs at a lower CPU priority than the web server (inherited by the pool).

    On a small machine a retrain would otherwise take every core and slow pages down for the
    vetters. ``VETTING_WORKER_NICE`` (default 10; 0 keeps the normal priority).
    """
    nice = int(os.environ.get("VETTING_WORKER_NICE", "10"))
    if nice > 0:
        os.nice(nice)
