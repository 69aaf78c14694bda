"""Label, dispute and team pages. Thin: parse a form, call one service or selector, render.

Writes go through ``vetting.reviews.services`` (label_create, dispute_open, dispute_comment,
dispute_resolve), which validate and raise ``ValidationError``/``PermissionDenied``.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from classifier.vocabulary import CLASSES
from vetting.candidates.models import Candidate
from vetting.core.roles import is_curator, is_vetter
from vetting.learning import queue_selectors
from vetting.learning.selectors import active_version
from vetting.reviews import selectors, services, stats
from vetting.reviews.models import Dispute, Label
from vetting.web.forms import CommentForm, DisputeForm, LabelForm, ResolveForm

SKIPPED_SESSION_KEY = "vetting_skipped"


def _require_vetter(user) -> None:
    if not is_vetter(user):
        raise PermissionDenied("you need the vetter role to label or dispute")


def _errors_text(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


@require_POST
def label_create(request, pk: int):
    """Save the user's label, then go straight to the next candidate in the queue.

    The next page was prefetched by the candidate page, so it shows at once. What was saved is
    passed in the URL fragment (the cache key ignores it) and shown as a notice by vet.js.
    """
    _require_vetter(request.user)
    candidate = get_object_or_404(Candidate.objects.only("pk", "catalog_id"), pk=pk)
    form = LabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Label not saved: " + "; ".join(
            f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()))
        return redirect("candidate-detail", pk)
    try:
        label = services.label_create(
            candidate=candidate, vetter=request.user, label_class=form.cleaned_data["label_class"],
            confidence=form.cleaned_data["confidence"], note=form.cleaned_data["note"],
            seconds_spent=form.cleaned_data["seconds_spent"],
        )
    except ValidationError as exc:
        messages.error(request, f"Label not saved: {_errors_text(exc)}")
        return redirect("candidate-detail", pk)
    if request.POST.get("stay"):
        return redirect("candidate-detail", pk)
    skipped = request.session.get(SKIPPED_SESSION_KEY, [])
    next_id = queue_selectors.next_candidate_id(user=request.user, exclude_ids=[pk, *skipped])
    notice = f"#saved={label.label_class}:{candidate.pk}:{candidate.catalog_id}"
    if next_id is None:
        messages.success(request, f"Saved {label.label_class} for {candidate.catalog_id}. Nothing left in your queue.")
        return redirect("candidate-queue")
    return redirect(reverse("candidate-detail", args=[next_id]) + notice)


def _subject_label(candidate: Candidate, subject: str, user) -> Label | None:
    """Resolve ``label:<id>`` to a label of this candidate the user may dispute."""
    if not subject.startswith("label:"):
        return None
    try:
        label = Label.objects.get(pk=int(subject.split(":", 1)[1]), candidate=candidate, is_current=True)
    except (ValueError, Label.DoesNotExist):
        raise ValidationError({"subject": "that label does not exist on this candidate"}) from None
    return label  # whether the user may see (and so dispute) it: dispute_open applies the rule


@require_POST
def dispute_create(request, pk: int):
    """Open a dispute on the active model's prediction or on a label."""
    _require_vetter(request.user)
    candidate = get_object_or_404(Candidate.objects.only("pk", "catalog_id"), pk=pk)
    subject = request.POST.get("subject", "")
    prediction = queue_selectors.active_prediction(candidate=candidate)
    subjects = [(subject, subject)] if subject.startswith("label:") or (subject == "prediction" and prediction) else []
    form = DisputeForm(request.POST, subjects=subjects)
    if not form.is_valid():
        messages.error(request, "Dispute not opened: " + "; ".join(
            f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()))
        return redirect("candidate-detail", pk)
    try:
        label = _subject_label(candidate, subject, request.user)
        dispute = services.dispute_open(
            candidate=candidate, opened_by=request.user, reason=form.cleaned_data["reason"], label=label,
            model_version=prediction.classifier_version.name if label is None else "",
            disputed_class=prediction.predicted_class if label is None else "",
            proposed_class=form.cleaned_data["proposed_class"],
        )
    except ValidationError as exc:
        messages.error(request, f"Dispute not opened: {_errors_text(exc)}")
        return redirect("candidate-detail", pk)
    messages.success(request, f"Dispute #{dispute.pk} opened; a curator will settle it.")
    return redirect("dispute-detail", dispute.pk)


@require_GET
def dispute_list(request):
    """Curators: the adjudication queue (oldest open first). Vetters: their own disputes."""
    status = request.GET.get("status", "open")
    if status not in ("open", "resolved", "all"):
        status = "open"
    qs = selectors.disputes_for(user=request.user, status=None if status == "all" else status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ties = list(selectors.ties_for_adjudication()[:TIES_SHOWN + 1]) if is_curator(request.user) else None
    return render(request, "reviews/dispute_list.html", {
        "page": page, "status": status, "classes": CLASSES,
        "ties": ties[:TIES_SHOWN] if ties is not None else None,
        "ties_more": ties is not None and len(ties) > TIES_SHOWN})


#: Ties listed on the adjudication page (oldest first).
TIES_SHOWN = 100


@require_POST
def tie_resolve(request, pk: int):
    """A curator breaks a tie: the chosen class becomes the candidate's curated label."""
    if not is_curator(request.user):
        raise PermissionDenied("only curators can decide a tie")
    candidate = get_object_or_404(Candidate.objects.only("pk", "catalog_id"), pk=pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not decided: choose a class.")
        return redirect("dispute-list")
    services.curator_label_set(candidate=candidate, curator=request.user,
                               label_class=form.cleaned_data["resolved_class"], note="Tie decided by a curator")
    messages.success(request, f"{candidate.catalog_id} is now {form.cleaned_data['resolved_class']} (curated).")
    return redirect("dispute-list")


def _dispute_or_404(request, pk: int) -> Dispute:
    try:
        dispute = selectors.dispute_detail(pk=pk)
    except Dispute.DoesNotExist:
        raise Http404("no such dispute") from None
    if not selectors.can_view_dispute(user=request.user, dispute=dispute):
        raise PermissionDenied("label this candidate first to see its label disputes")
    return dispute


@require_GET
def dispute_detail(request, pk: int):
    dispute = _dispute_or_404(request, pk)
    return render(request, "reviews/dispute_detail.html", {
        "dispute": dispute, "comment_form": CommentForm(),
        "resolve_form": ResolveForm(initial={"resolved_class": dispute.proposed_class or None}),
        "can_resolve": is_curator(request.user) and dispute.status == Dispute.Status.OPEN,
    })


@require_POST
def dispute_comment(request, pk: int):
    dispute = _dispute_or_404(request, pk)
    form = CommentForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.get("text") or "a comment needs text")
        services.dispute_comment(dispute=dispute, author=request.user, text=form.cleaned_data["text"])
    except ValidationError as exc:
        messages.error(request, f"Comment not saved: {_errors_text(exc)}")
    return redirect("dispute-detail", pk)


@require_POST
def dispute_resolve(request, pk: int):
    """A curator's decision: recorded on the dispute and set as the curated label."""
    if not is_curator(request.user):
        raise PermissionDenied("only curators can resolve disputes")
    dispute = _dispute_or_404(request, pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not resolved: choose a class.")
        return redirect("dispute-detail", pk)
    try:
        services.dispute_resolve(dispute=dispute, curator=request.user,
                                 resolved_class=form.cleaned_data["resolved_class"],
                                 resolution=form.cleaned_data["resolution"])
    except ValidationError as exc:
        messages.error(request, f"Not resolved: {_errors_text(exc)}")
        return redirect("dispute-detail", pk)
    messages.success(request, f"Dispute #{pk} resolved as {form.cleaned_data['resolved_class']}; "
                              "it is now the candidate's curated label.")
    return redirect("dispute-list")


# --- team --------------------------------------------------------------------------------

def _team_report(user) -> dict:
    """Everything the team page shows, computed by the pure functions in ``stats``."""
    from vetting.reviews import consensus as consensus_rule

    events = selectors.label_events()
    by_vetter = stats.group_by([(e.vetter_id, e) for e in events])
    current: dict[int, dict[int, str]] = {}
    for e in events:
        if e.is_current:
            current.setdefault(e.vetter_id, {})[e.candidate_id] = e.label_class
    labeled = selectors.labeled_candidate_ids()
    version = active_version()
    model = queue_selectors.model_classes(candidate_ids=labeled, version=version)
    names = selectors.vetter_names(vetter_ids=list(by_vetter))
    shown = list(by_vetter) if is_curator(user) else [v for v in by_vetter if v == user.pk]
    reliability = selectors.current_reliability()
    fit = selectors.latest_reliability_fit()
    settled = selectors.settled_classes()
    known = selectors.known_answer_report(user=user)
    conf = settings.VETTING_CONSENSUS

    def others_decide(votes: list[tuple[int, str]]) -> str | None:
        decision = consensus_rule.decide_configured(
            [consensus_rule.Vote(cls, 1.0, "human", vetter_id=v) for v, cls in votes],
            conf={**conf, "min_labels": 1}, include_catalog=False, reliability=reliability)
        return None if decision is None else decision.label_class

    rows, hour_series, position_series, anchoring_rows = [], {}, {}, []
    for vid in sorted(shown, key=lambda v: names.get(v, "")):
        evs = [e for _, e in by_vetter[vid]]
        times = [e.created_at for e in evs]
        classes = [e.label_class for e in evs]
        mine = current.get(vid, {})
        name = names.get(vid, f"#{vid}")
        blind_rows = [(e.model_shown, e.label_class, model[e.candidate_id]) for e in evs
                      if e.is_current and e.model_shown is not None and e.candidate_id in model]
        anchoring_rows += blind_rows
        rows.append({
            "name": name,
            "throughput": stats.throughput(times, [e.seconds_spent for e in evs]),
            "n_current": len(mine),
            "planet_share": (sum(c == stats.PLANET_CLASS for c in mine.values()) / len(mine)) if mine else None,
            "vs_consensus": stats.agreement_with(
                mine, stats.leave_one_out_reference(current, vid, others_decide, fixed=settled)),
            "vs_others": stats.agreement_with(mine, stats.leave_one_out_majority(current, vid)),
            "vs_model": stats.agreement_with(mine, model),
            "anchoring": stats.anchoring(blind_rows),
        })
        hour_series[name] = stats.planet_rate_by_hour(times, classes)
        position_series[name] = stats.planet_rate_by_session_position(times, classes)

    pairs = [p for p in stats.pairwise_kappa(current)
             if is_curator(user) or user.pk in (p.rater_a, p.rater_b)]
    items: dict[int, list[str]] = {}
    for theirs in current.values():
        for cid, cls in theirs.items():
            items.setdefault(cid, []).append(cls)
    fleiss = stats.fleiss_kappa(items.values())
    tz = settings.TIME_ZONE
    return {
        "rows": rows, "names": names, "version": version,
        "pairs": [{"a": names.get(p.rater_a, p.rater_a), "b": names.get(p.rater_b, p.rater_b), "pair": p}
                  for p in pairs],
        "fleiss": fleiss, "fleiss_classes": [(code, name, fleiss.per_class.get(code)) for code, name in CLASSES],
        "figures": {
            "hour": stats.rate_figure(hour_series, title=f"Planet-flag rate by hour of day ({tz})",
                                      xtitle=f"Hour of day ({tz})"),
            "position": stats.rate_figure(position_series, title="Planet-flag rate by position in the session",
                                          xtitle="Label number within a session (gaps ≥ 30 min start a new one)"),
            "snr": stats.snr_recall_figure(known["snr_recall"]),
        },
        "n_events": len(events),
        "fit": fit, "reliability_rows": selectors.reliability_for(user=user, fit=fit),
        "anchoring_overall": stats.anchoring(anchoring_rows), "blind_mode": settings.VETTING_BLIND_MODE,
        "known_rows": [{"name": r["username"], "score": r["score"]} for r in known["vetters"]],
        "n_known": known["n_known"], "n_injected": known["n_injected"], "snr_recall": known["snr_recall"],
        "known_share": settings.VETTING_KNOWN_ANSWER_SHARE,
        "min_seconds_per_label": stats.MIN_SECONDS_PER_LABEL,
    }


@require_GET
def team_stats(request):
    """Per-vetter throughput, agreement and drift (curators: everyone; vetters: themselves)."""
    report = _team_report(request.user)
    report.update({
        "consensus_rule": settings.VETTING_CONSENSUS,
        "include_catalog": settings.VETTING_INCLUDE_CATALOG_LABELS,
        "session_gap_minutes": int(stats.SESSION_GAP.total_seconds() // 60),
        "is_team_view": is_curator(request.user),
        "labels_per_candidate": settings.VETTING_LABELS_PER_CANDIDATE,
        "adaptive": settings.VETTING_OVERLAP_ADAPTIVE, "overlap_confidence": settings.VETTING_OVERLAP_CONFIDENCE,
        "overlap_max": settings.VETTING_OVERLAP_MAX_LABELS,
    })
    return render(request, "reviews/team.html", report)
