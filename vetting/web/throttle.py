"""Login throttling: count failed logins per client address in the cache."""
from __future__ import annotations

from django.core.cache import cache


class LoginThrottle:
    """Block an address after ``max_failures`` failed logins within ``window_s`` seconds."""

    def __init__(self, max_failures: int = 10, window_s: int = 300):
        self.max_failures = max_failures
        self.window_s = window_s

    @staticmethod
    def _key(request) -> str:
        return f"login-failures:{request.META.get('REMOTE_ADDR', '?')}"

    def record_failure(self, request) -> None:
        key = self._key(request)
        if cache.add(key, 1, self.window_s):
            return
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, self.window_s)

    def is_blocked(self, request) -> bool:
        return (cache.get(self._key(request)) or 0) >= self.max_failures


login_throttle = LoginThrottle()
