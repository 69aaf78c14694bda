"""``/metrics``: the Prometheus text format, for staff sessions or the ``VETTING_METRICS_TOKEN``.

Prometheus authenticates with ``Authorization: Bearer <token>``; a person signed in as staff can
open the page in a browser. Anyone else: 401 (no or wrong credentials) or 403 (signed in, not
staff). What the metrics are and why every gunicorn worker reports the same numbers:
:mod:`vetting.core.metrics`.
"""
from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from vetting.core import metrics


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.VETTING_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics, or a JSON 401/403 saying what is missing (before any 405: a stranger learns
    nothing about the endpoint)."""
    if not _bearer_ok(request):
        if "Authorization" in request.headers or not request.user.is_authenticated:
            response = JsonResponse({"detail": "Send 'Authorization: Bearer <VETTING_METRICS_TOKEN>' or sign in "
                                               "as staff."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not request.user.is_staff:
            return JsonResponse({"detail": "Only staff may read the metrics."}, status=403)
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"detail": "Only GET reads the metrics."}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
