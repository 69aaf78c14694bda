"""Learning pages: learning curves, training runs with progress, versions, "Retrain now".

Thin views: a selector or one service call, then render.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from vetting.core.roles import is_curator
from vetting.learning import selectors, services
from vetting.learning.models import TrainingRun

#: Metrics drawn on the learning-curve figure (higher is better except ECE).
FIGURE_METRICS = (("planet_ap", "Planet AP"), ("triage_ap", "Triage AP"), ("accuracy", "Accuracy"), ("ece", "ECE"))


def learning_curve_figure(points: list[dict]) -> dict:
    """Plotly figure dict: each metric against the number of training labels, one marker per
    version (hover shows name, time, status). Pure function of ``selectors.learning_curve()``.
    """
    data = []
    for key, title in FIGURE_METRICS:
        xs, ys, texts = [], [], []
        for p in points:
            value = p["metrics"].get(key)
            if value is None:
                continue
            xs.append(p["n_labels"])
            ys.append(value)
            texts.append(f"{p['name']} ({p['status']}) {p['created_at']:%Y-%m-%d %H:%M}")
        data.append({"type": "scatter", "mode": "lines+markers", "name": title, "x": xs, "y": ys,
                     "text": texts, "hovertemplate": "%{text}<br>%{x} labels: %{y:.3f}<extra>" + title + "</extra>"})
    return {
        "data": data,
        "layout": {
            "title": {"text": "Cross-validated metrics per model version"},
            "xaxis": {"title": {"text": "consensus labels used for training"}},
            "yaxis": {"title": {"text": "metric"}, "range": [0, 1.05]},
            "legend": {"orientation": "h"},
        },
    }


@login_required
@require_GET
def learning_curves(request):
    """Metrics per version over labels and time, runs with progress, versions, retrain button."""
    points = selectors.learning_curve()
    runs = list(selectors.training_runs(limit=20))
    return render(request, "learning/curves.html", {
        "points": points,
        "metric_keys": [k for k, _ in FIGURE_METRICS],
        "figures": {"learning_curve": learning_curve_figure(points)} if points else {},
        "runs": runs,
        "versions": list(selectors.classifier_versions(limit=50)),
        "active": selectors.active_version(),
        "can_retrain": is_curator(request.user),
        "labels_since_last_run": selectors.labels_since_last_run(),
    })


@login_required
@require_POST
def training_run_create(request):
    """"Retrain now" (curators only): request a run (coalesces with a queued one)."""
    if not is_curator(request.user):
        raise PermissionDenied("only curators can start a retrain")
    run = services.training_run_request(trigger=TrainingRun.Trigger.MANUAL, requested_by=request.user)
    messages.success(request, f"Training run #{run.pk} is {run.get_state_display().lower()}.")
    return redirect("learning-curves")
