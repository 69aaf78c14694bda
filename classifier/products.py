"""What a candidate needs from one raw light curve, computed once: metrics, views, plot payload.

The light curve is cleaned and detrended once (:func:`classifier.lightcurves.prepare`, the
expensive step), measured once (:func:`classifier.features.vetting_metrics`) and binned for the
page from the same prepared curve (:func:`classifier.plots.plot_payload`, which takes the
metrics instead of computing them again). The site's importers, ``manage.py
recompute_products`` and ``python -m classifier`` (light curves beside the views) all go
through :func:`measure`, so the metrics agree wherever they are computed. Nothing here imports
Django.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from classifier import lightcurves as lcmod
from classifier.features import StarParams, vetting_metrics
from classifier.periodogram import BLSResult
from classifier.plots import plot_payload


@dataclass(frozen=True)
class LightCurveProducts:
    """Products of one candidate on one light curve.

    Attributes
    ----------
    metrics : dict[str, float]
        :func:`classifier.features.vetting_metrics` (NaN where not computable).
    payload : dict
        :func:`classifier.plots.plot_payload` (JSON-serialisable; holds ``global_view`` (201,)
        and ``local_view`` (61,) as lists, None when the fold has no dip).
    """

    metrics: dict[str, float]
    payload: dict

    @property
    def global_view(self) -> list | None:
        return self.payload.get("global_view")

    @property
    def local_view(self) -> list | None:
        return self.payload.get("local_view")


def star_params(star: Mapping[str, float | None] | StarParams | None) -> StarParams:
    """``StarParams`` from a mapping of its fields (missing or None = unknown)."""
    if isinstance(star, StarParams):
        return star
    return StarParams(**{k: float(v) for k, v in (star or {}).items() if v is not None})


def measure(time, flux, flux_err=None, quality=None, *, period_days: float, epoch: float,
            duration_hours: float, star: Mapping | StarParams | None = None,
            catalog: Mapping[str, float | None] | None = None, mission: str | None = None,
            siblings: Iterable[Mapping[str, float]] = ()) -> tuple[lcmod.LightCurve, dict[str, float]]:
    """Prepare (clean, detrend) a raw light curve and compute its vetting metrics.

    The quality flags are read with the mission's own bitmask
    (:func:`classifier.lightcurves.quality_bitmask`) and the transits of the star's other
    candidates (``siblings``) are masked before anything is measured.

    Parameters
    ----------
    time, flux : array (n,)
        Raw light curve, time in days in the same system as ``epoch``.
    flux_err, quality : array (n,), optional
    period_days, epoch, duration_hours : float
        Candidate ephemeris.
    star : StarParams or mapping of its fields, optional
    catalog : mapping, optional
        Catalog ``depth_ppm`` and ``snr``, passed through into the metrics.
    mission : str, optional
        ``kepler``, ``k2``, ``tess`` or ``simulated`` (Kepler bits); None = Kepler.
    siblings : iterable of mappings, optional
        Ephemerides of the star's other candidates: ``period_days`` [days], ``epoch`` [days, the
        time system of ``time``], ``duration_hours`` [hours].

    Returns
    -------
    (LightCurve, dict)
        The prepared light curve and :func:`classifier.features.vetting_metrics`.

    Raises
    ------
    classifier.lightcurves.LightCurveError
        If the light curve cannot be processed (empty, all NaN, constant, bad ephemeris).
    """
    lc = lcmod.prepare(time, flux, flux_err, quality, period_days=period_days, epoch=epoch,
                       duration_hours=duration_hours, quality_bitmask=lcmod.quality_bitmask(mission),
                       siblings=siblings)
    metrics = vetting_metrics(lc.time, lc.flux, lc.flux_err, period_days=period_days, epoch=epoch,
                              duration_hours=duration_hours, star=star_params(star), catalog=catalog)
    return lc, metrics


def lightcurve_products(time, flux, flux_err=None, quality=None, *, period_days: float, epoch: float,
                        duration_hours: float, star: Mapping | StarParams | None = None,
                        catalog: Mapping[str, float | None] | None = None, time_system: str | None = None,
                        bls: BLSResult | None = None, mission: str | None = None,
                        siblings: Iterable[Mapping[str, float]] = ()) -> LightCurveProducts:
    """Metrics and plot payload of one candidate on one raw light curve (see :func:`measure`).

    ``time_system`` (BKJD, BTJD, BJD) labels the time axis; ``bls`` adds a periodogram;
    ``mission`` picks the quality bitmask and ``siblings`` (the star's other candidates'
    ephemerides, epochs in ``time_system``) are masked, as in :func:`measure`.
    Raises :class:`classifier.lightcurves.LightCurveError` like :func:`measure`.
    """
    lc, metrics = measure(time, flux, flux_err, quality, period_days=period_days, epoch=epoch,
                          duration_hours=duration_hours, star=star, catalog=catalog, mission=mission,
                          siblings=siblings)
    payload = plot_payload(lc, metrics, period_days=period_days, epoch=epoch, duration_hours=duration_hours,
                           time_system=time_system, bls=bls)
    return LightCurveProducts(metrics=metrics, payload=payload)


__all__ = ["LightCurveProducts", "lightcurve_products", "measure", "star_params"]
