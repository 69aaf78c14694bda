"""Prometheus metrics for operators: the collector registry the apps register into, the generic
job collectors (durations, failures, liveness) and the ``/metrics`` text.

Two kinds of metric come out of ``/metrics``:

* **Request latency by view**, counted by django-prometheus' middleware in each process. Under
  gunicorn every worker has its own counters; set ``PROMETHEUS_MULTIPROC_DIR`` (an empty,
  writable directory, wiped at deploy) and the library's multiprocess mode writes them to
  shared files that :func:`render` merges, so every scrape reports the sum over all workers.
  Without it (``runserver``, one process) the process's own registry is exported.
* **Domain metrics** (label throughput, queue depth, job durations and failures, worker
  liveness, model health) are read from PostgreSQL and Redis at scrape time by the collectors
  registered here, never counted in process memory: whichever gunicorn worker answers a scrape
  reports the same numbers, multiprocess mode or not. Each collector makes one aggregate query;
  its samples are cached in the shared cache (:mod:`vetting.core.cache`) for
  ``VETTING_METRICS_CACHE_S`` seconds, so a scrape every few seconds from several Prometheus
  servers costs one query per collector per window, and an empty database gives zeros, not errors.

Each app registers its own collectors from its own module in ``AppConfig.ready`` (this module
imports no app): ``from vetting.core import metrics; metrics.register("name", function)``, where
``function()`` returns :class:`prometheus_client.core.Metric` families.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Model, Q, Sum
from django.db.models.functions import Coalesce
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from vetting.core import liveness

logger = logging.getLogger(__name__)

CollectorFunction = Callable[[], Iterable[Metric]]

#: Registered collectors by name, in registration order.
_collectors: dict[str, CollectorFunction] = {}

#: Histogram buckets (seconds) of import and training durations: a minute to a day.
DURATION_BUCKETS_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)

_CACHE_PREFIX = "metrics:v1:"


def register(name: str, function: CollectorFunction) -> None:
    """Register ``function`` (no arguments, returns metric families) under ``name``; registering
    a name again replaces it (``AppConfig.ready`` may run twice in tests)."""
    _collectors[name] = function


def registered() -> list[str]:
    """Names of the registered collectors."""
    return list(_collectors)


def _cached(name: str, function: CollectorFunction) -> list[Metric]:
    """``function()``'s families, from the shared cache when younger than VETTING_METRICS_CACHE_S."""
    ttl = float(settings.VETTING_METRICS_CACHE_S)
    key = _CACHE_PREFIX + name
    if ttl > 0:
        families = cache.get(key)
        if families is not None:
            return families
    families = list(function())
    if ttl > 0:
        cache.set(key, families, ttl)
    return families


class DomainCollector:
    """A prometheus_client collector yielding every registered collector's families; a collector
    that raises is logged and reported as ``vetting_collector_up{collector=...} 0`` so one broken
    query never empties the scrape."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("vetting_collector_up", "1 if the collector answered, 0 if it failed",
                               labels=["collector"])
        for name, function in list(_collectors.items()):
            try:
                families = _cached(name, function)
            except Exception:  # a scrape must not fail because one query did
                logger.exception("metrics collector %s failed", name)
                up.add_metric([name], 0.0)
                continue
            up.add_metric([name], 1.0)
            yield from families
        yield up


def render() -> tuple[bytes, str]:
    """The ``/metrics`` body and its content type: the library's request metrics (merged over
    processes in multiprocess mode) followed by the domain metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the library's own switch, not a VETTING_ setting
        from prometheus_client import multiprocess

        library = CollectorRegistry()
        multiprocess.MultiProcessCollector(library)
    else:
        library = REGISTRY
    domain = CollectorRegistry(auto_describe=False)
    domain.register(DomainCollector())
    return generate_latest(library) + generate_latest(domain), CONTENT_TYPE_LATEST


# --- generic job collectors (ImportJob, TrainingRun: see vetting.core.liveness) ----------------

def job_families(prefix: str, model: type[Model], *, what: str, stale_after_s: float,
                 queued_after_s: float, buckets: Sequence[float] = DURATION_BUCKETS_S) -> list[Metric]:
    """Counts by state, failures, a duration histogram of finished jobs and liveness of running
    ones for a job model with ``state``/``created_at``/``started_at``/``finished_at``/
    ``heartbeat_at`` fields, from one aggregate query.

    Parameters
    ----------
    prefix : str
        Metric name prefix, e.g. ``"vetting_import_jobs"``.
    model : Model class
        The job model.
    what : str
        Plural noun for the help texts ("import jobs").
    stale_after_s, queued_after_s : float
        Seconds without a heartbeat after which a running job counts as lost, and in the queue
        after which a queued one counts as stuck (the thresholds of ``/health/``).
    buckets : sequence of float
        Upper bounds (s) of the duration histogram, increasing.

    Returns
    -------
    list of Metric
        ``<prefix>{state}`` gauge, ``<prefix>_failed_total`` counter, ``<prefix>_duration_seconds``
        histogram (finished jobs, start to finish), ``<prefix>_stale_running`` and
        ``<prefix>_queued_too_long`` gauges, ``<prefix>_heartbeat_age_seconds`` (oldest sign of
        life among running jobs; 0 when none runs).
    """
    now = liveness.now()
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    finished = Q(state="finished", started_at__isnull=False, finished_at__isnull=False)
    running = Q(state="running")
    sign_of_life = Coalesce("heartbeat_at", "started_at", "created_at")
    aggregates = {f"state_{s}": Count("pk", filter=Q(state=s)) for s in ("queued", "running", "finished", "failed")}
    aggregates |= {f"le_{i}": Count("pk", filter=finished & Q(duration__lte=timedelta(seconds=b)))
                   for i, b in enumerate(buckets)}
    aggregates |= {
        "n_finished": Count("pk", filter=finished),
        "sum_duration": Sum("duration", filter=finished),
        "stale": Count("pk", filter=running & Q(life__lt=now - timedelta(seconds=stale_after_s))),
        "stuck": Count("pk", filter=Q(state="queued", created_at__lt=now - timedelta(seconds=queued_after_s))),
        "oldest_life": Min("life", filter=running),
        "newest_finish": Max("finished_at"),
    }
    row = model.objects.annotate(duration=duration, life=sign_of_life).aggregate(**aggregates)
    states = GaugeMetricFamily(prefix, f"{what.capitalize()} by state", labels=["state"])
    for state in ("queued", "running", "finished", "failed"):
        states.add_metric([state], row[f"state_{state}"] or 0)
    failed = CounterMetricFamily(f"{prefix}_failed", f"{what.capitalize()} that failed")
    failed.add_metric([], row["state_failed"] or 0)
    total_s = row["sum_duration"].total_seconds() if row["sum_duration"] else 0.0
    histogram = HistogramMetricFamily(
        f"{prefix}_duration_seconds", f"Start-to-finish time of finished {what} (s)",
        buckets=[(repr(float(b)), row[f"le_{i}"] or 0) for i, b in enumerate(buckets)]
        + [("+Inf", row["n_finished"] or 0)],
        sum_value=total_s)
    stale = GaugeMetricFamily(f"{prefix}_stale_running",
                              f"Running {what} with no heartbeat for {stale_after_s:.0f} s (worker lost)",
                              value=row["stale"] or 0)
    stuck = GaugeMetricFamily(f"{prefix}_queued_too_long",
                              f"{what.capitalize()} queued for more than {queued_after_s:.0f} s (no worker consumes)",
                              value=row["stuck"] or 0)
    oldest = row["oldest_life"]
    age = GaugeMetricFamily(f"{prefix}_heartbeat_age_seconds",
                            f"Seconds since the oldest sign of life among running {what} (0 when none runs)",
                            value=(now - oldest).total_seconds() if oldest else 0.0)
    families = [states, failed, histogram, stale, stuck, age]
    if row["newest_finish"] is not None:
        families.append(GaugeMetricFamily(f"{prefix}_last_finished_timestamp_seconds",
                                          f"Unix time the newest of the {what} ended",
                                          value=row["newest_finish"].timestamp()))
    return families
