"""Login throttling for the site login and the admin login, counted in the shared cache.

Every POST to a login page reserves one attempt for the client address before the password is
checked (:meth:`LoginThrottle.try_attempt`, one atomic count in Redis shared by all web
processes, so neither several gunicorn workers nor a burst of concurrent requests let more
tries through); a POST that logs someone in gives its attempt back (:meth:`LoginThrottle.refund`).
So ``max_failures`` failed attempts within ``window_s`` seconds of the first one block the
address until that window ends. ``vetting.web.middleware.LoginThrottleMiddleware`` applies it
to both login pages. The client address is DRF's (``REST_FRAMEWORK["NUM_PROXIES"]``, from
``VETTING_NUM_PROXIES``), the same one the API rate limits count.
"""
from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

from vetting.core.cache import count_hit, peek


def client_address(request: HttpRequest) -> str:
    """The client's address as the API rate limits see it (behind ``NUM_PROXIES`` proxies)."""
    return BaseThrottle().get_ident(request) or "?"


class LoginThrottle:
    """Block an address after ``max_failures`` failed logins within ``window_s`` seconds."""

    def __init__(self, max_failures: int = 10, window_s: int = 300):
        self.max_failures = max_failures
        self.window_s = window_s

    @staticmethod
    def _key(request: HttpRequest) -> str:
        return f"login-attempts:{client_address(request)}"

    def try_attempt(self, request: HttpRequest) -> bool:
        """Reserve one attempt; False (do not check the password) when the address is blocked."""
        count, _ = count_hit(self._key(request), self.window_s)
        return count <= self.max_failures

    def refund(self, request: HttpRequest) -> None:
        """Give back the attempt of a login that succeeded (only failures count)."""
        try:
            cache.decr(self._key(request))
        except ValueError:  # the window ended meanwhile
            pass

    def is_blocked(self, request: HttpRequest) -> bool:
        return peek(self._key(request)) >= self.max_failures

    def refused(self, request: HttpRequest) -> HttpResponse:
        """The 429 page: the site's login page with the "too many attempts" notice."""
        response = render(
            request, "registration/login.html",
            {"form": AuthenticationForm(request), "throttled": True, "next": request.POST.get("next", "")},
            status=429,
        )
        response["Retry-After"] = str(self.window_s)
        return response


login_throttle = LoginThrottle()
