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
    """Login page; it says so when the address is blocked.

    The attempts are counted and refused (429) by ``vetting.web.middleware.LoginThrottleMiddleware``,
    which guards the admin login the same way.
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["throttled"] = login_throttle.is_blocked(self.request)
        return context


def health(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok"|"fail"}``; staff also get the details; 200 when the database answers, else 503."""
    return health_checks.health_response(request)


# --- progress of long jobs (polled by static/js/progress.js) --------------------------------

def _no_store(body: dict) -> JsonResponse:
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"  # a poll must never get a stale cached answer
    return response


def import_job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """State and progress (0..1) of an ImportJob row."""
    fields = ("state", "progress", "kind", "counts", "errors", "task_id", "message")
    job = get_object_or_404(ImportJob.objects.only(*fields), pk=pk)
    return _no_store(candidate_selectors.import_job_progress(job))


def training_run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """State, progress (0..1) and current step of a TrainingRun row."""
    run = get_object_or_404(TrainingRun.objects.select_related("classifier_version"), pk=pk)
    return _no_store(learning_selectors.training_run_progress(run))
