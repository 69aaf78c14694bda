"""Login required everywhere except the login page, static files, health check and the API.

The API authenticates itself (token or session) and answers 401/403 as JSON instead of redirecting.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from vetting.web.throttle import login_throttle

# /metrics checks its own credentials (a bearer token for Prometheus, or a staff session).
PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/health/", "/api/", "/admin/login/", "/metrics")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Public paths first: /health/ must answer without a database query (the session user
        # is loaded from the database, which may be the thing that is down).
        if not request.path.startswith(PUBLIC_PREFIXES) and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


class LoginThrottleMiddleware:
    """Throttle POSTs to the site login and the admin login (``vetting.web.throttle``).

    One guard for both pages (the admin's login view is Django's): a blocked address gets a
    429 before any password is checked; a POST that ends with a logged-in user and a redirect
    (Django's login views redirect on success) gives its attempt back. Needs the session and
    authentication middleware before it.
    """

    LOGIN_URL_NAMES = ("login", "admin:login")

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths: frozenset[str] | None = None

    def _login_paths(self) -> frozenset[str]:
        if self._paths is None:  # the URLconf is not loaded yet when middleware is built
            self._paths = frozenset(reverse(name) for name in self.LOGIN_URL_NAMES)
        return self._paths

    def __call__(self, request):
        if request.method != "POST" or request.path not in self._login_paths():
            return self.get_response(request)
        if not login_throttle.try_attempt(request):
            return login_throttle.refused(request)
        response = self.get_response(request)
        if response.status_code in (301, 302, 303) and request.user.is_authenticated:
            login_throttle.refund(request)
        return response
