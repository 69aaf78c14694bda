"""Model card pages of classifier versions: the card, its Markdown/JSON files, "Reproduce this model".

Thin views: ``vetting.learning.services.modelcard`` computes the card and runs the job.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from vetting.core.roles import is_curator, is_vetter
from vetting.learning.models import ClassifierVersion
from vetting.learning.services import modelcard


def _version(request, pk: int) -> ClassifierVersion:
    if not is_vetter(request.user):
        raise PermissionDenied("model cards are for the team")
    return get_object_or_404(ClassifierVersion, pk=pk)


@login_required
@require_GET
def model_card(request, pk: int):
    """The model card of one classifier version, with the reproduce button for curators."""
    version = _version(request, pk)
    card = modelcard.version_card(version)
    return render(request, "learning/model_card.html", {
        "version": version, "card": card, "can_reproduce": is_curator(request.user),
        "has_snapshot": modelcard.read_file(version, modelcard.SNAPSHOT_SUFFIX) is not None,
        "reproduction": card["reproduction"],
    })


@login_required
@require_GET
def model_card_file(request, pk: int, fmt: str):
    """The card as a download: ``md`` (Markdown) or ``json``."""
    from classifier.modelcard import card_json, card_markdown

    if fmt not in ("md", "json"):
        raise Http404("model cards are .md or .json")
    version = _version(request, pk)
    card = modelcard.version_card(version)
    body, ctype = (card_markdown(card), "text/markdown") if fmt == "md" else (card_json(card), "application/json")
    response = HttpResponse(body, content_type=f"{ctype}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="model-card-{version.name}.{fmt}"'
    return response


@login_required
@require_POST
def model_reproduce(request, pk: int):
    """"Reproduce this model" (curators): queue the background job; the card shows its result."""
    if not is_curator(request.user):
        raise PermissionDenied("only curators can reproduce a model")
    version = get_object_or_404(ClassifierVersion, pk=pk)
    try:
        state = modelcard.reproduce_request(version=version, requested_by=request.user)
    except modelcard.SnapshotMissing as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Reproduction of {version.name} is {state['state']}; this page shows the result "
                                  "when it is done.")
    return redirect("classifier-version-card", pk=version.pk)
