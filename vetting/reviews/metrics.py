"""Prometheus collectors of the reviews app: label throughput and the vetting backlog.

Registered in :meth:`vetting.reviews.apps.ReviewsConfig.ready`; read from the database at scrape
time (every gunicorn worker reports the same numbers; see :mod:`vetting.core.metrics`).
"""
from __future__ import annotations

from django.db.models import Count, Q
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from vetting.core import metrics


def label_families():
    """Labels ever made, by source (a counter: label rows are superseded, never deleted, so
    ``rate(vetting_labels_created_total[1h])`` is the label throughput), and current ones."""
    from vetting.reviews.models import Label

    rows = Label.objects.values("source").annotate(n=Count("pk"), current=Count("pk", filter=Q(is_current=True)))
    created = CounterMetricFamily("vetting_labels_created", "Labels made, by source (superseded ones included)",
                                  labels=["source"])
    current = GaugeMetricFamily("vetting_labels_current", "Current labels, by source", labels=["source"])
    for row in rows.order_by():
        created.add_metric([row["source"]], row["n"])
        current.add_metric([row["source"]], row["current"])
    return [created, current]


def backlog_families():
    """Candidates that still want a vetter label, and those waiting for a curator."""
    from vetting.reviews.models import CandidateReview

    row = CandidateReview.objects.aggregate(open=Count("pk", filter=Q(is_open=True)),
                                            review=Count("pk", filter=Q(needs_review=True)))
    return [GaugeMetricFamily("vetting_candidates_wanting_labels", "Candidates that want another vetter label",
                              value=row["open"] or 0),
            GaugeMetricFamily("vetting_candidates_needing_curator", "Candidates with a tie or a flagged mislabel",
                              value=row["review"] or 0)]


def register() -> None:
    metrics.register("labels", label_families)
    metrics.register("review_backlog", backlog_families)
