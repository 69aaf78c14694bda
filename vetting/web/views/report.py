"""The one-page vetting report of a candidate: HTML built from the candidate page's own pieces,
printed to PDF/PNG by :mod:`vetting.core.reports`.

Same figures (``classifier.plots.all_figures`` on the stored payload, plus the pixel figures),
same flags and metrics (:mod:`vetting.web.candidate_page`), same probability table and the same
visibility and blind rules (:mod:`vetting.reviews.selectors`) as the candidate page: a vetter who
has not labeled a candidate gets a report without others' labels (and without the model's
prediction in blind mode), exactly as on the page.
"""
from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from classifier import plots
from vetting.candidates import selectors as candidate_selectors
from vetting.candidates.models import Candidate
from vetting.core import reports
from vetting.learning import queue_selectors
from vetting.reviews import selectors as review_selectors
from vetting.web import candidate_page
from vetting.web.views.candidates import _METRIC_DESCRIPTIONS, FIGURES, _probability_rows

#: Figures of the report, in page order (the page's FIGURES; the report leaves out the
#: full-length ones that need a wide screen to read).
REPORT_FIGURES = ("folded", "odd_even", "secondary", "phase", "per_transit", "pixel_mean", "pixel_diff")
_PLOTLY = "vendor/plotly-vetting.min.js"
_plotly_source: str | None = None


def _plotly_js() -> str:
    """The page's plotly.js bundle, inlined (the printed file has no server to fetch it from)."""
    global _plotly_source
    if _plotly_source is None:
        path = finders.find(_PLOTLY)
        _plotly_source = open(path, encoding="utf-8").read().replace("</script", "<\\/script") if path else ""
    return _plotly_source


def report_context(request, candidate: Candidate) -> dict:
    """What the report shows, under the page's visibility rules (no time-dependent values: the
    HTML is the cache key)."""
    prediction = queue_selectors.active_prediction(candidate=candidate)
    all_labels = review_selectors.labels_with_history(candidate=candidate)
    labels = review_selectors.current_of(all_labels)
    mine = review_selectors.my_current_label(labels, request.user)
    has_labeled = mine is not None
    visible = review_selectors.can_see_others_labels(user=request.user, has_labeled=has_labeled)
    if review_selectors.model_hidden(user=request.user, candidate_id=candidate.pk, has_labeled=has_labeled):
        prediction = None
    consensus = review_selectors.visible_consensus(user=request.user, candidate=candidate, has_labeled=has_labeled)
    payload = candidate.plot_payload or None
    figures = plots.all_figures(payload, metrics=candidate.features) if payload else {}
    pixels = candidate_selectors.candidate_pixel_evidence(candidate=candidate)
    if pixels:
        figures = {**figures, **pixels["figures"]}
    descriptions = dict(FIGURES) | {"pixel_mean": "Mean image with aperture and target", "pixel_diff":
                                    "Difference image (out of transit − in transit)"}
    shown = [(name, descriptions.get(name, name)) for name in REPORT_FIGURES if name in figures]
    families, probability_rows = _probability_rows(prediction)
    groups = candidate_page.vetting_groups(candidate.features, _METRIC_DESCRIPTIONS)
    return {
        "candidate": candidate, "target": candidate.target, "prediction": prediction,
        "families": families, "probability_rows": probability_rows, "consensus": consensus,
        "labels": (labels if visible else [mine] if mine else []), "labels_visible": visible,
        "groups": groups, "failed_flags": candidate_page.failed_flags(groups),
        "params": candidate_page.catalog_params(candidate, candidate.target, candidate.features),
        "figure_list": shown, "figures": {name: figures[name] for name, _ in shown}, "pixels": pixels,
        "viewer": request.user.get_username(), "date": timezone.localdate().isoformat(),
        "plotly_js": _plotly_js(),
    }


def report_html(request, pk: int) -> str:
    """The report page's HTML for ``request.user`` (Http404 for an unknown candidate)."""
    candidate = get_object_or_404(Candidate.objects.select_related("target", "consensus"), pk=pk)
    return render_to_string("candidates/report.html", report_context(request, candidate), request=None)


@require_GET
def candidate_report(request, pk: int, fmt: str):
    """``/candidates/<pk>/report.pdf|png|html``: the file, or a JSON 503 saying why not."""
    if fmt == "html":  # the page the browser prints, for a quick look
        return HttpResponse(report_html(request, pk))
    try:
        return reports.report_download(request, pk, fmt)
    except reports.ReportProblem as problem:
        return JsonResponse(problem.body, status=problem.status)
