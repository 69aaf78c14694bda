"""Learning pages: learning curves, training runs with progress, versions, "Retrain now".

Thin views: a selector or one service call, then render.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from classifier.health_plots import health_figure
from vetting.core.roles import is_curator
from vetting.learning import health as model_health
from vetting.learning import selectors, services
from vetting.learning.models import TrainingRun

#: Metrics drawn on the learning-curve figure (higher is better except ECE).
FIGURE_METRICS = (("planet_ap", "Planet AP"), ("triage_ap", "Triage AP"), ("accuracy", "Accuracy"), ("ece", "ECE"))


def learning_curve_figure(points: list[dict]) -> dict:
    """Plotly figure dict: each metric against the number of training labels. Promoted versions
    (and a base model) are joined by lines; rejected versions are drawn as separate crosses with
    "rejected" in their hover text, so a rejected model never looks like part of the curve.
    Pure function of ``selectors.learning_curve()``.
    """
    data = []
    for key, title in FIGURE_METRICS:
        for rejected in (False, True):
            xs, ys, texts = [], [], []
            for p in points:
                value = p["metrics"].get(key)
                if value is None or (p["status"] == "rejected") != rejected:
                    continue
                xs.append(p["n_labels"])
                ys.append(value)
                base = " base model" if p.get("origin") == "base" else ""
                texts.append(f"{p['name']}{base} ({p['status']}) {p['created_at']:%Y-%m-%d %H:%M}")
            if rejected and not xs:
                continue
            trace = {"type": "scatter", "mode": "markers" if rejected else "lines+markers",
                     "name": f"{title} (rejected)" if rejected else title, "x": xs, "y": ys, "text": texts,
                     "legendgroup": key,
                     "hovertemplate": "%{text}<br>%{x} labels: %{y:.3f}<extra>" + title + "</extra>"}
            if rejected:
                trace["marker"] = {"symbol": "x", "size": 10}
            data.append(trace)
    return {
        "data": data,
        "layout": {
            "title": {"text": "Cross-validated metrics per model version (crosses: rejected)"},
            "xaxis": {"title": {"text": "consensus labels used for training"}},
            "yaxis": {"title": {"text": "metric"}, "range": [0, 1.05]},
            "legend": {"orientation": "h"},
        },
    }


#: What each strategy of the queue mix does, for the model page (the trade-off curators choose).
STRATEGY_HELP = (
    ("likely_planet", "Likely planets", "the model's most probable planets: confirmations the team wants "
     "anyway, and the look-alikes that fool the model; teaches little once the model is sure"),
    ("planet", "Planet or not?", "candidates whose planet probability is nearest 0.5: the labels that move "
     "the planet-vs-rest boundary most"),
    ("committee", "Models disagree", "candidates whose model families (or, with one family, its fold models) "
     "predict different classes"),
    ("uncertainty", "Most uncertain", "highest entropy over all classes"),
    ("random", "Random", "a uniform sample: keeps estimates unbiased and finds what the model never looks at"),
)


@login_required
@require_GET
def learning_curves(request):
    """Metrics per version over labels and time, runs with progress, versions, retrain button,
    the queue mix (curators can change it)."""
    points = selectors.learning_curve()
    runs = list(selectors.training_runs(limit=20))
    active = selectors.active_version()
    health_buckets = [b.as_dict() for b in model_health.health_over_time(active)] if active else []
    mix = selectors.query_mix()
    return render(request, "learning/curves.html", {
        "points": points,
        "metric_keys": [k for k, _ in FIGURE_METRICS],
        "figures": {**({"learning_curve": learning_curve_figure(points)} if points else {}),
                    **({"model_health": health_figure(health_buckets)} if health_buckets else {})},
        "health_live": model_health.live_agreement(active) if active else None,
        "health_near": model_health.live_near_half(active) if active else None,
        "runs": runs,
        "versions": list(selectors.classifier_versions(limit=50)),
        "active": active,
        "can_retrain": is_curator(request.user),
        "retrain": selectors.retrain_status(),
        "mix_rows": [{"key": k, "title": t, "help": h, "share": round(100 * mix.get(k, 0.0))}
                     for k, t, h in STRATEGY_HELP],
        "mix_is_default": selectors.query_mix_is_default(),
    })


@login_required
@require_POST
def queue_mix_update(request):
    """Curators set the queue's strategy mix (percent per strategy); the queue is rebuilt."""
    if not is_curator(request.user):
        raise PermissionDenied("only curators can change the queue mix")
    from django.core.exceptions import ValidationError

    try:
        mix = {key: float(request.POST.get(f"share_{key}") or 0) for key, _, _ in STRATEGY_HELP}
        services.queue_settings_update(mix=mix, user=request.user)
    except (ValueError, ValidationError) as exc:
        messages.error(request, f"Queue mix not saved: {'; '.join(getattr(exc, 'messages', [str(exc)]))}")
    else:
        messages.success(request, "Queue mix saved; the queue is being rebuilt with it.")
    return redirect("learning-curves")


@login_required
@require_POST
def training_run_create(request):
    """"Retrain now" (curators only): request a run (coalesces with a queued one)."""
    if not is_curator(request.user):
        raise PermissionDenied("only curators can start a retrain")
    run = services.training_run_request(trigger=TrainingRun.Trigger.MANUAL, requested_by=request.user)
    messages.success(request, f"Training run #{run.pk} is {run.get_state_display().lower()}.")
    return redirect("learning-curves")
