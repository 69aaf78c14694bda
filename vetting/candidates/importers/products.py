"""What a candidate page needs, computed ONCE from a light curve (at import, or again by
``manage.py recompute_products``).

Pure functions (no Django, picklable arguments) so the demo loader can run them in worker
processes. From a raw light curve and an ephemeris, :func:`classifier.products.lightcurve_products`
cleans and detrends once, measures once and bins once; stored here as

* the vetting metrics (:func:`classifier.features.vetting_metrics`, units in the keys, with
  the catalog pass-through values ``catalog_depth_ppm``, ``catalog_snr``) -> ``Candidate.features``,
* the Astronet global (201,) and local (61,) views, float32 little-endian bytes,
* the plot payload (:func:`classifier.plots.plot_payload`; arrays only, no metrics).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np

from classifier.jsonutil import json_number


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


def compute_products(time, flux, flux_err, quality, *, period_days: float, epoch: float,
                     duration_hours: float, star: dict | None = None,
                     catalog: dict | None = None, time_system: str | None = None,
                     mission: str | None = None, siblings=()) -> Products:
    """Views, metrics and plot payload of one candidate on one light curve.

    ``time`` in days in ``time_system``, the same system as ``epoch``; ``flux`` normalised (~1);
    arrays (n,). ``star``: ``teff_k``, ``logg_cgs``, ``radius_rsun``, ``mass_msun``,
    ``magnitude`` (any may be missing); ``catalog``: ``depth_ppm``, ``snr``; ``mission`` picks
    the quality bitmask; ``siblings``: the star's other candidates (``period_days``, ``epoch`` in
    ``time_system``, ``duration_hours``), masked before measuring. A light curve that
    cannot be processed gives ``Products(error=...)`` instead of raising, so one bad candidate
    never stops an import.
    """
    from classifier.lightcurves import LightCurveError
    from classifier.products import lightcurve_products

    try:
        products = lightcurve_products(time, flux, flux_err, quality, period_days=period_days, epoch=epoch,
                                       duration_hours=duration_hours, star=star, catalog=catalog,
                                       time_system=time_system, mission=mission, siblings=siblings)
    except LightCurveError as exc:
        return Products(error=str(exc))
    return Products(global_view=view_bytes(products.global_view), local_view=view_bytes(products.local_view),
                    features={k: json_number(v) for k, v in products.metrics.items()},
                    plot_payload=products.payload)


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
