"""Inject a simulated planet transit or eclipsing binary into a real light curve.

Known-answer checks for the vetting team (and recovery tests, as Kepler's pipeline injection
tests did: Christiansen et al. 2013, ApJS 207, 35; 2016, ApJ 828, 99): a signal whose class and
strength are known is multiplied into a light curve that already carries a real star's noise,
gaps and systematics, and the result is vetted like any other candidate.

* :func:`inject_signal` multiplies a model into ``flux`` for a given ephemeris: a box (exact
  depth) or the project's physical eclipse model (:func:`classifier.simphysics.eclipse_flux`,
  Mandel & Agol 2002 via ``batman``), with an optional secondary eclipse for binaries.
* :func:`draw_injection` chooses the parameters of a planet or an EB for a target signal-to-noise
  ratio on this light curve (the depth follows from the light curve's own scatter and the number
  of in-transit cadences), and injects it.
* :func:`expected_snr` and :func:`measure_box` give the injected (expected) SNR and what a box
  search measures at the ephemeris (the catalog values a pipeline would report).

Plain numpy (``batman`` for the physical model, imported lazily), no Django. Times in days,
durations in hours, depths relative (0.001 = 1000 ppm), SNR dimensionless.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from classifier.simphysics import a_over_r, eclipse_flux, limb_darkening, near, t14_days

#: Classes that can be injected: a planet candidate and an eclipsing binary.
INJECTABLE = ("PC", "EB")
#: Fewest transits an injected signal must show in the light curve (a pipeline wants 2-3).
MIN_TRANSITS = 3


class InjectionError(ValueError):
    """The light curve cannot carry the requested signal (too short, no finite flux, ...)."""


@dataclass(frozen=True)
class InjectionTruth:
    """What was injected.

    ``depth``/``secondary_depth`` are the model's mean relative flux deficit inside the primary
    (secondary) eclipse window; ``expected_snr`` = depth / noise * sqrt(n_in_transit) with the
    light curve's per-cadence ``noise`` (relative); ``parameters`` holds the model's own values
    (radius ratio, impact, a/R*, limb darkening, secondary fraction) as plain floats.
    """

    true_class: str
    period_days: float
    epoch: float
    duration_hours: float
    depth: float
    secondary_depth: float
    expected_snr: float
    noise: float
    n_transits: int
    n_in_transit: int
    model: str
    parameters: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready (floats, ints, strings only)."""
        out = {k: getattr(self, k) for k in ("true_class", "period_days", "epoch", "duration_hours", "depth",
                                             "secondary_depth", "expected_snr", "noise", "n_transits",
                                             "n_in_transit", "model")}
        out["parameters"] = dict(self.parameters)
        return out


@dataclass(frozen=True)
class Injected:
    """The light curve with the signal: ``time``, ``flux``, ``flux_err`` (n,) and the truth."""

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    truth: InjectionTruth


def point_noise(flux) -> float:
    """Robust per-cadence scatter of ``flux`` (n,): 1.4826 MAD of successive differences / sqrt 2.

    Differences remove slow trends (rotation, drifts), so the figure is the white noise a
    transit has to beat. NaNs are ignored. Raises InjectionError with fewer than 3 finite values.
    """
    f = np.asarray(flux, float)
    f = f[np.isfinite(f)]
    if f.size < 3:
        raise InjectionError("the light curve has fewer than 3 finite flux values")
    d = np.diff(f)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def in_transit(time, *, period_days: float, epoch: float, duration_hours: float) -> np.ndarray:
    """Mask (n,) of cadences within half a duration of a transit of the ephemeris."""
    return near(np.asarray(time, float), epoch, period_days, 0.5 * duration_hours / 24.0)


def expected_snr(depth: float, *, noise: float, n_in_transit: int) -> float:
    """SNR of a box of ``depth`` over ``n_in_transit`` cadences of white ``noise``."""
    if noise <= 0 or n_in_transit <= 0:
        return 0.0
    return float(depth / noise * np.sqrt(n_in_transit))


def measure_box(time, flux, *, period_days: float, epoch: float, duration_hours: float) -> tuple[float, float]:
    """(depth, SNR) a box measures at the ephemeris: median out of transit minus mean in transit
    (relative), and depth / :func:`point_noise` * sqrt(in-transit cadences). (0, 0) without any
    finite in-transit cadence."""
    t, f = np.asarray(time, float), np.asarray(flux, float)
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    inside = in_transit(t, period_days=period_days, epoch=epoch, duration_hours=duration_hours)
    if not inside.any() or inside.all():
        return 0.0, 0.0
    depth = float(np.median(f[~inside]) - np.mean(f[inside]))
    return depth, expected_snr(depth, noise=point_noise(f), n_in_transit=int(inside.sum()))


def _cadence_days(time: np.ndarray) -> float:
    steps = np.diff(time[np.isfinite(time)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 0.02


def inject_signal(time, flux, flux_err, *, true_class: str, period_days: float, epoch: float,
                  duration_hours: float | None = None, depth: float | None = None, secondary_depth: float = 0.0,
                  physical: dict | None = None) -> Injected:
    """Multiply a transit (``true_class`` "PC") or eclipsing-binary (``"EB"``) model into ``flux``.

    Parameters
    ----------
    time, flux, flux_err : array_like (n,)
        Days; relative flux (median ~1; NaNs stay NaN); its uncertainty (unchanged: the star's
        noise is already in ``flux``).
    period_days, epoch : float
        Ephemeris of the injected signal (days; ``epoch`` in the time system of ``time``).
    duration_hours, depth, secondary_depth : float
        A box model: total duration, relative depth of the primary and of a secondary eclipse
        at phase 0.5. Ignored when ``physical`` is given.
    physical : dict, optional
        ``{"k", "a_r", "b", "u": (u1, u2), "secondary_fraction", "scale"}``: the limb-darkened
        eclipse model of :func:`classifier.simphysics.eclipse_flux`, exposure-integrated over the
        light curve's cadence; ``scale`` (default 1) multiplies the flux deficit (a shape kept,
        a depth set).

    Returns
    -------
    Injected
        New arrays (inputs untouched) and the :class:`InjectionTruth`.
    """
    if true_class not in INJECTABLE:
        raise InjectionError(f"can inject {', '.join(INJECTABLE)}, not {true_class!r}")
    t = np.asarray(time, float)
    f = np.asarray(flux, float)
    e = np.asarray(flux_err, float)
    if not (t.shape == f.shape == e.shape) or t.ndim != 1:
        raise InjectionError("time, flux and flux_err must be 1-d arrays of one length")
    if not period_days > 0:
        raise InjectionError("the period must be positive")
    if physical is not None:
        p = physical
        cadence = _cadence_days(t)
        model, _ = eclipse_flux(t, cadence, t0=epoch, period=period_days, k=p["k"], a_r=p["a_r"], b=p["b"],
                                u=tuple(p["u"]), secondary_fraction=p.get("secondary_fraction", 0.0))
        model = 1.0 + float(p.get("scale", 1.0)) * (model - 1.0)
        duration_hours = t14_days(period_days, p["a_r"], p["k"], p["b"]) * 24.0
        kind, params = "physical", {k: (list(map(float, v)) if k == "u" else float(v)) for k, v in p.items()}
    else:
        if not (duration_hours and duration_hours > 0 and depth is not None and 0 < depth < 1):
            raise InjectionError("a box needs a positive duration and a depth between 0 and 1")
        model = np.ones_like(t)
        model[in_transit(t, period_days=period_days, epoch=epoch, duration_hours=duration_hours)] *= 1.0 - depth
        if secondary_depth:
            model[in_transit(t, period_days=period_days, epoch=epoch + 0.5 * period_days,
                             duration_hours=duration_hours)] *= 1.0 - secondary_depth
        kind, params = "box", {}
    inside = in_transit(t, period_days=period_days, epoch=epoch, duration_hours=duration_hours)
    finite = inside & np.isfinite(f)
    second = in_transit(t, period_days=period_days, epoch=epoch + 0.5 * period_days, duration_hours=duration_hours)
    mean_depth = float(np.mean(1.0 - model[inside])) if inside.any() else 0.0
    sec_depth = float(np.mean(1.0 - model[second])) if second.any() else 0.0
    noise = point_noise(f)
    cycles = np.unique(np.floor((t[finite] - epoch) / period_days + 0.5))
    truth = InjectionTruth(
        true_class=true_class, period_days=float(period_days), epoch=float(epoch),
        duration_hours=float(duration_hours), depth=mean_depth, secondary_depth=max(sec_depth, 0.0),
        expected_snr=expected_snr(mean_depth, noise=noise, n_in_transit=int(finite.sum())), noise=noise,
        n_transits=int(cycles.size), n_in_transit=int(finite.sum()), model=kind, parameters=params)
    return Injected(t.copy(), f * model, e.copy(), truth)


def draw_injection(rng: np.random.Generator, time, flux, flux_err, *, true_class: str, snr: float,
                   star: dict | None = None) -> Injected:
    """Draw a planet (``"PC"``) or an eclipsing binary (``"EB"``) with an expected SNR of about
    ``snr`` on this light curve, and inject it (physical model).

    The period is log-uniform between 0.7 d and a third of the baseline (at least
    ``MIN_TRANSITS`` transits); the orbit follows from the star (``star``: ``mass_msun``,
    ``radius_rsun``, ``teff_k``; Sun-like where missing). A planet is a small, non-grazing body
    whose radius ratio gives the depth the SNR asks for; a binary is a grazing (V-shaped) stellar
    companion with a secondary eclipse, its eclipses scaled to the SNR (the shape of an EB, the
    strength of the target). Raises InjectionError when the light curve is too short.
    """
    t = np.asarray(time, float)
    finite_t = t[np.isfinite(t)]
    if finite_t.size < 10:
        raise InjectionError("the light curve is too short to carry an injected signal")
    baseline = float(finite_t.max() - finite_t.min())
    if baseline / MIN_TRANSITS < 0.7:
        raise InjectionError(f"a {baseline:.1f}-day light curve cannot show {MIN_TRANSITS} transits")
    star = star or {}
    mass = float(star.get("mass_msun") or 1.0)
    radius = float(star.get("radius_rsun") or 1.0)
    u = limb_darkening(float(star.get("teff_k") or 5772.0))
    period = float(np.exp(rng.uniform(np.log(0.7), np.log(baseline / MIN_TRANSITS))))
    epoch = float(finite_t.min() + rng.uniform(0.1, 0.9) * period)
    noise = point_noise(flux)
    if true_class == "PC":
        a_r = a_over_r(period, mass, radius)
        b = float(rng.uniform(0.0, 0.7))
        duration_h = t14_days(period, a_r, 0.05, b) * 24
        n_in = int(in_transit(finite_t, period_days=period, epoch=epoch, duration_hours=duration_h).sum())
        depth = snr * noise / np.sqrt(max(n_in, 1))
        # depth ~ k^2 I(mu)/<I> at mu = sqrt(1 - b^2) (small planet)
        mu = np.sqrt(1.0 - b**2)
        ratio = (1.0 - u[0] / 3.0 - u[1] / 6.0) / (1.0 - u[0] * (1 - mu) - u[1] * (1 - mu) ** 2)
        k = float(np.clip(np.sqrt(depth * ratio), 0.005, 0.2))
        physical = {"k": k, "a_r": a_r, "b": b, "u": u, "secondary_fraction": 0.0, "scale": 1.0}
    elif true_class == "EB":
        q = float(rng.uniform(0.4, 1.0))
        k = float(min((q * mass) ** 0.8 / radius, 0.95))
        a_r = a_over_r(period, mass * (1 + q), radius)
        b = float(min(rng.uniform(1.0 - 0.2 * k, 1.0 + 0.5 * k), 0.9 * a_r))
        light = float(k**2 * ((q * mass) ** 0.55) ** 5)  # Kepler-band surface brightness ratio
        physical = {"k": k, "a_r": a_r, "b": b, "u": u, "secondary_fraction": light, "scale": 1.0}
        # the eclipse shape on a noiseless copy, then scaled so its depth gives the SNR asked for
        raw = inject_signal(t, np.ones_like(t), np.ones_like(t), true_class="EB", period_days=period,
                            epoch=epoch, physical=physical).truth
        if raw.depth > 0:
            physical["scale"] = float(min(snr * noise / np.sqrt(max(raw.n_in_transit, 1)) / raw.depth, 1.0))
    else:
        raise InjectionError(f"can inject {', '.join(INJECTABLE)}, not {true_class!r}")
    return inject_signal(t, flux, flux_err, true_class=true_class, period_days=period, epoch=epoch,
                         physical=physical)
