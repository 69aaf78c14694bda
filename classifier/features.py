"""Vetting metrics of a transit candidate, computed from its light curve.

:func:`vetting_metrics` returns a flat ``dict[str, float]`` with stable snake_case keys, units in
the key (:data:`FEATURE_NAMES`, units in :data:`FEATURE_UNITS`). Metrics that cannot be computed
from the data (no out-of-transit points, no even transit, no star parameters, ...) are NaN; weak
data never raises. Invalid ephemerides (period <= 0) raise
:class:`classifier.lightcurves.LightCurveError`. Input is a cleaned, detrended light curve
(flux ~1), e.g. from :func:`classifier.lightcurves.prepare`; non-finite points are ignored.

Adding a metric
---------------
1. Write its function in this module, decorated with ``@metric("name_unit", "unit")``. It takes
   the :class:`~classifier.folded.Fold` (the light curve folded on the ephemeris, with what
   metrics share: baseline, noise, transit masks, box depths, the trapezoid fit) and returns a
   float, NaN when the data cannot tell; its docstring says what it measures. A metric of the
   ephemeris and the star alone says ``needs="star"`` (computed even without a light curve).
2. Test it in ``tests/classifier/test_features.py`` on a small injected signal.

Nothing else: the registry gives :data:`FEATURE_NAMES` and :data:`FEATURE_UNITS`; importers
store it in ``Candidate.features``; ``manage.py recompute_products`` adds it to the candidates
already stored; the design matrix gains the column ``lc_<name>``
(:data:`classifier.dataset.LIGHTCURVE_SCALAR_NAMES`, for the site and for ``python -m
classifier`` given light curves); the candidate page lists it with the unit of its key suffix.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from classifier.folded import Fold, StarParams, expected_duration_hours, finite, trapezoid_model
from classifier.lightcurves import LightCurveError

_NAN = float("nan")
_REARTH_PER_RSUN = 109.1


def _float(x) -> float:
    """A float, NaN for None."""
    return _NAN if x is None else float(x)


# --------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """One registered metric: ``name`` (key, unit suffix), ``unit``, ``func(fold) -> float``,
    ``needs`` ("lightcurve" or "star"), ``empty`` (the value without usable light-curve data)."""

    name: str
    unit: str
    func: Callable[[Fold], float]
    needs: str = "lightcurve"
    empty: float = _NAN

    @property
    def description(self) -> str:
        return " ".join((self.func.__doc__ or "").split())


#: Every metric in registration order (the order of :data:`FEATURE_NAMES`).
METRICS: list[Metric] = []


def metric(name: str, unit: str, *, needs: str = "lightcurve", empty: float = _NAN):
    """Register the decorated ``func(fold) -> float`` as the metric ``name`` (see the module docstring)."""
    if needs not in ("lightcurve", "star"):
        raise ValueError(f"needs must be 'lightcurve' or 'star', not {needs!r}")

    def register(func: Callable[[Fold], float]) -> Callable[[Fold], float]:
        if any(m.name == name for m in METRICS):
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS.append(Metric(name, unit, func, needs, empty))
        return func

    return register


# --------------------------------------------------------------------------------------
# the metrics
# --------------------------------------------------------------------------------------

@metric("depth_ppm", "ppm")
def depth_ppm(fold: Fold) -> float:
    """Depth: out-of-transit median minus the mean of the central half of the transit."""
    return fold.core_box[0] * 1e6


@metric("depth_err_ppm", "ppm")
def depth_err_ppm(fold: Fold) -> float:
    """1-sigma uncertainty of the depth from the out-of-transit scatter."""
    return fold.core_box[1] * 1e6


@metric("snr", "")
def snr(fold: Fold) -> float:
    """Full-duration box depth over its white-noise uncertainty."""
    full_depth, full_err = fold.box(fold.in_full)
    return full_depth / full_err if full_err > 0 else _NAN


@metric("snr_red", "")
def snr_red(fold: Fold) -> float:
    """Full-duration box depth over its white + correlated-noise uncertainty (LEO-Vetter's MES:
    red noise on the transit timescale averages down only with the number of transits)."""
    full_depth, full_err = fold.full_pink_box
    return full_depth / full_err if full_err > 0 else _NAN


@metric("red_noise_ppm", "ppm")
def red_noise_ppm(fold: Fold) -> float:
    """Correlated noise on the transit-duration timescale (Pont et al. 2006), 0 if none shows."""
    return fold.red_noise(fold.dur) * 1e6


@metric("n_points_clipped", "count", empty=0.0)
def n_points_clipped(fold: Fold) -> float:
    """Points within one duration of the transit rejected as outliers before any depth is taken."""
    return float(fold.n_clipped)


@metric("noise_ppm", "ppm")
def noise_ppm(fold: Fold) -> float:
    """Robust (MAD) per-point scatter out of transit."""
    return fold.sigma * 1e6


@metric("n_transits", "count", empty=0.0)
def n_transits(fold: Fold) -> float:
    """Transits with at least one point in transit."""
    return float(np.unique(fold.cycle[fold.in_full]).size)


@metric("n_points_in_transit", "count", empty=0.0)
def n_points_in_transit(fold: Fold) -> float:
    """Points within the full transit duration."""
    return float(fold.in_full.sum())


@metric("odd_depth_ppm", "ppm")
def odd_depth_ppm(fold: Fold) -> float:
    """Depth of the odd-numbered transits (cycle 0 is the epoch's transit, even)."""
    return fold.odd_box[0] * 1e6


@metric("odd_depth_err_ppm", "ppm")
def odd_depth_err_ppm(fold: Fold) -> float:
    """1-sigma error of the odd depth: white noise over the points, red noise over the transits."""
    return fold.odd_box[1] * 1e6


@metric("even_depth_ppm", "ppm")
def even_depth_ppm(fold: Fold) -> float:
    """Depth of the even-numbered transits."""
    return fold.even_box[0] * 1e6


@metric("even_depth_err_ppm", "ppm")
def even_depth_err_ppm(fold: Fold) -> float:
    """1-sigma error of the even depth (as the odd one)."""
    return fold.even_box[1] * 1e6


@metric("odd_even_diff_ppm", "ppm")
def odd_even_diff_ppm(fold: Fold) -> float:
    """Odd minus even depth."""
    return (fold.odd_box[0] - fold.even_box[0]) * 1e6


@metric("odd_even_sigma", "sigma")
def odd_even_sigma(fold: Fold) -> float:
    """|odd - even| depth over their combined uncertainty, correlated noise included (each depth's
    error is sqrt(white^2 / points + red^2 / transits), LEO-Vetter's box odd/even test)."""
    (d_odd, e_odd), (d_even, e_even) = fold.odd_box, fold.even_box
    return abs(d_odd - d_even) / math.hypot(e_odd, e_even)


@metric("secondary_depth_ppm", "ppm")
def secondary_depth_ppm(fold: Fold) -> float:
    """Box depth at phase 0.5 exactly (full duration; a circular orbit's secondary eclipse)."""
    return fold.modshift.half_depth * 1e6


@metric("secondary_sigma", "sigma")
def secondary_sigma(fold: Fold) -> float:
    """Significance of the phase-0.5 depth including correlated noise (white-noise significance
    over ``red_noise_factor``); negative for a brightening."""
    scan = fold.modshift
    return scan.half_sigma / scan.red_factor


@metric("secondary_best_phase", "cycles")
def secondary_best_phase(fold: Fold) -> float:
    """Phase (0..1, transit at 0) of the most significant full-duration dip at least two
    durations from the transit (ModShift-style scan of the whole orbit)."""
    return fold.modshift.sec_phase


@metric("secondary_best_depth_ppm", "ppm")
def secondary_best_depth_ppm(fold: Fold) -> float:
    """Depth of that strongest secondary."""
    return fold.modshift.sec_depth * 1e6


@metric("secondary_best_depth_err_ppm", "ppm")
def secondary_best_depth_err_ppm(fold: Fold) -> float:
    """1-sigma error of that depth, correlated noise included (depth / significance)."""
    scan = fold.modshift
    return scan.sec_depth / (scan.sec_sigma / scan.red_factor) * 1e6 if scan.sec_sigma else _NAN


@metric("secondary_best_sigma", "sigma")
def secondary_best_sigma(fold: Fold) -> float:
    """Significance of the strongest secondary including correlated noise (ModShift's
    sigma_sec / F_red); compare with the look-elsewhere thresholds of :mod:`classifier.flags`."""
    scan = fold.modshift
    return scan.sec_sigma / scan.red_factor


@metric("secondary_tertiary_sigma", "sigma")
def secondary_tertiary_sigma(fold: Fold) -> float:
    """Significance (over F_red) of the strongest dip two durations from both transit and
    secondary: what noise alone makes at this period."""
    scan = fold.modshift
    return scan.ter_sigma / scan.red_factor


@metric("secondary_positive_sigma", "sigma")
def secondary_positive_sigma(fold: Fold) -> float:
    """Significance (over F_red) of the strongest brightening three durations from both."""
    scan = fold.modshift
    return scan.pos_sigma / scan.red_factor


@metric("primary_sigma", "sigma")
def primary_sigma(fold: Fold) -> float:
    """Significance (over F_red) of the transit itself in the same scan."""
    scan = fold.modshift
    return scan.primary_sigma / scan.red_factor


@metric("red_noise_factor", "")
def red_noise_factor(fold: Fold) -> float:
    """ModShift's F_red: scatter of same-width box significances at random phases over the
    white-noise expectation (>= 1; NaN when too few phases are free to estimate it)."""
    return fold.modshift.fred


@metric("secondary_albedo", "")
def secondary_albedo(fold: Fold) -> float:
    """Geometric albedo a planet would need for the strongest secondary:
    depth_sec (a / R_p)^2 with R_p / R_* = sqrt(depth) (Robovetter DR25's planet-occultation
    test, Thompson et al. 2018); NaN without stellar mass and radius."""
    a_r = fold.a_over_rstar
    depth, d_sec = fold.core_box[0], fold.modshift.sec_depth
    if not (finite(a_r) and finite(depth) and depth > 0 and finite(d_sec)):
        return _NAN
    return float(d_sec * a_r**2 / depth)


@metric("trapezoid_depth_ppm", "ppm")
def trapezoid_depth_ppm(fold: Fold) -> float:
    """Depth of the best-fit trapezoid."""
    return fold.trapezoid[0] * 1e6


@metric("trapezoid_duration_hours", "hours")
def trapezoid_duration_hours(fold: Fold) -> float:
    """Total duration of the trapezoid (first to fourth contact)."""
    return fold.trapezoid[1] * 24.0


@metric("trapezoid_ingress_hours", "hours")
def trapezoid_ingress_hours(fold: Fold) -> float:
    """Ingress duration of the trapezoid."""
    return fold.trapezoid[2] * 24.0


@metric("shape_flat_fraction", "")
def shape_flat_fraction(fold: Fold) -> float:
    """Flat-bottom duration / total duration of the trapezoid (0 = V, 1 = box; U ~0.7+)."""
    return fold.trapezoid[3]


@metric("impact_plus_radius_ratio", "")
def impact_plus_radius_ratio(fold: Fold) -> float:
    """b + R_p/R_*, the Robovetter's V-shape metric (Thompson et al. 2018, ApJS 235, 38: the DR25
    ``shape_metric``, impact parameter plus radius ratio of the Data Validation fit), from a
    quadratic limb-darkened transit integrated over the exposure, fitted to the folded transit
    (:func:`classifier.transitfit.fit_transit`); NaN when it cannot be fitted."""
    from classifier.transitfit import fit_transit

    fit = fit_transit(fold.x, fold.f, baseline=fold.baseline, sigma=fold.sigma, period_days=fold.period_days,
                      duration_days=fold.dur, cadence_days=fold.cadence_days, teff_k=fold.star.teff_k)
    return float(fit.impact + fit.ror)


@metric("a_over_rstar", "", needs="star")
def a_over_rstar(fold: Fold) -> float:
    """Semi-major axis in stellar radii from the period and the star's mass and radius."""
    return fold.a_over_rstar


@metric("expected_duration_hours", "hours", needs="star")
def expected_duration(fold: Fold) -> float:
    """Central-transit duration of a small planet for the star's density (circular orbit)."""
    return fold.expected_duration_hours


@metric("duration_ratio", "", needs="star")
def duration_ratio(fold: Fold) -> float:
    """Catalog duration / expected duration."""
    return float(fold.duration_hours / fold.expected_duration_hours)


@metric("stellar_density_solar", "solar", needs="star")
def stellar_density_solar(fold: Fold) -> float:
    """Mean stellar density from mass and radius (one of them from logg when missing)."""
    mass, radius = fold.mass_and_radius
    return float(mass / radius**3) if finite(mass) and finite(radius) and radius > 0 else _NAN


@metric("radius_ratio", "")
def radius_ratio(fold: Fold) -> float:
    """sqrt(depth): planet-to-star radius ratio."""
    depth = fold.core_box[0]
    return math.sqrt(depth) if finite(depth) and depth > 0 else _NAN


@metric("planet_radius_rearth", "R_earth")
def planet_radius_rearth(fold: Fold) -> float:
    """radius_ratio x stellar radius."""
    depth, radius = fold.core_box[0], fold.mass_and_radius[1]
    if finite(depth) and depth > 0 and finite(radius):
        return math.sqrt(depth) * radius * _REARTH_PER_RSUN
    return _NAN


# pass-through catalog values and star parameters (so a row of features is self-contained)

@metric("period_days", "days", needs="star")
def period_days(fold: Fold) -> float:
    """Catalog period."""
    return float(fold.period_days)


@metric("duration_hours", "hours", needs="star")
def duration_hours(fold: Fold) -> float:
    """Catalog duration."""
    return float(fold.duration_hours)


@metric("catalog_depth_ppm", "ppm", needs="star")
def catalog_depth_ppm(fold: Fold) -> float:
    """Catalog depth (``catalog["depth_ppm"]``)."""
    return _float(fold.catalog.get("depth_ppm"))


@metric("catalog_snr", "", needs="star")
def catalog_snr(fold: Fold) -> float:
    """Catalog signal-to-noise ratio (``catalog["snr"]``)."""
    return _float(fold.catalog.get("snr"))


def _star_parameter(name: str, description: str) -> Callable[[Fold], float]:
    def value(fold: Fold) -> float:
        return _float(getattr(fold.star, name))

    value.__name__, value.__doc__ = name, description
    return value


for _name, _unit, _description in (
    ("teff_k", "K", "Stellar effective temperature."),
    ("logg_cgs", "log10(cm/s^2)", "Stellar surface gravity."),
    ("radius_rsun", "R_sun", "Stellar radius as given (not filled from logg)."),
    ("mass_msun", "M_sun", "Stellar mass as given (not filled from logg)."),
    ("magnitude", "mag", "Kepler or TESS magnitude."),
):
    metric(_name, _unit, needs="star")(_star_parameter(_name, _description))


#: Keys of :func:`vetting_metrics`, in order.
FEATURE_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
#: Unit of each metric ("" = dimensionless).
FEATURE_UNITS: dict[str, str] = {m.name: m.unit for m in METRICS}
#: Metrics that only pass a catalog value or a star parameter through (the design matrix has
#: them as columns of their own, so it leaves them out of its ``lc_`` block).
PASS_THROUGH_NAMES: frozenset[str] = frozenset({
    "period_days", "duration_hours", "catalog_depth_ppm", "catalog_snr",
    "teff_k", "logg_cgs", "radius_rsun", "mass_msun", "magnitude",
})


def vetting_metrics(time, flux, flux_err=None, *, period_days: float, epoch: float,
                    duration_hours: float, star: StarParams | None = None,
                    catalog: Mapping[str, float | None] | None = None) -> dict[str, float]:
    """Compute every registered vetting metric of one candidate.

    Parameters
    ----------
    time : array (n,)
        Times in days, same system as ``epoch`` (BKJD, BTJD, ...).
    flux : array (n,)
        Detrended relative flux (~1).
    flux_err : array (n,), optional
        Unused for the depths (the out-of-transit scatter is more honest with red
        noise); accepted so callers can pass a light curve through unchanged.
    period_days, epoch, duration_hours : float
        Candidate ephemeris (period in days, mid-transit time, total duration in hours).
    star : StarParams, optional
        Host-star parameters for the expected duration and planet radius.
    catalog : mapping, optional
        Catalog values passed through: ``depth_ppm`` and ``snr`` (None = unknown).

    Returns
    -------
    dict[str, float]
        Keys :data:`FEATURE_NAMES`, values float (NaN where not computable).
    """
    if not (finite(period_days) and period_days > 0):
        raise LightCurveError(f"period must be a positive number of days (got {period_days})")
    if not (finite(duration_hours) and duration_hours > 0):
        raise LightCurveError(f"duration must be a positive number of hours (got {duration_hours})")
    if not finite(epoch):
        raise LightCurveError(f"epoch must be a finite time (got {epoch})")
    fold = Fold(time, flux, period_days=period_days, epoch=epoch, duration_hours=duration_hours,
                star=star, catalog=catalog)
    usable = fold.usable
    return {m.name: float(m.func(fold)) if usable or m.needs == "star" else float(m.empty)
            for m in METRICS}


__all__ = ["FEATURE_NAMES", "FEATURE_UNITS", "METRICS", "PASS_THROUGH_NAMES", "Fold", "Metric", "StarParams",
           "expected_duration_hours", "metric", "trapezoid_model", "vetting_metrics"]
