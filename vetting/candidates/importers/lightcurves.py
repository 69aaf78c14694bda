"""Store light curves (``.npz`` + sha256) and attach the computed products to candidates.

The shared path of every time-series import: FITS files, MAST downloads and the simulated
demo all end in :func:`import_arrays` (or, for the demo's bulk path, in the same helpers
:func:`npz_bytes`, :func:`store_lightcurve` and :func:`products_for`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction

from classifier.pixels import PIXEL_METRIC_NAMES
from classifier.timesystems import epoch_in_system
from vetting.candidates.features import features_set
from vetting.candidates.importers.errors import BadFileError, ImportReport
from vetting.candidates.importers.products import Products, compute_products, npz_bytes
from vetting.candidates.models import Candidate, LightCurve, Mission, Target, TimeSystem

logger = logging.getLogger(__name__)

MISSION_TIME_SYSTEMS = {Mission.KEPLER: TimeSystem.BKJD, Mission.K2: TimeSystem.BKJD,
                        Mission.TESS: TimeSystem.BTJD, Mission.SIMULATED: TimeSystem.BKJD}
STAR_FIELDS = ("ra_deg", "dec_deg", "magnitude", "teff_k", "logg_cgs", "radius_rsun", "mass_msun")


@dataclass
class LightCurveArrays:
    """A light curve read from a file or a service, before storage.

    ``time`` (n,) days in ``time_system``; ``flux``/``flux_err`` (n,) normalised to a median of 1;
    ``quality`` (n,) int32 mission flags. ``star`` holds header values for a new Target.
    """

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    mission: str
    target_catalog_id: str
    time_system: str
    quarter: int | None = None
    sector: int | None = None
    cadence_s: float | None = None
    flux_column: str = ""
    source: str = "fits"
    original_filename: str = ""
    star: dict = field(default_factory=dict)


def normalised(time, flux, flux_err=None, quality=None, *, what: str = "light curve"):
    """Drop cadences without a finite time, divide flux by its median; arrays (time f8, flux f4,
    flux_err f4, quality i4). BadFileError if no finite, positive flux is left."""
    time = np.asarray(time, dtype=float).ravel()
    flux = np.asarray(flux, dtype=float).ravel()
    n = time.size
    flux_err = np.full(n, np.nan) if flux_err is None else np.asarray(flux_err, dtype=float).ravel()
    quality = np.zeros(n, np.int32) if quality is None else np.asarray(quality).ravel().astype(np.int32)
    if not (flux.size == n == flux_err.size == quality.size):
        raise BadFileError(f"the {what} has columns of different lengths")
    if n == 0:
        raise BadFileError(f"the {what} has no cadences")
    keep = np.isfinite(time)
    time, flux, flux_err, quality = time[keep], flux[keep], flux_err[keep], quality[keep]
    finite = np.isfinite(flux)
    if not finite.any():
        raise BadFileError(f"the {what} has no finite flux values (all {n} are NaN)")
    median = float(np.median(flux[finite]))
    if not median > 0:
        raise BadFileError(f"the {what} has a non-positive median flux ({median:g}); cannot normalise")
    order = np.argsort(time, kind="stable")
    return (time[order], (flux / median)[order].astype("<f4"), (flux_err / median)[order].astype("<f4"),
            quality[order])


def store_lightcurve(*, target: Target, lc: LightCurveArrays,
                     candidate: Candidate | None = None) -> tuple[LightCurve, bool]:
    """The LightCurve row for these arrays: the existing one if the content hash is known
    (re-import), else a new row and file. Returns ``(lightcurve, created)``."""
    payload, sha = npz_bytes(lc.time, lc.flux, lc.flux_err, lc.quality)
    existing = LightCurve.objects.filter(target=target, kind=LightCurve.Kind.TIMESERIES, sha256=sha).first()
    if existing is not None:
        return existing, False
    row = LightCurve(
        target=target, candidate=candidate, kind=LightCurve.Kind.TIMESERIES, mission=lc.mission,
        sector=lc.sector, quarter=lc.quarter, cadence_s=lc.cadence_s, flux_column=lc.flux_column,
        time_system=lc.time_system, n_points=int(lc.time.size), source=lc.source,
        original_filename=lc.original_filename[:255], sha256=sha,
    )
    return save_with_data(row, payload=payload, sha=sha), True


def save_with_data(row, *, payload: bytes, sha: str):
    """Write ``payload`` as ``row.data`` (``<sha[:16]>.npz``), validate and save ``row``; the file
    is deleted again if the row is not written. Returns ``row``."""
    row.data.save(f"{sha[:16]}.npz", ContentFile(payload), save=False)
    try:
        row.full_clean(exclude=["data"])
        row.save()
    except Exception:
        row.data.delete(save=False)  # no orphan file when the row is not written
        raise
    return row


def _has_ephemeris(candidate: Candidate) -> bool:
    return bool(candidate.period_days and candidate.epoch is not None and candidate.duration_hours)


def candidate_inputs(candidate: Candidate, siblings=()) -> dict | None:
    """Ephemeris, star and catalog values of a candidate for :func:`compute_products`; None if
    the ephemeris is incomplete. ``siblings``: the other candidates of the same target (any
    iterable of Candidate; the candidate itself and those without an ephemeris are skipped):
    their transits are masked before anything is measured."""
    if not _has_ephemeris(candidate):
        return None
    target = candidate.target
    return {
        "period_days": candidate.period_days, "epoch": candidate.epoch, "epoch_system": candidate.epoch_system,
        "duration_hours": candidate.duration_hours,
        "star": {"teff_k": target.teff_k, "logg_cgs": target.logg_cgs, "radius_rsun": target.radius_rsun,
                 "mass_msun": target.mass_msun, "magnitude": target.magnitude},
        "catalog": {"depth_ppm": candidate.depth_ppm, "snr": candidate.snr},
        "mission": target.mission,
        "siblings": [{"period_days": s.period_days, "epoch": s.epoch, "epoch_system": s.epoch_system,
                      "duration_hours": s.duration_hours}
                     for s in siblings if s.pk != candidate.pk and _has_ephemeris(s)],
    }


def products_for(inputs: dict, time, flux, flux_err, quality, time_system: str) -> Products:
    """:func:`compute_products` with the epochs (the candidate's and its siblings') converted to
    the light curve's time system."""
    siblings = [{"period_days": s["period_days"], "duration_hours": s["duration_hours"],
                 "epoch": epoch_in_system(s["epoch"], s["epoch_system"], time_system)}
                for s in inputs.get("siblings", ())]
    return compute_products(
        time, flux, flux_err, quality, period_days=inputs["period_days"],
        epoch=epoch_in_system(inputs["epoch"], inputs["epoch_system"], time_system),
        duration_hours=inputs["duration_hours"], star=inputs["star"], catalog=inputs["catalog"],
        time_system=time_system, mission=inputs.get("mission"), siblings=siblings)


PRODUCT_FIELDS = ["global_view", "local_view", "features", "failed_flags", "plot_payload", "updated_at"]


def apply_products(candidate: Candidate, products: Products) -> None:
    candidate.global_view = products.global_view
    candidate.local_view = products.local_view
    # pixel metrics come from the target pixel files (importers.tpf) or the catalog, not from
    # the light curve: a light-curve (re)computation keeps them
    kept = {k: v for k, v in (candidate.features or {}).items() if k in PIXEL_METRIC_NAMES}
    features_set(candidate, products.features | kept)
    candidate.plot_payload = products.plot_payload


def target_timeseries(target: Target) -> tuple[np.ndarray, ...] | None:
    """All stored time series of a target, concatenated (time-sorted, repeated cadences once):
    more transits in the fold. Returns (time, flux, flux_err, quality, time_system) or None."""
    return joined_timeseries(LightCurve.objects.filter(target=target, kind=LightCurve.Kind.TIMESERIES).order_by("pk"))


def joined_timeseries(rows) -> tuple[np.ndarray, ...] | None:
    """Stored time series ``rows`` (LightCurve, in pk order) concatenated: those in the first
    row's time system, time-sorted, repeated cadences once. (time, flux, flux_err, quality,
    time_system) or None when there are no rows."""
    rows = list(rows)
    if not rows:
        return None
    system = rows[0].time_system
    parts = [r.load_arrays() for r in rows if r.time_system == system]
    time = np.concatenate([p["time"] for p in parts])
    time, first = np.unique(time, return_index=True)
    pick = lambda key: np.concatenate([p[key] for p in parts])[first]
    return time, pick("flux").astype(float), pick("flux_err").astype(float), pick("quality"), system


def import_arrays(*, lc: LightCurveArrays, report: ImportReport | None = None) -> ImportReport:
    """Store a light curve for its target and (re)compute the products of the target's
    candidates that have an ephemeris, from all the target's stored light curves.

    Atomic: a failure leaves neither the row nor its file behind.
    """
    report = report or ImportReport(kind="lightcurve", source=lc.original_filename or lc.target_catalog_id)
    with transaction.atomic():
        target, created = Target.objects.get_or_create(
            mission=lc.mission, catalog_id=lc.target_catalog_id,
            defaults={k: v for k, v in lc.star.items() if k in STAR_FIELDS and v is not None})
        report.counts["targets_created" if created else "targets_existing"] += 1
        row, lc_created = store_lightcurve(target=target, lc=lc)
        report.counts["lightcurves_created" if lc_created else "lightcurves_existing"] += 1
        candidates = list(Candidate.objects.select_related("target").filter(target=target).order_by("pk"))
        if not candidates:
            report.warnings.append(f"{target}: no candidate on this target yet; products are computed when one is "
                                   "imported and the light curve re-imported")
        series = target_timeseries(target) if candidates else None
        for candidate in candidates:
            inputs = candidate_inputs(candidate, candidates)
            if inputs is None:
                report.warnings.append(f"{candidate}: no complete ephemeris; no views computed")
                continue
            time, flux, flux_err, quality, system = series
            products = products_for(inputs, time, flux, flux_err, quality, system)
            if products.error:
                report.warnings.append(f"{candidate}: {products.error}")
                continue
            apply_products(candidate, products)
            candidate.save(update_fields=PRODUCT_FIELDS)
            report.counts["products_computed"] += 1
    return report.finish()
