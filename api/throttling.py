"""API rate limits counted atomically in the shared cache, so they hold across processes.

DRF's own throttles keep a list of timestamps per client and write it back after each
request: with several gunicorn workers (and, before the cache moved to Redis, one cache per
worker) concurrent requests overwrite each other's lists and more requests get through than
the rate allows. These count with :func:`vetting.core.cache.count_hit` (one Redis ``INCR`` per
request) in a window of the rate's period that starts at the client's first request; the
scopes, rates (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``) and client address (``NUM_PROXIES``)
are DRF's.
"""
from __future__ import annotations

from rest_framework import throttling

from vetting.core.cache import count_hit


class _SharedCountMixin:
    """``allow_request``/``wait`` of a SimpleRateThrottle on an atomic shared counter."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self._seconds_left = count_hit(self.key, self.duration)
        return count <= self.num_requests

    def wait(self) -> float | None:
        """Seconds until the client's window ends (the ``Retry-After`` header)."""
        return max(1.0, getattr(self, "_seconds_left", float(self.duration)))


class SharedAnonRateThrottle(_SharedCountMixin, throttling.AnonRateThrottle):
    """Anonymous requests per client address (scope ``anon``)."""


class SharedUserRateThrottle(_SharedCountMixin, throttling.UserRateThrottle):
    """Authenticated requests per user (scope ``user``)."""
