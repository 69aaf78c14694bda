"""Physics-based simulator of Kepler-like transit candidates for demo and test data.

Each simulated candidate is one star observed for about one Kepler quarter at long
cadence (29.4 min), with the star's noise (white photon noise that grows with magnitude,
plus red noise), data gaps, quality flags, NaNs and outliers, and one astrophysical or
instrumental signal chosen by its truth class:

========  =================================================================================
``PC``    planet: quadratic limb-darkened transit (Mandel & Agol 2002 via ``batman``)
``EB``    eclipsing binary: primary and secondary eclipses, often grazing (V-shaped); some
          eccentric (secondary away from phase 0.5); some with near-equal eclipses reported
          at half the true period (odd/even depth difference, no secondary at phase 0.5)
``BEB``   background/blended EB: an EB light curve diluted by a brighter target star
``V``     stellar variability: rotational spot modulation or multi-mode pulsations
``IS``    instrumental systematics: momentum-dump dips, thermal ramps, sensitivity jumps
``J``     noise-only false alarm: the deepest box of random trial periods in red + white noise
========  =================================================================================

The catalog ephemeris (``period_days``, ``epoch_bkjd``, ``duration_hours``, ``depth_ppm``,
``snr``) is what a detection pipeline would report: the period may be half the true one,
and depth and SNR are measured with a box at that ephemeris on the noisy light curve after
:func:`classifier.lightcurves.prepare` (flags and outliers dropped, detrended with the
transits masked), as a pipeline measures them. The true parameters are in
:attr:`SimulatedCandidate.truth`.

Everything is drawn from the ``numpy.random.Generator`` passed in, so the same seed gives
identical arrays. Generation takes a few milliseconds per candidate. Stars, cadence, noise and
the eclipse model are in :mod:`classifier.simphysics`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from classifier.lightcurves import LightCurveError, prepare
from classifier.simphysics import (
    Star,
    a_over_r,
    draw_star,
    eclipse_flux,
    limb_darkening,
    red_noise,
    t14_days,
    time_axis,
)
from classifier.vocabulary import CLASS_CODES, validate_class

#: Kepler long cadence in minutes.
LONG_CADENCE_MINUTES = 29.4
#: Default class mix of a simulated population (roughly a TCE list: many false positives).
DEFAULT_CLASS_FRACTIONS: dict[str, float] = {
    "PC": 0.25, "EB": 0.20, "BEB": 0.10, "V": 0.15, "IS": 0.15, "J": 0.15,
}

# Kepler quality bits (same meaning as in the mission's FITS files and lightkurve).
Q_SAFE_MODE = 2
Q_DESAT = 32  # reaction wheel desaturation (momentum dump)
Q_COSMIC_RAY = 128
Q_MANUAL_EXCLUDE = 256
Q_SPSD = 1024  # sudden sensitivity dropout



@dataclass(frozen=True)
class SimulatedCandidate:
    """One simulated candidate: light curve, star, catalog ephemeris and true class.

    Arrays have shape ``(n,)`` and share one time axis (days, BKJD). ``flux`` is
    normalised to ~1 (with NaNs where cadences were lost), ``flux_err`` in the same
    units, ``quality`` holds Kepler quality bits (int32).
    """

    candidate_id: str
    star_id: str
    truth_class: str
    time_bkjd: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    teff_k: float
    logg_cgs: float
    radius_rsun: float
    mass_msun: float
    magnitude: float
    ra_deg: float
    dec_deg: float
    period_days: float
    epoch_bkjd: float
    duration_hours: float
    depth_ppm: float
    snr: float
    #: Parameters of the injected signal (true period, radius ratio, ...), for tests.
    truth: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# signals per class; each returns (signal, truth dict, catalog period, epoch, duration_h)
# --------------------------------------------------------------------------------------

def _first_epoch(t_start: float, period: float, rng: np.random.Generator) -> float:
    return t_start + rng.uniform(0.1, 0.9) * period


def _box_noise_ppm(star: Star, duration_days: float, cadence_days: float, n_transits: float):
    n_in = max(duration_days / cadence_days, 1.0) * max(n_transits, 1.0)
    return star.white_ppm * 1.3 / np.sqrt(n_in)  # 1.3: red-noise inflation


def _signal_planet(rng, star, time, cadence_days, n_days):
    period = float(np.exp(rng.uniform(np.log(0.7), np.log(n_days / 2.5))))
    a_r = a_over_r(period, star.mass_msun, star.radius_rsun)
    b = rng.uniform(0.0, 0.85)
    u = limb_darkening(star.teff_k)
    duration = t14_days(period, a_r, 0.05, b)
    # choose the size from a realistic detection SNR (pipelines report SNR > 7.1)
    target_snr = float(np.exp(rng.uniform(np.log(9.0), np.log(300.0))))
    depth = target_snr * _box_noise_ppm(star, duration, cadence_days, n_days / period) * 1e-6
    # depth ~ k^2 I(mu)/<I> for a small planet crossing at mu = sqrt(1 - b^2)
    mean_intensity = 1.0 - u[0] / 3.0 - u[1] / 6.0
    one_minus_mu = 1.0 - np.sqrt(1.0 - b**2)
    local_intensity = 1.0 - u[0] * one_minus_mu - u[1] * one_minus_mu**2
    k = float(np.clip(np.sqrt(depth * mean_intensity / local_intensity), 0.008, 0.25))
    t0 = _first_epoch(time[0], period, rng)
    signal, _ = eclipse_flux(time, cadence_days, t0=t0, period=period, k=k, a_r=a_r, b=b, u=u)
    duration = t14_days(period, a_r, k, b)
    truth = {"period_days": period, "epoch_bkjd": t0, "radius_ratio": k, "impact": b,
             "a_over_r": a_r, "limb_darkening": u,
             "planet_radius_rearth": k * star.radius_rsun * 109.1}
    return signal, truth, period, t0, duration * 24


def _eb_signal(rng, star, time, cadence_days, *, twice_period: bool, eccentricity: float | None = None):
    """Primary + secondary eclipses of a binary; returns the undiluted EB light curve.
    ``eccentricity`` forces an eccentric, non-grazing orbit (random argument of periastron)."""
    ecc, w = 0.0, 90.0
    if eccentricity is not None:
        q = rng.uniform(0.5, 1.0)
        grazing = False
        ecc, w = float(eccentricity), rng.uniform(0, 360)
    elif twice_period:
        q = rng.uniform(0.85, 1.0)  # near twins: eclipses of similar (not equal) depth
        b = rng.uniform(0.0, 0.5)
    else:
        q = rng.uniform(0.3, 1.0)
        grazing = rng.random() < 0.5
        if rng.random() < 0.25:
            ecc, w = rng.uniform(0.05, 0.25), rng.uniform(0, 360)
    m2 = q * star.mass_msun
    k = float(min(m2**0.8 / star.radius_rsun, 0.95))
    if not twice_period:
        b = rng.uniform(1.0 - 0.3 * k, 1.0 + 0.7 * k) if grazing else rng.uniform(0.0, 0.8)
    period = float(np.exp(rng.uniform(np.log(0.6), np.log(20.0))))
    a_r = a_over_r(period, star.mass_msun + m2, star.radius_rsun)
    b = min(b, a_r * 0.9)
    t2 = 5772.0 * m2**0.55
    # Kepler band: surface brightness ratio steeper than the bolometric (T2/T1)^4
    light_ratio = float(k**2 * (t2 / star.teff_k) ** 5)
    u = limb_darkening(star.teff_k)
    t0 = _first_epoch(time[0], period, rng)
    flux, t_sec = eclipse_flux(time, cadence_days, t0=t0, period=period, k=k, a_r=a_r, b=b,
                                u=u, ecc=ecc, w=w, secondary_fraction=light_ratio)
    duration = t14_days(period, a_r, k, b)
    truth = {"period_days": period, "epoch_bkjd": t0, "radius_ratio": k, "impact": b,
             "a_over_r": a_r, "mass_ratio": q, "light_ratio": light_ratio, "ecc": ecc,
             "omega_deg": w, "secondary_phase": float(((t_sec - t0) / period) % 1.0),
             "limb_darkening": u, "twice_period": twice_period}
    return flux, truth, period, t0, duration * 24


def _signal_eb(rng, star, time, cadence_days, n_days, eccentricity=None):
    twice = rng.random() < 0.25 if eccentricity is None else False
    flux, truth, period, t0, dur_h = _eb_signal(rng, star, time, cadence_days, twice_period=twice,
                                                eccentricity=eccentricity)
    if twice:  # the pipeline folds both eclipses together at half the true period
        period = period / 2
    return flux, truth, period, t0, dur_h


def _signal_beb(rng, star, time, cadence_days, n_days):
    flux, truth, period, t0, dur_h = _eb_signal(rng, star, time, cadence_days,
                                                twice_period=rng.random() < 0.2)
    if truth["twice_period"]:
        period = period / 2
    # dilute so the blended depth looks planetary but stays detectable
    raw_depth = 1.0 - float(np.min(flux))
    noise = _box_noise_ppm(star, dur_h / 24, cadence_days, n_days / period) * 1e-6
    target = max(float(np.exp(rng.uniform(np.log(300e-6), np.log(3e-2)))), 10 * noise)
    dilution = float(min(target / max(raw_depth, 1e-9), 1.0))
    truth["dilution"] = dilution
    return 1.0 + dilution * (flux - 1.0), truth, period, t0, dur_h


def _signal_variability(rng, star, time, cadence_days, n_days):
    t = time - time[0]
    if rng.random() < 0.6:  # rotation: spot modulation with evolving amplitude
        prot = float(np.exp(rng.uniform(np.log(0.8), np.log(25.0))))
        amp = float(np.exp(rng.uniform(np.log(3e-4), np.log(1.5e-2))))
        env = 1.0 + 0.3 * np.sin(2 * np.pi * t / rng.uniform(20, 60) + rng.uniform(0, 6.3))
        ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
        signal = 1.0 + amp * env * (np.sin(2 * np.pi * t / prot + ph1)
                                    + rng.uniform(0.2, 0.6) * np.sin(4 * np.pi * t / prot + ph2))
        period = prot / 2 if rng.random() < 0.3 else prot  # double-dip spots fool pipelines
        truth = {"kind": "rotation", "period_days": prot, "amplitude": amp}
    else:  # pulsations: a few coherent modes (delta Scuti / gamma Dor-like)
        n_modes = int(rng.integers(1, 5))
        periods = np.exp(rng.uniform(np.log(0.05), np.log(2.0), n_modes))
        amps = np.exp(rng.uniform(np.log(1e-4), np.log(3e-3), n_modes))
        phases = rng.uniform(0, 2 * np.pi, n_modes)
        signal = 1.0 + (amps[:, None] * np.sin(2 * np.pi * t[None, :] / periods[:, None]
                                               + phases[:, None])).sum(0)
        main_period = float(periods[np.argmax(amps)])
        truth = {"kind": "pulsation", "period_days": main_period, "mode_periods": periods.tolist(),
                 "amplitudes": amps.tolist()}
        # pipelines search periods >= 0.5 d (Kepler TPS): a faster pulsation is reported at
        # the first multiple of its period above that (else its "transit" fills the orbit)
        period = main_period * float(np.ceil(0.5 / main_period)) if main_period < 0.5 else main_period
    # the pipeline's epoch: the deepest minimum within the first cycle
    first = time < time[0] + period
    epoch = float(time[first][np.argmin(signal[first])])
    truth["epoch_bkjd"] = epoch
    return signal, truth, float(period), epoch, float(np.clip(0.15 * period * 24, 1.0, 15.0))


def _signal_systematics(rng, star, time, cadence_days, n_days, segment_starts, quality):
    """Momentum-dump dips, thermal ramps after gaps and sensitivity dropouts."""
    signal = np.ones_like(time)
    dump_every = rng.uniform(2.9, 3.3)
    first_dump = time[0] + rng.uniform(0.2, dump_every)
    dumps = np.arange(first_dump, time[-1], dump_every)
    dip = rng.uniform(3e-4, 4e-3)
    recover = rng.uniform(1.0, 4.0) * cadence_days
    for td in dumps:  # pointing excursion after each dump, decaying over a few cadences
        after = (time >= td) & (time < td + 8 * recover)
        signal[after] -= dip * np.exp(-(time[after] - td) / recover)
        quality[np.argmin(np.abs(time - td))] |= Q_DESAT
    for ts in segment_starts:  # thermal settling after each downlink
        after = time >= ts
        signal[after] -= rng.uniform(5e-4, 5e-3) * np.exp(-(time[after] - ts) / rng.uniform(0.3, 1.5))
    for _ in range(int(rng.integers(0, 3))):  # sudden pixel sensitivity dropouts
        tj = rng.uniform(time[0], time[-1])
        after = time >= tj
        signal[after] -= rng.uniform(5e-4, 3e-3) * np.exp(-(time[after] - tj) / rng.uniform(0.5, 5.0))
        quality[np.argmin(np.abs(time - tj))] |= Q_SPSD
    epoch = float(first_dump + 1.5 * recover)
    truth = {"dump_interval_days": dump_every, "dip": dip, "epoch_bkjd": epoch,
             "period_days": dump_every}
    return signal, truth, float(dump_every), epoch, float(np.clip(recover * 24 * 3, 1.0, 8.0))


def _deepest_box_epoch(time, flux, period, duration_days):
    """Epoch of the deepest box of width ``duration_days`` in the data folded on ``period``."""
    n_bins = max(int(period / duration_days), 3)
    good = np.isfinite(flux)
    idx = (((time[good] - time[0]) / period % 1.0) * n_bins).astype(int) % n_bins
    sums = np.bincount(idx, flux[good], n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    mean = np.where(counts >= 3, sums / np.maximum(counts, 1), np.inf)
    return float(time[0] + (np.argmin(mean) + 0.5) * period / n_bins)


# --------------------------------------------------------------------------------------
# catalog numbers as a pipeline would report them
# --------------------------------------------------------------------------------------

def _pipeline_flux(time, flux, flux_err, quality, **ephemeris):
    """The light curve as a detection pipeline measures it: :func:`classifier.lightcurves.prepare`
    (flagged cadences and outliers dropped, detrended with the transits masked when the
    ``period_days``/``epoch``/``duration_hours`` ephemeris is given)."""
    try:
        lc = prepare(time, flux, flux_err, quality, **ephemeris)
    except LightCurveError:  # hopeless light curve: measure the raw one
        good = np.isfinite(flux)
        return time[good], flux[good] / np.median(flux[good])
    return lc.time, lc.flux


def _box_depth_snr(time, flux, period, epoch, duration_days, white_ppm):
    """Depth (ppm) and SNR of a box at the ephemeris, measured from the noisy data."""
    good = np.isfinite(flux)
    t, f = time[good], flux[good]
    phase = np.abs((t - epoch + 0.5 * period) % period - 0.5 * period)
    inside = phase < 0.5 * duration_days
    outside = phase > duration_days
    if outside.sum() < 3:  # eclipses lasting most of the (reported) orbit: contact-like EBs
        outside = ~inside
    if inside.sum() < 1 or outside.sum() < 3:
        return float("nan"), float("nan")
    base = np.median(f[outside])
    depth = (base - np.mean(f[inside])) * 1e6
    scatter = 1.4826 * np.median(np.abs(f[outside] - base)) * 1e6
    sigma = max(scatter, white_ppm * 0.5) / np.sqrt(inside.sum())
    return float(depth), float(depth / sigma)


def simulate_candidate(truth_class: str, rng: np.random.Generator, *, n_days: float = 90.0,
                       cadence_minutes: float = LONG_CADENCE_MINUTES,
                       candidate_id: str = "SIM-000000.01", star_id: str | None = None,
                       star: Star | None = None, eb_eccentricity: float | None = None) -> SimulatedCandidate:
    """Simulate one candidate of class ``truth_class``.

    Parameters
    ----------
    truth_class : str
        A code from :data:`classifier.vocabulary.CLASS_CODES` (PC, EB, BEB, V, IS, J).
    rng : numpy.random.Generator
        Source of all randomness; the same generator state gives identical arrays.
    n_days : float
        Length of the observation in days (one Kepler quarter is about 90).
    cadence_minutes : float
        Exposure cadence in minutes (29.4 for Kepler long cadence).
    candidate_id, star_id : str
        Identifiers to store; ``star_id`` defaults to ``candidate_id`` without its suffix.
    star : optional
        A star drawn earlier (to put several candidates on the same star); drawn if None.
    eb_eccentricity : float, optional
        For ``EB``: force an eccentric orbit (0 <= e < 1) with a random argument of periastron,
        reported at its true period, so the secondary falls away from phase 0.5 (truth key
        ``secondary_phase``); for tests and benchmarks of the secondary search.

    Returns
    -------
    SimulatedCandidate
        Arrays of shape ``(n,)``, ``n ~ n_days * 1440 / cadence_minutes`` minus gaps
        (about 4300 for 90 days of long cadence).
    """
    validate_class(truth_class)
    if n_days <= 1.0 or cadence_minutes <= 0:
        raise ValueError("n_days must exceed 1 day and cadence_minutes must be positive")
    cadence = cadence_minutes / 1440.0
    star = star or draw_star(rng)
    time, segment_starts = time_axis(rng, n_days, cadence)
    n = time.size
    quality = np.zeros(n, np.int32)

    if truth_class == "PC":
        signal, truth, period, epoch, dur_h = _signal_planet(rng, star, time, cadence, n_days)
    elif truth_class == "EB":
        signal, truth, period, epoch, dur_h = _signal_eb(rng, star, time, cadence, n_days, eb_eccentricity)
    elif truth_class == "BEB":
        signal, truth, period, epoch, dur_h = _signal_beb(rng, star, time, cadence, n_days)
    elif truth_class == "V":
        signal, truth, period, epoch, dur_h = _signal_variability(rng, star, time, cadence, n_days)
    elif truth_class == "IS":
        signal, truth, period, epoch, dur_h = _signal_systematics(
            rng, star, time, cadence, n_days, segment_starts, quality)
    else:  # "J": noise only; period/epoch chosen below from the noise itself
        signal = np.ones(n)
        period = float(np.exp(rng.uniform(np.log(0.5), np.log(n_days / 3))))
        dur_h = float(rng.uniform(1.0, 8.0))
        truth, epoch = {}, 0.0

    white = star.white_ppm * 1e-6
    red_scale = rng.uniform(0.2, 1.0) * (2.0 if truth_class == "J" else 1.0)
    noise = rng.normal(0.0, white, n) + red_noise(rng, n, red_scale * white, rng.uniform(5, 50))
    # slow instrumental drift every star has (detrending removes it)
    drift = rng.normal(0, 1e-3) * (time - time.mean()) / n_days
    flux = signal + noise + drift
    for ts in segment_starts:  # small thermal settling after downlinks
        after = time >= ts
        flux[after] -= rng.uniform(0, 3e-4) * np.exp(-(time[after] - ts) / 0.5)

    # quality flags, NaNs and outliers
    for td in np.arange(time[0] + rng.uniform(0, 3.1), time[-1], 3.1):  # momentum dumps
        quality[np.argmin(np.abs(time - td))] |= Q_DESAT
    if rng.random() < 0.15:  # a safe mode: a few days of flagged, empty cadences
        ts = rng.uniform(time[0] + 5, time[-1] - 5)
        safe = (time > ts) & (time < ts + rng.uniform(1.0, 3.0))
        quality[safe] |= Q_SAFE_MODE
        flux[safe] = np.nan
    excluded = rng.random(n) < 0.003
    quality[excluded] |= Q_MANUAL_EXCLUDE
    flux[excluded] = np.nan
    cosmic = rng.random(n) < 0.002  # cosmic rays: positive spikes, half of them flagged
    flux[cosmic] += rng.uniform(5, 30, cosmic.sum()) * white
    quality[cosmic & (rng.random(n) < 0.5)] |= Q_COSMIC_RAY
    flux_err = np.full(n, white) * rng.uniform(0.95, 1.05)

    if truth_class == "J":
        # a false alarm is the most significant box among many trial periods: keep the
        # deepest of 15 trials (a pipeline searches far more; this is enough for a demo)
        best = (np.inf, period, 0.0)
        t_det, f_det = _pipeline_flux(time, flux, flux_err, quality)  # search detrended data
        for trial in np.exp(rng.uniform(np.log(0.5), np.log(n_days / 3), 15)):
            trial_epoch = _deepest_box_epoch(t_det, f_det, trial, dur_h / 24)
            depth, _ = _box_depth_snr(t_det, f_det, trial, trial_epoch, dur_h / 24, star.white_ppm)
            if np.isfinite(depth) and -depth < best[0]:
                best = (-depth, float(trial), trial_epoch)
        period, epoch = best[1], best[2]
        truth = {"period_days": period, "epoch_bkjd": epoch}
    # pipeline ephemeris errors: small scatter on epoch and duration
    epoch_rep = float(epoch + rng.normal(0, 0.02) * dur_h / 24)
    dur_rep = float(dur_h * rng.uniform(0.9, 1.1))
    # depth and SNR measured like a pipeline: on the detrended light curve, transits masked
    t_det, f_det = _pipeline_flux(time, flux, flux_err, quality, period_days=period,
                                  epoch=epoch_rep, duration_hours=dur_rep)
    depth, snr = _box_depth_snr(t_det, f_det, period, epoch_rep, dur_rep / 24, star.white_ppm)
    if star_id is None:
        star_id = candidate_id.rsplit(".", 1)[0]
    return SimulatedCandidate(
        candidate_id=candidate_id, star_id=star_id, truth_class=truth_class,
        time_bkjd=time, flux=flux, flux_err=flux_err, quality=quality,
        teff_k=round(star.teff_k, 1), logg_cgs=round(star.logg_cgs, 3),
        radius_rsun=round(star.radius_rsun, 3), mass_msun=round(star.mass_msun, 3),
        magnitude=round(star.magnitude, 3), ra_deg=star.ra_deg, dec_deg=star.dec_deg,
        period_days=float(period), epoch_bkjd=epoch_rep, duration_hours=dur_rep,
        depth_ppm=depth, snr=snr, truth=truth,
    )


def simulate_population(n: int, *, seed: int, class_fractions: dict[str, float] | None = None,
                        n_days: float = 90.0, cadence_minutes: float = LONG_CADENCE_MINUTES,
                        multi_fraction: float = 0.1) -> Iterator[SimulatedCandidate]:
    """Yield ``n`` simulated candidates, reproducibly from ``seed``.

    Parameters
    ----------
    n : int
        Number of candidates.
    seed : int
        Seed of the random generator; the same seed yields identical candidates.
    class_fractions : dict, optional
        Class code -> relative weight (normalised here); defaults to
        :data:`DEFAULT_CLASS_FRACTIONS`.
    multi_fraction : float
        Probability that a candidate shares the star of the previous one (a second
        candidate on the same star, ids ``SIM-000007.01``, ``SIM-000007.02``). Each
        candidate still gets its own light-curve realisation.
    """
    fractions = dict(DEFAULT_CLASS_FRACTIONS if class_fractions is None else class_fractions)
    for code in fractions:
        validate_class(code)
    codes = [c for c in CLASS_CODES if fractions.get(c, 0) > 0]
    if not codes or any(v < 0 for v in fractions.values()):
        raise ValueError("class_fractions needs non-negative weights, at least one positive")
    weights = np.array([fractions[c] for c in codes], float)
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    star, star_number, planet_number = None, 0, 0
    for _ in range(n):
        truth_class = codes[int(rng.choice(len(codes), p=weights))]
        if star is None or rng.random() >= multi_fraction:
            star, star_number, planet_number = draw_star(rng), star_number + 1, 0
        planet_number += 1
        star_id = f"SIM-{star_number:06d}"
        yield simulate_candidate(truth_class, rng, n_days=n_days, cadence_minutes=cadence_minutes,
                                 candidate_id=f"{star_id}.{planet_number:02d}", star_id=star_id,
                                 star=star)
