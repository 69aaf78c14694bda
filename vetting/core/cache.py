"""The Django cache in Redis, shared by every web process, and one atomic window counter.

Login-failure counters and the API rate limits must be counted in one place across all
gunicorn workers and hosts (a per-process cache let 3 processes take 30 login tries instead of
10), so ``CACHES["default"]`` is this backend on ``REDIS_URL``. It is Django's ``RedisCache``
with three changes:

- ``clear()`` deletes only this cache's keys (its ``KEY_PREFIX``), never ``FLUSHDB``: the cache
  shares its Redis database with the Celery broker, and concurrent test sessions share one.
- A Redis that is down, refusing or hung never fails a page: each call has short socket
  timeouts (``OPTIONS`` in the settings), an error is logged and answered like a miss, and for
  ``RETRY_AFTER_S`` seconds after an error this process does not try Redis at all, so a hung
  Redis costs one timeout per process every few seconds, not one per cache call. Counters
  then fail open (nobody is locked out while Redis is down; ``/health/`` reports Redis).
- :meth:`ResilientRedisCache.hit` counts an event atomically (one Lua call: ``INCR`` and, for a
  new key, ``EXPIRE``), so concurrent requests in several processes never lose a count and a
  counter never outlives its window.

:func:`count_hit` is the one counting rule for the login throttle (``vetting.web.throttle``)
and the API throttles (``api.throttling``); with another cache backend (a settings module may
configure one) it falls back to ``add`` + ``incr``.
"""
from __future__ import annotations

import logging
import math
import threading
import time

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

#: Seconds during which a process skips Redis after a failed call.
RETRY_AFTER_S = 5.0

#: KEYS[1] = counter; ARGV[1] = window (ms). Returns {count, milliseconds left in the window}.
_HIT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
return {n, left}
"""

# Per process and server URL: monotonic time until which Redis is skipped (shared by threads).
_down_until: dict[str, float] = {}
_down_lock = threading.Lock()


def _fallback(value):
    return lambda *args, **kwargs: value


def _guarded(parent, fallback):
    """Client method ``parent`` that answers ``fallback(*args)`` instead of raising a Redis error."""

    def method(self, *args, **kwargs):
        if self._skipping():
            return fallback(*args, **kwargs)
        try:
            return parent(self, *args, **kwargs)
        except self._lib.exceptions.RedisError as exc:  # down, refused, timed out, read-only ...
            self._mark_down(exc)
            return fallback(*args, **kwargs)

    method.__name__ = parent.__name__
    return method


class ResilientRedisCacheClient(RedisCacheClient):
    """Redis client of :class:`ResilientRedisCache`: errors become misses (see the module doc)."""

    def _url(self) -> str:
        return self._servers[0]

    def _skipping(self) -> bool:
        return time.monotonic() < _down_until.get(self._url(), 0.0)

    def _mark_down(self, exc: Exception) -> None:
        with _down_lock:
            first = not self._skipping()
            _down_until[self._url()] = time.monotonic() + RETRY_AFTER_S
        if first:
            logger.warning("cache: Redis unavailable (%s); skipping it for %.0f s", exc, RETRY_AFTER_S)

    add = _guarded(RedisCacheClient.add, _fallback(False))
    get = _guarded(RedisCacheClient.get, lambda key, default: default)
    set = _guarded(RedisCacheClient.set, _fallback(None))
    touch = _guarded(RedisCacheClient.touch, _fallback(False))
    delete = _guarded(RedisCacheClient.delete, _fallback(False))
    get_many = _guarded(RedisCacheClient.get_many, _fallback({}))
    has_key = _guarded(RedisCacheClient.has_key, _fallback(False))
    incr = _guarded(RedisCacheClient.incr, lambda key, delta: delta)
    set_many = _guarded(RedisCacheClient.set_many, _fallback([]))
    delete_many = _guarded(RedisCacheClient.delete_many, _fallback(None))

    def _hit(self, key: str, window_ms: int) -> tuple[int, int]:
        client = self.get_client(key, write=True)
        count, left_ms = client.eval(_HIT_SCRIPT, 1, key, window_ms)
        return int(count), int(left_ms)

    hit = _guarded(_hit, lambda key, window_ms: (0, 0))

    def _clear_prefix(self, pattern: str) -> None:
        client = self.get_client(None, write=True)
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)

    clear_prefix = _guarded(_clear_prefix, _fallback(None))


class ResilientRedisCache(RedisCache):
    """Django's RedisCache with a prefix-only ``clear()``, fail-soft calls and :meth:`hit`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ResilientRedisCacheClient

    def hit(self, key: str, window_s: float, version=None) -> tuple[int, float]:
        """Count one event under ``key``; the window starts at its first event.

        Returns ``(count, seconds_left)``: events counted in the current window (this one
        included; 0 when Redis is unavailable) and seconds until the window ends.
        """
        key = self.make_and_validate_key(key, version=version)
        count, left_ms = self._cache.hit(key, max(1, int(window_s * 1000)))
        return count, left_ms / 1000.0

    def clear(self) -> None:
        """Delete this cache's keys only (``KEY_PREFIX:*``; never the broker's)."""
        prefix = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.key_prefix)
        self._cache.clear_prefix(f"{prefix}:*")


def count_hit(key: str, window_s: float) -> tuple[int, float]:
    """Count one event under ``key`` in the shared cache; the one counting rule of the throttles.

    Parameters
    ----------
    key : str
        Counter name (the cache adds its prefix).
    window_s : float
        Window length in seconds, starting at the key's first event; the counter expires with it.

    Returns
    -------
    (count, seconds_left) : (int, float)
        Events in the current window including this one (0 when the cache is unavailable: the
        throttles fail open) and seconds until the window ends.
    """
    if hasattr(cache, "hit"):  # ResilientRedisCache: atomic in Redis
        return cache.hit(key, window_s)
    # Another backend (e.g. local memory in a one-process settings module): add + incr.
    if cache.add(key, 1, math.ceil(window_s)):
        return 1, float(window_s)
    try:
        return int(cache.incr(key)), float(window_s)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, math.ceil(window_s))
        return 1, float(window_s)


def peek(key: str) -> int:
    """Current count of ``key`` (0 when absent or the cache is unavailable)."""
    return int(cache.get(key) or 0)
