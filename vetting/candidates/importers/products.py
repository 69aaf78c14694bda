"""What a candidate page needs, computed ONCE from a light curve at import time.

Pure functions (no Django, picklable arguments) so the demo loader can run them in worker
processes. From a raw light curve and an ephemeris:

* the plot payload (:func:`classifier.plots.plot_payload`: clean, detrend, fold, bin),
* the Astronet global (201,) and local (61,) views, float32 little-endian bytes,
* the vetting metrics (:func:`classifier.features.vetting_metrics`, units in the keys).

``plot_payload`` already computes the metrics and views on the cleaned, detrended curve, so
they are taken from it instead of detrending a second time (detrending dominates the cost);
the catalog pass-through values (``catalog_depth_ppm``, ``catalog_snr``) are added here.
"""
from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field

import numpy as np

#: Offsets to BJD of the time systems in ``vetting.candidates.models.TimeSystem`` (days).
BJD_OFFSETS = {"BKJD": 2454833.0, "BTJD": 2457000.0, "BJD": 0.0}


def epoch_in_system(epoch: float, epoch_system: str, time_system: str) -> float:
    """Convert a mid-transit time from ``epoch_system`` to ``time_system`` (days)."""
    return float(epoch) + BJD_OFFSETS[epoch_system] - BJD_OFFSETS[time_system]


@dataclass
class Products:
    """Views as float32 bytes (or None when the fold has no dip), metrics and plot payload."""

    global_view: bytes | None = None
    local_view: bytes | None = None
    features: dict = field(default_factory=dict)
    plot_payload: dict | None = None
    error: str = ""


def view_bytes(values) -> bytes | None:
    """A view as float32 little-endian bytes; None if absent or not finite."""
    if values is None:
        return None
    arr = np.asarray([np.nan if v is None else v for v in values], dtype="<f4")
    return arr.tobytes() if arr.size and np.isfinite(arr).all() else None


def _json_number(value) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def compute_products(time, flux, flux_err, quality, *, period_days: float, epoch: float,
                     duration_hours: float, star: dict | None = None,
                     catalog: dict | None = None) -> Products:
    """Views, metrics and plot payload of one candidate on one light curve.

    ``time`` in days in the same system as ``epoch``; ``flux`` normalised (~1); arrays (n,).
    ``star``: ``teff_k``, ``logg_cgs``, ``radius_rsun``, ``mass_msun``, ``magnitude`` (any may be
    missing); ``catalog``: ``depth_ppm``, ``snr``. A light curve that cannot be processed
    gives ``Products(error=...)`` instead of raising, so one bad candidate never stops an import.
    """
    from classifier import plots
    from classifier.features import StarParams
    from classifier.lightcurves import LightCurveError

    star_params = StarParams(**{k: float(v) for k, v in (star or {}).items() if v is not None})
    try:
        payload = plots.plot_payload(time, flux, flux_err, quality, period_days=period_days, epoch=epoch,
                                     duration_hours=duration_hours, star=star_params)
    except LightCurveError as exc:
        return Products(error=str(exc))
    catalog = catalog or {}
    features = {k: _json_number(v) for k, v in payload["metrics"].items()}
    features["catalog_depth_ppm"] = _json_number(catalog.get("depth_ppm"))
    features["catalog_snr"] = _json_number(catalog.get("snr"))
    return Products(global_view=view_bytes(payload.get("global_view")), local_view=view_bytes(payload.get("local_view")),
                    features=features, plot_payload=payload)


def npz_bytes(time, flux, flux_err, quality) -> tuple[bytes, str]:
    """Compressed ``.npz`` of the arrays and the sha256 of their contents (dtype, shape, bytes),
    so the same data always hashes the same whatever zip timestamps say."""
    arrays = _stored_arrays(time, flux, flux_err, quality)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), arrays_sha256(time, flux, flux_err, quality)


def _stored_arrays(time, flux, flux_err, quality) -> dict[str, np.ndarray]:
    return {"time": np.asarray(time, "<f8"), "flux": np.asarray(flux, "<f4"),
            "flux_err": np.asarray(flux_err, "<f4"), "quality": np.asarray(quality, "<i4")}


def arrays_sha256(time, flux, flux_err, quality) -> str:
    """sha256 of the arrays as stored (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, arr in _stored_arrays(time, flux, flux_err, quality).items():
        digest.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def simulated_products(job: dict) -> tuple[bytes, str, Products]:
    """Worker-process entry point of the demo loader: the stored arrays (npz bytes, sha256)
    and the products of one simulated candidate. ``job`` holds ``time``, ``flux``,
    ``flux_err``, ``quality`` (normalised as stored) and the :func:`compute_products` keywords."""
    arrays = [job.pop(k) for k in ("time", "flux", "flux_err", "quality")]
    payload, sha = npz_bytes(*arrays)
    return payload, sha, compute_products(*arrays, **job)
