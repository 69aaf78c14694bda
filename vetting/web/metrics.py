"""Prometheus collector of the site shell: messages waiting on the Celery broker (Redis).

Registered in :meth:`vetting.web.apps.WebConfig.ready`; read from Redis at scrape time with the
same pipeline ``/health/`` uses (:func:`vetting.web.health.check_broker_queues`), so every
gunicorn worker reports the same numbers.
"""
from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from vetting.core import metrics


def broker_queue_families():
    """Messages waiting in each Celery queue (growing: the workers lag or none consumes)."""
    from vetting.web.health import check_broker_queues

    gauge = GaugeMetricFamily("vetting_broker_queue_length", "Messages waiting in each Celery queue",
                              labels=["queue"])
    for queue, n in check_broker_queues().items():
        gauge.add_metric([queue], n)
    return [gauge]


def register() -> None:
    metrics.register("broker_queues", broker_queue_families)
