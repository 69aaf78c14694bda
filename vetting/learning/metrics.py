"""Prometheus collectors of the learning app: training runs, the vetting queue and model health.

Registered in :meth:`vetting.learning.apps.LearningConfig.ready`; read from the database at
scrape time (every gunicorn worker reports the same numbers; see :mod:`vetting.core.metrics`),
one aggregate query each.
"""
from __future__ import annotations

from django.conf import settings
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from vetting.core import metrics


def training_run_families():
    """Training runs by state, failures, durations (histogram) and liveness."""
    from vetting.learning.models import TrainingRun

    return metrics.job_families(
        "vetting_training_runs", TrainingRun, what="training runs",
        stale_after_s=float(settings.VETTING_TRAINING_STALE_AFTER_S),
        queued_after_s=float(settings.VETTING_QUEUED_STUCK_AFTER_S))


def queue_families():
    """Depth of the active-learning vetting queue, by the strategy that chose each entry."""
    from vetting.learning.models import QueueEntry

    gauge = GaugeMetricFamily("vetting_queue_depth", "Entries of the vetting queue, by strategy", labels=["strategy"])
    for strategy, n in QueueEntry.objects.values_list("strategy").annotate(n=Count("pk")).order_by():
        gauge.add_metric([strategy], n)
    return [gauge]


def agreement_families():
    """Live accuracy estimate of the active model on consensus labels made since its promotion."""
    from vetting.learning import health

    row = health.live_agreement()
    labels = [row["version"] or ""]
    value = GaugeMetricFamily(
        "vetting_model_agreement", "Share of consensus labels made since the active model's promotion that "
        "equal its predicted class (NaN before any)", labels=["version"])
    value.add_metric(labels, row["value"] if row["value"] is not None else float("nan"))
    n = GaugeMetricFamily("vetting_model_agreement_n", "Candidates behind vetting_model_agreement", labels=["version"])
    n.add_metric(labels, row["n"])
    low = GaugeMetricFamily("vetting_model_agreement_low", "95% Wilson lower bound of vetting_model_agreement",
                            labels=["version"])
    low.add_metric(labels, row["low"] if row["low"] is not None else float("nan"))
    high = GaugeMetricFamily("vetting_model_agreement_high", "95% Wilson upper bound of vetting_model_agreement",
                             labels=["version"])
    high.add_metric(labels, row["high"] if row["high"] is not None else float("nan"))
    return [value, n, low, high]


def near_half_families():
    """Share of the active model's predictions that it cannot call (p_planet near 0.5)."""
    from vetting.learning import health

    row = health.live_near_half()
    lo, hi = health.NEAR_HALF
    share = GaugeMetricFamily("vetting_model_near_half_share",
                              f"Share of the active model's predictions with {lo} <= p_planet <= {hi} (NaN without)",
                              value=row["share"] if row["share"] is not None else float("nan"))
    n = GaugeMetricFamily("vetting_model_predictions", "Predictions of the active model", value=row["n"])
    return [share, n]


def register() -> None:
    metrics.register("training_runs", training_run_families)
    metrics.register("queue", queue_families)
    metrics.register("model_agreement", agreement_families)
    metrics.register("model_near_half", near_half_families)
