"""Site shell views: home redirect, throttled login, health check."""
from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

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

def _progress_json(state: str, progress: float, message: str, **extra) -> JsonResponse:
    body = {"state": state, "progress": max(0.0, min(1.0, float(progress or 0.0))), "message": message,
            "done": state in ("finished", "failed")}
    body.update(extra)
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"  # a poll must never get a stale cached answer
    return response


def import_job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """State and progress (0..1) of an ImportJob row."""
    from django.shortcuts import get_object_or_404

    from vetting.candidates.models import ImportJob

    job = get_object_or_404(ImportJob.objects.only("state", "progress", "kind", "counts", "errors"), pk=pk)
    errors = job.errors or []
    message = f"{job.get_kind_display()}: {job.state}"
    if errors:
        message += f", {len(errors)} error(s)"
    return _progress_json(job.state, job.progress, message, id=job.pk, kind="import", counts=job.counts or {},
                          n_errors=len(errors))


def training_run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """State, progress (0..1) and current step of a TrainingRun row."""
    from django.shortcuts import get_object_or_404

    from vetting.learning.models import TrainingRun

    run = get_object_or_404(TrainingRun.objects.only("state", "progress", "message", "error"), pk=pk)
    message = run.message or run.state
    if run.state == "failed" and run.error:
        message = f"failed: {run.error.splitlines()[0][:200]}"
    return _progress_json(run.state, run.progress, message, id=run.pk, kind="training")
