"""The vetting queue (landing page) and the candidate page.

Thin views: parse the request, call selectors, render. The plots come from the pure builders
in ``classifier.plots`` applied to the payload stored at import time; no light curve is
processed during a request.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from classifier import plots
from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate
from vetting.core.roles import is_curator
from vetting.learning import queue_selectors
from vetting.learning.filters import ORDERING_CHOICES, CandidateFilter
from vetting.learning.selectors import active_version
from vetting.reviews import selectors as review_selectors
from vetting.web.forms import CONFIDENCE_CHOICES, DisputeForm, LabelForm

QUEUE_PAGE_SIZE = 50
#: Session key of the candidates the user skipped (never offered again as "next" this session).
SKIPPED_SESSION_KEY = "vetting_skipped"
MAX_SKIPPED = 500

#: Units by the suffix of a metric's key (``classifier.features`` puts units in key names).
#: A suffix that is a unit is dropped from the name; ``sigma`` and ``phase`` stay in it (they say
#: what the number is) and only add a unit.
_UNIT_SUFFIXES = (
    ("_ppm", "ppm", True), ("_hours", "h", True), ("_days", "d", True), ("_k", "K", True),
    ("_rsun", "R☉", True), ("_msun", "M☉", True), ("_rearth", "R⊕", True), ("_cgs", "dex (cgs)", True),
    ("_solar", "ρ☉", True), ("_sigma", "σ", False), ("_phase", "cycles", False),
)
#: Figure order on the candidate page, with accessible descriptions.
FIGURES = (
    ("folded", "Folded and binned light curve zoomed on the transit, with the trapezoid transit model"),
    ("odd_even", "Odd and even transits side by side with their depths"),
    ("secondary", "Flux around phase 0.5 where a secondary eclipse would appear"),
    ("phase", "The whole orbit folded on the period"),
    ("views", "Global and local views as the classifier sees them"),
    ("timeseries", "The full detrended light curve with each predicted transit marked"),
    ("periodogram", "Box least squares periodogram with the catalog period marked"),
)


def queue_filterset(request) -> CandidateFilter:
    """The queue's GET filters (the API's vocabulary); bad values are shown on the page and ignored."""
    filterset = CandidateFilter(request.GET or None, request=request)
    fields = filterset.form.fields
    fields["ordering"].choices = ORDERING_CHOICES
    fields["labeled"].choices = (("", "Any"), ("false", "No team label yet"), ("true", "Has a team label"))
    return filterset


def candidate_queue(request):
    """What to vet next, in active-learning order, with filters, sorting and counts."""
    filterset = queue_filterset(request)
    query = queue_selectors.QueueQuery.from_filterset(filterset)
    version = active_version()
    counts = queue_selectors.queue_counts(user=request.user)
    page = queue_selectors.queue_page(user=request.user, query=query, version=version, counts=counts,
                                      page=request.GET.get("page"), per_page=QUEUE_PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    first = next(iter(page.object_list), None)
    return render(request, "candidates/queue.html", {
        "page": page, "form": filterset.form, "query": query, "version": version, "counts": counts,
        "jobs": queue_selectors.running_jobs(), "params": params.urlencode(), "first": first,
    })


def _metric_rows(metrics: dict | None) -> list[tuple[str, float, str]]:
    """(name, value, unit) for the vetting metrics, units from the key suffixes."""
    rows = []
    for key, value in sorted((metrics or {}).items()):
        if value is None or isinstance(value, (dict, list, str)):
            continue
        unit, name = "", key
        for suffix, symbol, drop in _UNIT_SUFFIXES:
            if key.endswith(suffix):
                unit, name = symbol, key[: -len(suffix)] if drop else key
                break
        rows.append((name.replace("_", " "), value, unit))
    return rows


def _probability_rows(prediction) -> tuple[list[str], list[dict]]:
    """Per class: ensemble probability, each model family's, and their spread (max - min)."""
    if prediction is None:
        return [], []
    families = sorted(prediction.per_model or {})
    rows = []
    for code, name in CLASSES:
        per = [(prediction.per_model[f] or {}).get(code) for f in families]
        known = [p for p in per if p is not None]
        rows.append({
            "code": code, "name": name, "p": (prediction.probabilities or {}).get(code),
            "per_model": per, "spread": (max(known) - min(known)) if len(known) > 1 else None,
            "is_predicted": code == prediction.predicted_class,
        })
    return families, rows


def _dispute_subjects(prediction, labels, visible: bool, user) -> list[tuple[str, str]]:
    subjects = []
    if prediction is not None:
        subjects.append(("prediction", f"Model {prediction.classifier_version.name} says "
                                       f"{prediction.predicted_class}"))
    if visible:
        for label in labels:
            if label.vetter_id == user.pk and label.source == "human":
                continue
            who = label.vetter.username if label.vetter else label.get_source_display()
            subjects.append((f"label:{label.pk}", f"Label {label.label_class} by {who} ({label.get_source_display()})"))
    return subjects


def candidate_detail(request, pk: int):
    """The vetting page: plots, parameters, model probabilities, labels (after yours), disputes."""
    candidate = get_object_or_404(Candidate.objects.select_related("target", "consensus"), pk=pk)
    prediction = queue_selectors.active_prediction(candidate=candidate)
    labels = review_selectors.current_labels(candidate=candidate)
    mine = review_selectors.my_current_label(labels, request.user)
    # The visibility rule: others' labels, the consensus and disputes only after your own label.
    visible = review_selectors.can_see_others_labels(user=request.user, has_labeled=mine is not None)
    consensus = review_selectors.visible_consensus(user=request.user, candidate=candidate, has_labeled=mine is not None)
    labels = labels if visible else [mine] if mine else []
    disputes = review_selectors.candidate_disputes(candidate=candidate, user=request.user)
    skipped = request.session.get(SKIPPED_SESSION_KEY, [])
    next_id = queue_selectors.next_candidate_id(user=request.user, exclude_ids=[candidate.pk, *skipped])
    previous_id = review_selectors.last_labeled_candidate_id(user=request.user, exclude_id=candidate.pk)
    payload = candidate.plot_payload or None
    figures = plots.all_figures(payload, metrics=candidate.features) if payload else {}
    families, probability_rows = _probability_rows(prediction)
    initial = {"label_class": mine.label_class, "confidence": mine.confidence} if mine else {"confidence": 1.0}
    return render(request, "candidates/detail.html", {
        "candidate": candidate, "target": candidate.target, "consensus": consensus,
        "prediction": prediction, "families": families, "probability_rows": probability_rows,
        "labels": [label for label in labels if label.pk != (mine.pk if mine else None)], "my_label": mine,
        "labels_visible": visible, "disputes": disputes,
        "figures": figures, "figure_list": [(n, d) for n, d in FIGURES if n in figures],
        "metrics": _metric_rows(candidate.features),
        "catalog_features": sorted((candidate.catalog_features or {}).items()),
        "label_form": LabelForm(initial=initial), "confidence_choices": CONFIDENCE_CHOICES,
        "dispute_form": DisputeForm(subjects=_dispute_subjects(prediction, labels, visible, request.user)),
        "classes": CLASSES,
        "next_url": reverse("candidate-detail", args=[next_id]) if next_id else None,
        "previous_url": reverse("candidate-detail", args=[previous_id]) if previous_id else None,
        "skip_url": reverse("candidate-skip", args=[candidate.pk]),
        "show_truth": bool(candidate.simulated_truth) and (mine is not None or is_curator(request.user)),
    })


def candidate_skip(request, pk: int):
    """Skip a candidate for this session (POST) and go to the next one."""
    from django.http import HttpResponseNotAllowed
    from django.shortcuts import redirect

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    candidate = get_object_or_404(Candidate.objects.only("pk"), pk=pk)
    skipped = [i for i in request.session.get(SKIPPED_SESSION_KEY, []) if i != candidate.pk]
    skipped = (skipped + [candidate.pk])[-MAX_SKIPPED:]
    request.session[SKIPPED_SESSION_KEY] = skipped
    next_id = queue_selectors.next_candidate_id(user=request.user, exclude_ids=skipped)
    return redirect("candidate-detail", next_id) if next_id else redirect("candidate-queue")
