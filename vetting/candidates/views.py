"""Candidate pages (list; the vetting page lives in vetting.reviews)."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from vetting.candidates import selectors
from vetting.candidates.models import Candidate, Mission


def candidate_queue(request):
    """Candidate list with filters and pagination."""
    mission = request.GET.get("mission") or None
    qs = selectors.candidate_list(mission=mission)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "candidates/list.html", {"page": page, "missions": Mission.choices, "mission": mission})


def candidate_detail(request, pk: int):
    candidate = get_object_or_404(Candidate.objects.with_target(), pk=pk)
    return render(request, "candidates/detail.html", {"candidate": candidate})
