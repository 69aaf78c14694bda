"""The vetting queue (landing page) and the candidate page.

Thin views: parse the request, call selectors, render. The plots come from the pure builders
in ``classifier.plots`` applied to the payload stored at import time; no light curve is
processed during a request.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from django.http import QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from classifier import plots
from classifier.features import METRICS
from classifier.vocabulary import CLASSES
from vetting.candidates import selectors as candidate_selectors
from vetting.candidates.models import Candidate
from vetting.core.roles import is_curator
from vetting.learning import queue_selectors
from vetting.learning.filters import ORDERING_CHOICES, CandidateFilter
from vetting.learning.selectors import active_version
from vetting.reviews import selectors as review_selectors
from vetting.web import candidate_page
from vetting.web.forms import CONFIDENCE_CHOICES, DisputeForm, LabelForm
from vetting.web.queue_table import queue_rows_html

QUEUE_PAGE_SIZE = 50
#: Session key of the candidates the user skipped (never offered again as "next" this session).
SKIPPED_SESSION_KEY = "vetting_skipped"
MAX_SKIPPED = 500
#: What each confidence level means (the key beside the label form).
CONFIDENCE_KEY = (
    ("Sure", "1.0", "the plots leave no doubt"),
    ("Likely", "0.75", "the evidence points this way, but a diagnostic is weak or missing"),
    ("Unsure", "0.5", "a best guess"),
)
#: Figure order on the candidate page, with accessible descriptions.
FIGURES = (
    ("folded", "Folded light curve zoomed on the transit: raw points, bins with error bars, trapezoid model"),
    ("odd_even", "Odd and even transits side by side with their depths"),
    ("secondary", "Flux around the strongest secondary eclipse, with the phase-0.5 value"),
    ("phase", "The whole orbit folded on the period, phase -0.25 to 0.75"),
    ("per_transit", "Each transit on its own: depth per transit and a river diagram"),
    ("views", "Global and local views as the classifier sees them"),
    ("timeseries", "The full detrended light curve with each predicted transit marked"),
    ("periodogram", "Box least squares periodogram with the catalog period marked"),
)
_METRIC_DESCRIPTIONS = {m.name: m.description for m in METRICS}


def queue_filterset(data: QueryDict | None) -> CandidateFilter:
    """The queue's GET filters (the API's vocabulary); bad values are shown on the page and ignored.
    (``user`` is given to the queue's readers, not here: the form does not depend on it.)"""
    filterset = CandidateFilter(data or None)
    fields = filterset.form.fields
    fields["ordering"].choices = ORDERING_CHOICES
    fields["labeled"].choices = (("", "Any"), ("false", "No team label yet"), ("true", "Has a team label"))
    return filterset


def _filter_fields(form) -> str:
    return render_to_string("candidates/_queue_filters.html", {"form": form})


@lru_cache(maxsize=256)
def filter_fields_html(query_string: str) -> str:
    """The queue's filter and sort fields for a query string without errors (``page`` left out).

    The same HTML for every vetter (the choices are fixed in code), and Django's widget
    templates cost about a tenth of the queue page's CPU: rendered once per query string in
    each web process (the 256 most recent kept).
    """
    return _filter_fields(queue_filterset(QueryDict(query_string)).form)


def candidate_url_format() -> str:
    """The candidate page's URL with ``{}`` for the id: one ``reverse`` per page, not per row."""
    marker = 2**31 - 1
    return reverse("candidate-detail", args=[marker]).replace(str(marker), "{}")


def candidate_queue(request):
    """What to vet next, in active-learning order, with filters, sorting and counts."""
    filterset = queue_filterset(request.GET or None)
    query = queue_selectors.QueueQuery.from_filterset(filterset)
    version = active_version()
    counts = queue_selectors.queue_counts(user=request.user)
    page = queue_selectors.queue_page(user=request.user, query=query, version=version, counts=counts,
                                      page=request.GET.get("page"), per_page=QUEUE_PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    url = candidate_url_format()
    for cand in page.object_list:
        cand.url = url.format(cand.pk)
    first = next(iter(page.object_list), None)
    query_string = params.urlencode()
    fields = _filter_fields(filterset.form) if filterset.form.errors else filter_fields_html(query_string)
    return render(request, "candidates/queue.html", {
        "page": page, "rows_html": queue_rows_html(page.object_list), "form": filterset.form, "filter_fields": fields,
        "query": query, "version": version,
        "counts": counts, "jobs": queue_selectors.running_jobs(), "params": query_string, "first": first,
    })


def _session_start(user) -> datetime:
    """When the vetter's session began: their last login (Django sets it at every login; no
    session write, so the page's query count stays fixed)."""
    return user.last_login or timezone.now()


#: Short column headings of model families on the narrow model card (the full name is the tooltip).
_FAMILY_SHORT = {"extra_trees": "ET", "logistic": "logit", "random_forest": "RF"}


def _committee(prediction, families) -> str | None:
    """Whom the prediction's disagreement is measured between, as the page words it: "models" (two
    families or more), "its fold models" (one family whose version was scored with its fold models
    as the committee, ``metrics["committee"]``) or None (a committee of one: nothing to show)."""
    if prediction is None:
        return None
    if len(families) > 1:
        return "models"
    metrics = prediction.classifier_version.metrics or {}
    return "its fold models" if metrics.get("committee") == "fold models" else None


def _probability_rows(prediction) -> tuple[list[tuple[str, str]], list[dict]]:
    """Model families as (name, short heading), and per class: ensemble probability, each family's
    and their spread (max - min)."""
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
    return [(f, _FAMILY_SHORT.get(f, f)) for f in families], rows


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
    all_labels = review_selectors.labels_with_history(candidate=candidate)
    labels = review_selectors.current_of(all_labels)
    mine = review_selectors.my_current_label(labels, request.user)
    # The visibility rule: others' labels, the consensus and disputes only after your own label.
    visible = review_selectors.can_see_others_labels(user=request.user, has_labeled=mine is not None)
    # The blind rule: the model's prediction stays off the page until the vetter has labeled.
    model_hidden = review_selectors.model_hidden(user=request.user, candidate_id=candidate.pk,
                                                 has_labeled=mine is not None)
    prediction = None if model_hidden else prediction
    consensus = review_selectors.visible_consensus(user=request.user, candidate=candidate, has_labeled=mine is not None)
    labels = labels if visible else [mine] if mine else []
    disputes = review_selectors.candidate_disputes(candidate=candidate, user=request.user)
    skipped = request.session.get(SKIPPED_SESSION_KEY, [])
    next_id = queue_selectors.next_candidate_id(user=request.user, exclude_ids=[candidate.pk, *skipped])
    previous_id = review_selectors.last_labeled_candidate_id(user=request.user, exclude_id=candidate.pk)
    payload = candidate.plot_payload or None
    figures = plots.all_figures(payload, metrics=candidate.features) if payload else {}
    pixels = candidate_selectors.candidate_pixel_evidence(candidate=candidate)
    if pixels:  # drawn by the same script as the light-curve figures (templates/candidates/_pixels.html)
        figures = {**figures, **pixels["figures"]}
    families, probability_rows = _probability_rows(prediction)
    initial = {"label_class": mine.label_class, "confidence": mine.confidence} if mine else {"confidence": 1.0}
    history = review_selectors.visible_history(all_labels, user=request.user, has_labeled=mine is not None)
    session_count, session_last = review_selectors.labeled_since(user=request.user, since=_session_start(request.user))
    groups = candidate_page.vetting_groups(candidate.features, _METRIC_DESCRIPTIONS)
    return render(request, "candidates/detail.html", {
        "candidate": candidate, "target": candidate.target, "consensus": consensus, "model_hidden": model_hidden,
        "prediction": prediction, "families": families, "probability_rows": probability_rows,
        "committee": _committee(prediction, families),
        "labels": [label for label in labels if label.pk != (mine.pk if mine else None)], "my_label": mine,
        "labels_visible": visible, "disputes": disputes,
        "figures": figures, "pixels": pixels, "figure_list": [(n, d) for n, d in FIGURES if n in figures],
        "groups": groups, "failed_flags": candidate_page.failed_flags(groups),
        "params": candidate_page.catalog_params(candidate, candidate.target, candidate.features),
        "extra_columns": candidate_page.extra_catalog_columns(candidate),
        "archive_links": candidate_page.archive_links(candidate.target),
        "history": history, "session_count": session_count, "session_last": session_last,
        "label_form": LabelForm(initial=initial), "confidence_choices": CONFIDENCE_CHOICES,
        "confidence_key": CONFIDENCE_KEY,
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
