"""A candidate's light curve as bounded JSON: raw (binned in time past ``max_points``), folded, views.

Arrays come from the stored ``.npz`` files (``LightCurve.load_arrays``); folding and binning use
``classifier.lightcurves`` so the API shows what the classifier saw. The ETag is computed from
the stored files' hashes and the candidate's ephemeris before any file is read, so a client
polling an unchanged candidate costs one small query.
"""
from __future__ import annotations

import hashlib

import numpy as np
from django.db.models import Q

from classifier import lightcurves as lc
from classifier.jsonutil import json_floats
from classifier.timesystems import epoch_in_system
from vetting.candidates.models import Candidate, LightCurve


def timeseries_for(candidate: Candidate, lightcurve_id: int | None = None) -> list[LightCurve]:
    """The candidate's own time series plus its target's unattached ones (or one chosen id)."""
    qs = LightCurve.objects.filter(kind=LightCurve.Kind.TIMESERIES).filter(
        Q(candidate=candidate) | Q(target_id=candidate.target_id, candidate__isnull=True)
    )
    if lightcurve_id is not None:
        qs = qs.filter(pk=lightcurve_id)
    return list(qs.order_by("sector", "quarter", "id"))


def etag_for(candidate: Candidate, curves: list[LightCurve], params: dict) -> str:
    """Strong validator: stored content hashes + ephemeris + request parameters."""
    parts = [str(candidate.pk), candidate.updated_at.isoformat(), *(c.sha256 for c in curves),
             *(f"{k}={params[k]}" for k in sorted(params))]
    return '"' + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32] + '"'


def _load(curves: list[LightCurve]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    times, fluxes, errs = [], [], []
    has_err = True
    for curve in curves:
        arrays = curve.load_arrays()
        if "time" not in arrays or "flux" not in arrays:
            continue
        times.append(np.asarray(arrays["time"], float))
        fluxes.append(np.asarray(arrays["flux"], float))
        if "flux_err" in arrays:
            errs.append(np.asarray(arrays["flux_err"], float))
        else:
            has_err = False
    if not times:
        return np.empty(0), np.empty(0), None, "BKJD"
    time, flux = np.concatenate(times), np.concatenate(fluxes)
    err = np.concatenate(errs) if has_err and errs else None
    ok = np.isfinite(time) & np.isfinite(flux)
    order = np.argsort(time[ok], kind="stable")
    time, flux = time[ok][order], flux[ok][order]
    err = err[ok][order] if err is not None else None
    return time, flux, err, curves[0].time_system


def bin_in_time(time, flux, flux_err, *, max_points: int):
    """Mean-bin a series into at most ``max_points`` equal time bins (empty bins dropped).

    The binned error is the propagated error of the mean, ``sqrt(sum err^2) / n``.
    """
    lo, hi = float(time[0]), float(time[-1])
    hi = np.nextafter(hi, np.inf)  # bin_curve ignores x == high
    centres, values, counts = lc.bin_curve(time, flux, n_bins=max_points, x_range=(lo, hi), statistic="mean")
    keep = counts > 0
    err = None
    if flux_err is not None:
        width = (hi - lo) / max_points
        idx = np.minimum(((time - lo) / width).astype(np.int64), max_points - 1)
        sq = np.bincount(idx, np.nan_to_num(flux_err) ** 2, minlength=max_points)
        err = np.sqrt(sq[keep]) / counts[keep]
    return centres[keep], values[keep], err


def lightcurve_payload(candidate: Candidate, curves: list[LightCurve], *, max_points: int, bins: int) -> dict:
    """The JSON body of ``GET /api/candidates/{id}/lightcurve/``."""
    time, flux, err, time_system = _load(curves)
    raw = folded = None
    if time.size:
        n_stored = int(time.size)
        full_time, full_flux = time, flux  # folding uses every point, not the time-binned ones
        binned = n_stored > max_points
        if binned:
            time, flux, err = bin_in_time(time, flux, err, max_points=max_points)
        raw = {"time": json_floats(time), "flux": json_floats(flux),
               "flux_err": json_floats(err) if err is not None else None,
               "n_points_stored": n_stored, "n_points": int(time.size), "binned": binned}
        if candidate.period_days and candidate.epoch is not None:
            epoch = epoch_in_system(candidate.epoch, candidate.epoch_system, time_system)
            phase = lc.phase_fold(full_time, period_days=candidate.period_days, epoch=epoch)
            centres, values, counts = lc.bin_curve(phase, full_flux, n_bins=bins, x_range=(-0.5, 0.5))
            folded = {"phase": json_floats(centres), "flux": json_floats(values), "counts": [int(c) for c in counts],
                      "period_days": candidate.period_days, "epoch": epoch}
    global_view, local_view = candidate.view_array("global"), candidate.view_array("local")
    return {
        "candidate": candidate.pk,
        "lightcurves": curves,
        "raw": raw,
        "folded": folded,
        "views": {
            "global_view": json_floats(global_view) if global_view is not None else None,
            "local_view": json_floats(local_view) if local_view is not None else None,
        },
    }
