"""Site shell views: home redirect, throttled login, health check."""
from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect

from vetting.candidates import selectors as candidate_selectors
from vetting.candidates.models import ImportJob
from vetting.learning import selectors as learning_selectors
from vetting.learning.models import TrainingRun
from vetting.web import health as health_checks
from vetting.web.throttle import login_throttle


def home(request: HttpRequest) -> HttpResponse:
    return redirect("candidate-queue")


class ThrottledLoginView(LoginView):
    """Login page; too many failed attempts from one address are refused for a while."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if login_throttle.is_blocked(request):
            response = self.get(request, *args, **kwargs)
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        login_throttle.record_failure(self.request)
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["throttled"] = login_throttle.is_blocked(self.request)
        return context


def health(request: HttpRequest) -> JsonResponse:
    """Database, broker and worker status; 200 when the database answers, else 503."""
    report = health_checks.run_checks()
    status = 200 if report["database"]["ok"] else 503
    return JsonResponse(report, status=status)


# --- progress of long jobs (polled by static/js/progress.js) --------------------------------

def _no_store(body: dict) -> JsonResponse:
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"  # a poll must never get a stale cached answer
    return response


def import_job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """State and progress (0..1) of an ImportJob row."""
    job = get_object_or_404(ImportJob.objects.only("state", "progress", "kind", "counts", "errors"), pk=pk)
    return _no_store(candidate_selectors.import_job_progress(job))


def training_run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """State, progress (0..1) and current step of a TrainingRun row."""
    run = get_object_or_404(TrainingRun.objects.select_related("classifier_version"), pk=pk)
    return _no_store(learning_selectors.training_run_progress(run))
