"""One-page vetting reports printed to PDF/PNG by headless Chromium, cached by their content.

Why print an HTML page rather than export figures with kaleido: the report must show the SAME
figures as the candidate page, with its tables of flags, metrics, probabilities and labels.
Chromium's ``--print-to-pdf`` and ``--screenshot`` lay out the whole page (figures drawn by the
same plotly.js bundle the page uses, from the same figure dicts) in one process per file, with
no extra Python dependency; kaleido would give one image per figure and still need a layout
engine for the page around them, and it drives the same Chromium anyway.

The site (``vetting.web``) registers the HTML builder with :func:`set_builder` (this bottom layer
imports no app; the API calls :func:`report_bytes` without importing the site). The HTML holds
everything that changes a report (features, figures, prediction, the labels the requester may
see), so its SHA-256 is the cache key: an unchanged candidate costs one cache read, any new
label or model gives a new key. Printing takes a few seconds per file (logged at INFO).
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

logger = logging.getLogger(__name__)

#: Report formats and their content types.
FORMATS = {"pdf": "application/pdf", "png": "image/png"}
#: Page size in CSS pixels at 96 dpi: A4 portrait (210 x 297 mm).
PAGE_WIDTH_PX, PAGE_HEIGHT_PX = 794, 1123
#: Seconds a rendered report stays in the cache.
CACHE_TTL_S = 7 * 24 * 3600
_CACHE_PREFIX = "report:v1:"

#: ``builder(request, pk) -> html``: set by the site (raises Http404 for an unknown candidate).
_builder: Callable | None = None


class ReportError(RuntimeError):
    """The browser failed, timed out or wrote nothing."""


def set_builder(builder: Callable) -> None:
    """Register the function that renders a candidate's report HTML for a request."""
    global _builder
    _builder = builder


def browser() -> str | None:
    """Path of the configured Chromium if it exists and is executable, else None."""
    configured = settings.VETTING_REPORT_BROWSER
    path = configured if os.path.isabs(configured) else shutil.which(configured)
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def unavailable() -> str | None:
    """Why reports cannot be made on this server (a sentence), or None when they can."""
    if browser() is None:
        return (f"Reports need a headless Chromium and none was found at VETTING_REPORT_BROWSER="
                f"{settings.VETTING_REPORT_BROWSER!r} (install the chromium package or set the setting).")
    return None


def print_html(html: str, fmt: str) -> bytes:
    """Print ``html`` (self-contained: scripts inline) to one A4 page of PDF or a PNG.

    Raises
    ------
    ReportError
        No browser, a non-zero exit, a timeout (``VETTING_REPORT_TIMEOUT_S``) or no output.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}")
    exe = browser()
    if exe is None:
        raise ReportError(unavailable())
    with tempfile.TemporaryDirectory(prefix="vetting-report-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / f"report.{fmt}"
        page.write_text(html, encoding="utf-8")
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-extensions", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
                # let plotly.js draw before the page is printed (virtual time: no real waiting)
                "--run-all-compositor-stages-before-draw", "--virtual-time-budget=15000"]
        if fmt == "pdf":
            args += ["--no-pdf-header-footer", f"--print-to-pdf={out}"]
        else:
            args += [f"--window-size={PAGE_WIDTH_PX},{PAGE_HEIGHT_PX}", "--force-device-scale-factor=2",
                     f"--screenshot={out}"]
        try:
            proc = subprocess.run([*args, page.as_uri()], capture_output=True, text=True,
                                  timeout=float(settings.VETTING_REPORT_TIMEOUT_S))
        except subprocess.TimeoutExpired:
            raise ReportError(f"the browser took more than {settings.VETTING_REPORT_TIMEOUT_S:.0f} s") from None
        if not out.exists() or out.stat().st_size == 0:
            logger.error("report: chromium exit %s: %s", proc.returncode, proc.stderr[-2000:])
            raise ReportError(f"the browser wrote no {fmt} (exit code {proc.returncode})")
        return out.read_bytes()


def report_bytes(request, pk: int, fmt: str) -> bytes:
    """The report of candidate ``pk`` as ``request.user`` may see it, from the cache when the HTML
    is unchanged, else printed now (seconds).

    Raises
    ------
    Http404
        Unknown candidate (from the builder).
    ReportError
        See :func:`print_html`.
    """
    if _builder is None:
        raise ReportError("no report builder registered (the site app is not installed)")
    html = _builder(request, pk)
    key = _CACHE_PREFIX + fmt + ":" + hashlib.sha256(html.encode()).hexdigest()
    data = cache.get(key)
    if data is None:
        started = time.perf_counter()
        data = print_html(html, fmt)
        logger.info("report: candidate %s %s printed in %.1f s (%d bytes)", pk, fmt,
                    time.perf_counter() - started, len(data))
        cache.set(key, data, CACHE_TTL_S)
    return data


def filename(pk: int, fmt: str) -> str:
    return f"vetting-report-candidate-{pk}.{fmt}"


class ReportProblem(Exception):
    """Why no report file can be sent: ``status`` (404 or 503) and a JSON ``body``."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.body = {"detail": detail, "code": code}


def report_download(request, pk: int, fmt: str):
    """The report of candidate ``pk`` as an attachment ``HttpResponse``: the one path the site's
    and the API's download views share.

    Raises
    ------
    ReportProblem
        404 for an unknown format, 503 when no browser is installed or printing failed.
    Http404
        Unknown candidate.
    """
    if fmt not in FORMATS:
        raise ReportProblem(404, "not_found", f"Unknown report format {fmt!r}; use pdf or png.")
    problem = unavailable()
    if problem:
        raise ReportProblem(503, "report_unavailable", problem)
    try:
        data = report_bytes(request, pk, fmt)
    except ReportError as exc:
        raise ReportProblem(503, "report_failed", str(exc)) from exc
    response = HttpResponse(data, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename(pk, fmt)}"'
    return response
