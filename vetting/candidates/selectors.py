"""Read queries for candidates (no writes here)."""
from __future__ import annotations

from django.db.models import QuerySet

from vetting.candidates.models import Candidate, ImportJob
from vetting.core import liveness
from vetting.core.progress import progress_body


def candidates_missing_views() -> QuerySet[Candidate]:
    """Real (not simulated) candidates with a complete ephemeris but no stored views, oldest first."""
    return (
        Candidate.objects.with_target()
        .filter(global_view__isnull=True, period_days__isnull=False, epoch__isnull=False, duration_hours__isnull=False)
        .exclude(source_catalog="simulated")
        .order_by("created_at", "id")
    )


def import_job_progress(job: ImportJob) -> dict:
    """JSON-ready progress of one import job, in the shape every progress bar polls (``kind``,
    ``state``, ``progress`` 0..1, ``message``, ``done``) plus its counts and number of errors."""
    errors = job.errors or []
    message = f"{job.get_kind_display()}: {job.state}"
    if errors:
        message += f", {len(errors)} error(s)"
    if job.message:  # what recovery did (e.g. re-queued after its worker was lost)
        message += f" ({job.message})"
    return progress_body(kind="import", pk=job.pk, state=job.state, progress=job.progress, message=message,
                         sent=liveness.was_sent(job), counts=job.counts or {}, n_errors=len(errors))


def candidate_pixel_evidence(*, candidate: Candidate) -> dict | None:
    """What the candidate page's pixel section shows; no query (reads the candidate's fields).

    From the target pixel files (``Candidate.pixel_payload`` and the pixel metrics in
    ``features``, see :mod:`vetting.candidates.importers.tpf`) when they were imported, else the
    catalog's DV centroid offset (Kepler KOI/TCE tables), else None. Returns ``source``
    (``"tpf"`` or ``"catalog"``), ``verdict`` and ``verdict_label``
    (:func:`classifier.pixels.offset_verdict`), ``rows`` of (name, value text with 3 significant
    digits, unit), ``figures``
    (:func:`classifier.pixel_plots.pixel_figures`), ``notes``, ``tpf`` (which file is drawn)
    and ``threshold_sigma``.
    """
    from classifier import pixel_plots, pixels

    features = candidate.features or {}
    payload = candidate.pixel_payload or None
    if payload:
        source, metrics = "tpf", {k: features.get(k) for k in pixels.PIXEL_METRIC_NAMES}
    else:
        metrics = {k: features.get(k) for k in pixels.PIXEL_METRIC_NAMES if features.get(k) is not None}
        if not metrics.get("centroid_offset_sigma"):
            metrics = pixels.catalog_centroid_metrics(candidate.source_catalog, candidate.catalog_features)
        if not metrics:
            return None
        source = "catalog"
    verdict = pixels.offset_verdict(metrics)
    rows = [(label, _sig(metrics.get(key)), unit) for key, label, unit in (
        ("centroid_offset_arcsec", "Transit source offset from the target", "arcsec"),
        ("centroid_offset_err_arcsec", "its uncertainty (1σ)", "arcsec"),
        ("centroid_offset_sigma", "offset significance", "σ"),
        ("centroid_offset_px", "offset", "pixels"),
        ("centroid_shift_arcsec", "Photocentre shift in transit", "arcsec"),
        ("centroid_shift_sigma", "shift significance", "σ"),
        ("diff_image_snr", "Difference-image SNR", ""),
        ("pixel_depth_ppm", "Depth in the aperture", "ppm"),
        ("pixel_n_transits", "Transits in the pixel data", ""),
    ) if metrics.get(key) is not None]
    return {"source": source, "verdict": verdict, "verdict_label": pixels.VERDICTS[verdict], "rows": rows,
            "figures": pixel_plots.pixel_figures(payload), "notes": list((payload or {}).get("notes", [])),
            "tpf": (payload or {}).get("source", {}), "threshold_sigma": pixels.OFFSET_SIGMA_THRESHOLD}


def _sig(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (a 0.0012 arcsec shift is not "0.00")."""
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"
