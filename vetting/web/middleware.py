"""Login required everywhere except the login page, static files, health check and the API.

The API authenticates itself (token or session) and answers 401/403 as JSON instead of redirecting.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/health/", "/api/", "/admin/login/")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Public paths first: /health/ must answer without a database query (the session user
        # is loaded from the database, which may be the thing that is down).
        if not request.path.startswith(PUBLIC_PREFIXES) and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)
