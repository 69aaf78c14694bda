"""The shared cache (vetting.core.cache): prefix-only clear, atomic counting, fail-soft on a bad Redis."""
from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache

from vetting.core.cache import ResilientRedisCache, count_hit, peek


def test_default_cache_is_the_shared_redis_cache():
    from django.conf import settings

    assert settings.CACHES["default"]["BACKEND"] == "vetting.core.cache.ResilientRedisCache"
    assert settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL
    assert hasattr(cache, "hit")


def test_clear_deletes_only_this_caches_keys():
    import redis
    from django.conf import settings

    raw = redis.Redis.from_url(settings.REDIS_URL)
    foreign = f"not-the-cache-{time.monotonic_ns()}"  # e.g. a broker queue in the same database
    raw.set(foreign, "keep", ex=60)
    cache.set("mine", 1)
    try:
        cache.clear()
        assert cache.get("mine") is None
        assert raw.get(foreign) == b"keep"
    finally:
        raw.delete(foreign)


def test_count_hit_is_atomic_under_concurrency():
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: count_hit("burst", 60), range(200)))
    counts = sorted(count for count, _ in results)
    assert counts == list(range(1, 201))  # no count lost or repeated
    assert peek("burst") == 200
    assert all(0 < left <= 60 for _, left in results)


def test_count_hit_window_expires():
    count_hit("short", 0.3)
    assert count_hit("short", 0.3)[0] == 2
    time.sleep(0.45)
    assert count_hit("short", 0.3)[0] == 1  # a new window


def _hung_redis():
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return server, held, stop, thread


@pytest.mark.parametrize("kind", ["hung", "refusing"])
def test_a_bad_redis_costs_one_short_timeout_then_nothing(kind):
    if kind == "hung":
        server, held, stop, thread = _hung_redis()
        port = server.getsockname()[1]
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # closed again: nothing listens there
    backend = ResilientRedisCache(f"redis://127.0.0.1:{port}/0", {
        "KEY_PREFIX": "t", "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})
    try:
        started = time.monotonic()
        assert backend.get("x", "default") == "default"
        first = time.monotonic() - started
        started = time.monotonic()
        assert backend.hit("x", 60) == (0, 0.0)  # counters fail open
        assert backend.add("x", 1) is False
        backend.set("x", 1)
        assert backend.get_or_set("x", 5) == 5
        backend.clear()
        rest = time.monotonic() - started
    finally:
        if kind == "hung":
            stop.set()
            thread.join()
            for conn in held:
                conn.close()
            server.close()
    print(f"\n{kind} Redis: first call {first * 1000:.0f} ms, next six calls {rest * 1000:.1f} ms")
    assert first < 1.5  # one socket timeout (0.5 s), no retries
    assert rest < 0.05  # skipped while the process waits RETRY_AFTER_S
