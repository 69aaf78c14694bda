"""Health checks for the database, the Celery broker and the workers."""
from __future__ import annotations

import time

from django.conf import settings
from django.db import connection


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a health check reports failures, it never raises
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round(1000 * (time.perf_counter() - started), 1)}


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_broker() -> str:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()
    return "redis"


def check_workers() -> list[str]:
    from vetting.celery import app

    replies = app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no Celery worker answered")
    return names


def run_checks(include_workers: bool = True) -> dict:
    report = {"database": _timed(check_database), "broker": _timed(check_broker)}
    if include_workers and report["broker"]["ok"]:
        report["workers"] = _timed(check_workers)
    else:
        report["workers"] = {"ok": False, "detail": "broker unreachable", "ms": 0.0}
    return report
