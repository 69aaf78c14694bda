"""Pixel-level vetting: difference images and centroid offsets from a target pixel file.

A background or blended eclipsing binary (BEB) mimics a planet in the light curve, but in the
pixels the dimming comes from somewhere else than the target. Two classic tests, both here:

1. **Difference image** (Bryson et al. 2013, PASP 125, 889, "Identification of background
   false positives from Kepler data", sect. 3; the Kepler and TESS SPOC data-validation reports
   show the same images): for each transit, the mean image out of transit (one transit duration
   on both sides, so slow pointing drifts cancel) minus the mean image in transit. The
   difference image is a picture of *what dimmed*; a point-spread-function fit to it locates the
   source of the transit, which is compared with the target's catalog position (the DV
   ``dikco`` offset). As in DAVE's centroid module (Kostov et al. 2019, AJ 157, 124;
   ``exovetter.centroid``) the PSF is a 2-D Gaussian; Kepler DV fits the mission PRF instead.
2. **Flux-weighted centroid motion** (Bryson et al. 2013 sect. 2): the photocentre of the
   aperture in transit minus out of transit. It moves for a BEB, but also (slightly) for a
   planet whenever another star shares the aperture, so it is reported, not used for the
   verdict: the verdict rests on the difference-image offset, as the Kepler Robovetter's
   centroid test does (Mullally 2017, KSCI-19115-001, "Centroid Robovetter").

Uncertainties include correlated noise: the PSF-fit covariance (scaled by the reduced
chi-square) and a delete-a-group jackknife over transits are compared and the larger is kept,
then a systematic floor (:data:`SYSTEMATIC_FLOOR_PX`) is added in quadrature. Significances are
Mahalanobis distances (``sqrt(d^T C^-1 d)``) of the 2-D offset vector.

Coordinates: images are ``(n_rows, n_cols)``; positions are ``(column, row)`` in pixels,
0-based, pixel centres at integers (``x = column``, ``y = row``, what
``astropy.wcs.WCS.world_to_pixel`` returns for a TPF's image WCS). Time in days. Pure numpy and
scipy (the PSF fit); nothing here imports Django.

(A little over 500 lines: the centroid, difference-image and verdict steps share one noise
model and are read together when checking a verdict.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Sky size of one pixel in arcsec (Kepler/K2: Koch et al. 2010; TESS: Ricker et al. 2015),
#: used when a file carries no usable WCS.
ARCSEC_PER_PIXEL: dict[str, float] = {"kepler": 3.98, "k2": 3.98, "tess": 21.0, "simulated": 3.98}
#: A difference-image offset at or above this many sigma is significant (the 3-sigma threshold
#: of Bryson et al. 2013 and of the Kepler DV reports).
OFFSET_SIGMA_THRESHOLD = 3.0
#: Added in quadrature to every offset uncertainty (pixels): our allowance for a PSF model that
#: is only a Gaussian and for intra-pixel effects, so that a bright star's formally tiny errors
#: cannot make a sub-pixel PSF mismatch "significant". With it, an offset must exceed 0.3 px
#: (1.2 arcsec on Kepler, 6.3 arcsec on TESS) to reach 3 sigma.
SYSTEMATIC_FLOOR_PX = 0.1
#: Below this SNR of the dimming summed over the aperture in the difference image, the source
#: cannot be located (verdict "inconclusive").
MIN_DIFF_SNR = 5.0
#: Out-of-transit windows: from ``OOT_START`` to ``OOT_STOP`` transit durations from mid-transit.
OOT_START, OOT_STOP = 1.0, 2.0
#: Most jackknife groups (each a subset of transits left out once).
JACKKNIFE_GROUPS = 8

#: Names this module writes into ``Candidate.features`` (numbers only; units in the names).
PIXEL_METRIC_NAMES: tuple[str, ...] = (
    "centroid_offset_px", "centroid_offset_arcsec", "centroid_offset_err_arcsec", "centroid_offset_sigma",
    "centroid_shift_px", "centroid_shift_arcsec", "centroid_shift_sigma",
    "diff_image_snr", "pixel_depth_ppm", "pixel_n_transits",
)
#: Verdicts of :func:`offset_verdict`.
VERDICTS = {"on_target": "On target", "offset": "Offset from the target",
            "inconclusive": "Inconclusive"}


class PixelError(ValueError):
    """The pixel data cannot be analysed (no cadences, no transit in the data, wrong shapes)."""


@dataclass
class PsfFit:
    """A Gaussian PSF fitted to an image: centre ``(x, y)`` in pixels (column, row), its 2x2
    covariance (pixels^2), width ``sigma_px``, ``amplitude`` and ``background`` (image units)."""

    x: float
    y: float
    cov: np.ndarray
    sigma_px: float
    amplitude: float
    background: float
    ok: bool


@dataclass
class PixelDiagnostics:
    """Result of :func:`pixel_diagnostics`.

    ``mean_image`` and ``diff_image`` are ``(n_rows, n_cols)`` in the cube's flux units
    (e-/s for mission TPFs); ``diff_image`` is out-of-transit minus in-transit (positive where
    light was lost). Positions are ``(column, row)`` pixels.
    """

    metrics: dict[str, float | None]
    mean_image: np.ndarray
    diff_image: np.ndarray
    target_px: tuple[float, float]
    oot_centroid_px: tuple[float, float] | None
    diff_centroid_px: tuple[float, float] | None
    pixel_scale_arcsec: float
    verdict: str
    aperture: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    #: Difference-image source minus target position, (2,) px (None when not located).
    offset_vector_px: np.ndarray | None = None
    #: Flux-weighted photocentre in transit minus out of transit, (2,) px (None without data).
    shift_vector_px: np.ndarray | None = None


# --------------------------------------------------------------------------------------
# PSF fit
# --------------------------------------------------------------------------------------

def _gaussian(params, xx, yy):
    x0, y0, sigma, amp, bkg = params
    return amp * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2.0 * sigma**2)) + bkg


def fit_psf(image: np.ndarray, error: np.ndarray | float | None = None, *,
            guess: tuple[float, float] | None = None, sigma_px: float | None = None) -> PsfFit:
    """Fit a circular Gaussian plus a constant to ``image`` (n_rows, n_cols).

    ``error`` per pixel (same shape, or a scalar; None: uniform) weights the fit. ``guess`` is
    the starting ``(x, y)``; default the brightest pixel. ``sigma_px`` fixes the PSF width (the
    star's, for a difference image: a free width lets a noisy image's fit wander onto noise).
    The covariance is scaled by the reduced chi-square when that exceeds 1 (a model that fits
    worse than the noise gets wider errors).
    """
    from scipy.optimize import least_squares

    image = np.asarray(image, float)
    n_rows, n_cols = image.shape
    yy, xx = np.mgrid[0:n_rows, 0:n_cols].astype(float)
    good = np.isfinite(image)
    err = np.ones_like(image) if error is None else np.broadcast_to(np.asarray(error, float), image.shape)
    good &= np.isfinite(err) & (err > 0)
    if good.sum() < 6:
        raise PixelError("fewer than 6 usable pixels to fit a PSF")
    if guess is None:
        r0, c0 = np.unravel_index(np.nanargmax(np.where(good, image, -np.inf)), image.shape)
        guess = (float(c0), float(r0))
    bkg0 = float(np.nanmedian(image[good]))
    amp0 = float(np.nanmax(image[good]) - bkg0) or 1.0
    start = [guess[0], guess[1], 1.0, amp0, bkg0]
    lower = [-0.5, -0.5, 0.3, -np.inf, -np.inf]
    upper = [n_cols - 0.5, n_rows - 0.5, 3.0, np.inf, np.inf]
    start = list(np.clip(start, lower, upper))
    free = [0, 1, 3, 4] if sigma_px is not None else [0, 1, 2, 3, 4]
    x, y, w = xx[good], yy[good], 1.0 / err[good]
    data = image[good]

    def full(p):
        if sigma_px is None:
            return p
        return np.array([p[0], p[1], sigma_px, p[2], p[3]])

    def residual(p):
        return (_gaussian(full(p), x, y) - data) * w

    def jacobian(p):  # analytic: several times faster than finite differences
        x0, y0, sigma, amp, _ = full(p)
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2.0 * sigma**2))
        cols = [amp * g * (x - x0) / sigma**2, amp * g * (y - y0) / sigma**2,
                amp * g * ((x - x0) ** 2 + (y - y0) ** 2) / sigma**3, g, np.ones_like(g)]
        return np.stack([cols[i] for i in free], axis=1) * w[:, None]

    result = least_squares(residual, [start[i] for i in free], jac=jacobian, x_scale="jac",
                           bounds=([lower[i] for i in free], [upper[i] for i in free]))
    jac = result.jac
    dof = max(data.size - len(free), 1)
    chi2_red = float(np.sum(result.fun**2) / dof)
    try:
        cov = np.linalg.inv(jac.T @ jac) * max(chi2_red, 1.0)
    except np.linalg.LinAlgError:
        cov = np.full((len(free), len(free)), np.nan)
    x0, y0, sigma, amp, bkg = (float(v) for v in full(result.x))
    on_edge = not (-0.5 < x0 < n_cols - 0.5 and -0.5 < y0 < n_rows - 0.5)
    ok = bool(result.success) and np.isfinite(cov[:2, :2]).all() and not on_edge and amp > 0
    return PsfFit(x0, y0, cov[:2, :2], sigma, amp, bkg, ok)


# --------------------------------------------------------------------------------------
# windows and images
# --------------------------------------------------------------------------------------

def transit_windows(time: np.ndarray, *, period_days: float, epoch: float, duration_hours: float):
    """Per cadence: transit number (nearest mid-transit), in-transit mask, out-of-transit mask.

    In transit: within half a duration of mid-transit. Out of transit: between
    :data:`OOT_START` and :data:`OOT_STOP` durations on either side (never closer than half a
    duration to the next transit). Arrays (n,).
    """
    duration = duration_hours / 24.0
    cycle = np.round((time - epoch) / period_days)
    dt = np.abs(time - epoch - cycle * period_days)
    in_transit = dt < 0.5 * duration
    stop = min(OOT_STOP * duration, 0.5 * period_days - 0.5 * duration)
    out = (dt >= OOT_START * duration) & (dt <= stop)
    return cycle.astype(np.int64), in_transit, out


def _median(values: np.ndarray, axis=0) -> np.ndarray:
    """``np.nanmedian``, taking numpy's much faster path when there is no NaN."""
    return np.median(values, axis=axis) if np.isfinite(values).all() else np.nanmedian(values, axis=axis)


def _robust_sigma(values: np.ndarray, axis=0) -> np.ndarray:
    """White-noise scatter from point-to-point differences (insensitive to slow trends)."""
    diffs = np.diff(values, axis=axis)
    med = _median(diffs, axis=axis)
    return 1.4826 * _median(np.abs(diffs - med), axis=axis) / math.sqrt(2.0)


def _per_transit(cube, cycle, in_transit, out):
    """Per transit with at least one in-transit and two out-of-transit cadences:
    ``(cycle, n_in, n_out, in_mean (r, c), out_mean (r, c))`` lists."""
    rows = []
    for k in np.unique(cycle[in_transit]):
        sel_in = in_transit & (cycle == k)
        sel_out = out & (cycle == k)
        if sel_in.sum() < 1 or sel_out.sum() < 2:
            continue
        rows.append((int(k), int(sel_in.sum()), int(sel_out.sum()),
                     np.nanmean(cube[sel_in], axis=0), np.nanmean(cube[sel_out], axis=0)))
    return rows


def _stack(parts, idx=None):
    """Out-minus-in image over the transits ``idx`` (all by default), weighted by in-transit count."""
    chosen = parts if idx is None else [parts[i] for i in idx]
    weights = np.array([p[1] for p in chosen], float)
    diffs = np.stack([p[4] - p[3] for p in chosen])
    return np.tensordot(weights, diffs, axes=1) / weights.sum()


def _groups(n: int) -> list[np.ndarray]:
    return [g for g in np.array_split(np.arange(n), min(n, JACKKNIFE_GROUPS)) if g.size]


def _jackknife_cov(estimates: np.ndarray) -> np.ndarray:
    """Delete-a-group jackknife covariance of 2-vectors ``estimates`` (g, 2)."""
    g = estimates.shape[0]
    dev = estimates - estimates.mean(axis=0)
    return (g - 1) / g * dev.T @ dev


def _mahalanobis(vector: np.ndarray, cov: np.ndarray) -> float | None:
    try:
        return float(math.sqrt(max(float(vector @ np.linalg.solve(cov, vector)), 0.0)))
    except np.linalg.LinAlgError:
        return None


def _projected_error(vector: np.ndarray, cov: np.ndarray) -> float:
    """1-sigma error of ``|vector|`` along its own direction (isotropic mean when ~0)."""
    norm = float(np.hypot(*vector))
    if norm < 1e-12:
        return float(math.sqrt(max(np.trace(cov) / 2.0, 0.0)))
    unit = vector / norm
    return float(math.sqrt(max(unit @ cov @ unit, 0.0)))


# --------------------------------------------------------------------------------------
# the diagnostics
# --------------------------------------------------------------------------------------

def pixel_diagnostics(time, flux, *, period_days: float, epoch: float, duration_hours: float,
                      target_px: tuple[float, float] | None = None, aperture=None,
                      pixel_scale_arcsec: float = ARCSEC_PER_PIXEL["kepler"]) -> PixelDiagnostics:
    """Difference image, centroid offset and centroid motion of one candidate in one TPF.

    Parameters
    ----------
    time : array (n,)
        Cadence mid-times in days, the same time system as ``epoch``.
    flux : array (n, n_rows, n_cols)
        Background-subtracted pixel fluxes (e-/s); NaN pixels and cadences are ignored.
    period_days, epoch, duration_hours : float
        The candidate's ephemeris.
    target_px : (float, float), optional
        The target's catalog position ``(column, row)`` in pixels (from the WCS). None: the PSF
        fit to the out-of-transit image (then the offset is the DV ``dicco`` kind: from the
        out-of-transit centroid, which a bright neighbour pulls).
    aperture : bool array (n_rows, n_cols), optional
        Photometric aperture for the centroid motion and the depth; default every pixel.
    pixel_scale_arcsec : float
        Arcsec per pixel (:data:`ARCSEC_PER_PIXEL`).

    Returns
    -------
    PixelDiagnostics
        ``metrics`` holds :data:`PIXEL_METRIC_NAMES` (None where not measurable).

    Raises
    ------
    PixelError
        Wrong shapes, no finite cadences, or no transit with in- and out-of-transit data.
    """
    time = np.asarray(time, float)
    cube = np.asarray(flux, float)
    if cube.ndim != 3 or cube.shape[0] != time.size:
        raise PixelError(f"flux must be (n_cadences, n_rows, n_cols) with n = {time.size}; got {cube.shape}")
    if not (period_days > 0 and duration_hours > 0):
        raise PixelError("period and duration must be positive")
    keep = np.isfinite(time) & np.isfinite(cube).any(axis=(1, 2))
    time, cube = time[keep], cube[keep]
    if time.size < 10:
        raise PixelError("fewer than 10 cadences with pixel data")
    n_rows, n_cols = cube.shape[1:]
    aperture = np.ones((n_rows, n_cols), bool) if aperture is None else np.asarray(aperture, bool)
    if aperture.shape != (n_rows, n_cols) or not aperture.any():
        aperture = np.ones((n_rows, n_cols), bool)
    cycle, in_transit, out = transit_windows(time, period_days=period_days, epoch=epoch,
                                             duration_hours=duration_hours)
    parts = _per_transit(cube, cycle, in_transit, out)
    if not parts:
        raise PixelError("no transit with both in-transit and out-of-transit cadences in the pixel data")
    notes: list[str] = []
    mean_image = _median(cube, axis=0)
    diff_image = _stack(parts)
    n_in = sum(p[1] for p in parts)
    n_out = sum(p[2] for p in parts)
    # per-pixel white noise from the out-of-transit cadences, then of the stacked difference
    pixel_sigma = _robust_sigma(cube[out] if out.sum() > 10 else cube)
    diff_err = pixel_sigma * math.sqrt(1.0 / n_in + 1.0 / n_out)
    diff_err = np.where(np.isfinite(diff_err) & (diff_err > 0), diff_err, np.nanmedian(diff_err))

    metrics: dict[str, float | None] = dict.fromkeys(PIXEL_METRIC_NAMES)
    metrics["pixel_n_transits"] = float(len(parts))
    ap_out = float(np.nansum(np.where(aperture, np.nanmean(cube[out], axis=0), 0.0)))
    ap_diff = float(np.nansum(np.where(aperture, diff_image, 0.0)))
    # the aperture sum's own scatter, not the pixels' in quadrature: pointing jitter moves light
    # between pixels (large, anti-correlated pixel noise) but not out of the aperture
    ap_series = np.where(aperture[None], np.nan_to_num(cube), 0.0).sum(axis=(1, 2))
    ap_sigma = _robust_sigma(ap_series[out] if out.sum() > 10 else ap_series)
    ap_err = float(ap_sigma * math.sqrt(1.0 / n_in + 1.0 / n_out))
    if ap_out > 0:
        metrics["pixel_depth_ppm"] = ap_diff / ap_out * 1e6
    diff_snr = ap_diff / ap_err if ap_err > 0 else None
    metrics["diff_image_snr"] = diff_snr

    # the target position, and the source of the dimming from the difference image
    oot_fit = _safe_fit(mean_image, None, None)
    oot_centroid = (oot_fit.x, oot_fit.y) if oot_fit and oot_fit.ok else None
    if target_px is None:
        if oot_centroid is None:
            raise PixelError("no target position given and no star found in the out-of-transit image")
        target_px = oot_centroid
        notes.append("no WCS position: offsets are from the out-of-transit centroid")
    target = np.array(target_px, float)
    width = oot_fit.sigma_px if oot_fit and oot_fit.ok else None
    diff_fit = _safe_fit(diff_image, diff_err, None, width)
    diff_centroid = offset = None
    shift = _centroid_shift(cube, aperture, cycle, in_transit, out, parts)
    depth = ap_diff / ap_out if ap_out > 0 else 0.0
    if diff_fit is not None and diff_fit.ok and diff_snr is not None and diff_snr >= MIN_DIFF_SNR:
        diff_centroid = (diff_fit.x, diff_fit.y)
        offset = np.array(diff_centroid) - target
        cov = diff_fit.cov.copy()
        jack = _jackknife_positions(parts, diff_err, diff_fit)
        if jack is not None and np.trace(jack) > np.trace(cov):
            cov = jack
        if shift is not None and depth > 0:
            # pointing jitter moves every pixel's light together, which a per-pixel error model
            # misses; its effect on the source position is the photocentre noise divided by the
            # fractional depth (the centroid-shift relation of Bryson et al. 2013, eq. 1)
            cov = cov + shift[2] / depth**2
        cov = cov + np.eye(2) * SYSTEMATIC_FLOOR_PX**2
        metrics["centroid_offset_px"] = float(np.hypot(*offset))
        metrics["centroid_offset_arcsec"] = metrics["centroid_offset_px"] * pixel_scale_arcsec
        metrics["centroid_offset_err_arcsec"] = _projected_error(offset, cov) * pixel_scale_arcsec
        metrics["centroid_offset_sigma"] = _mahalanobis(offset, cov)
    elif diff_snr is None or diff_snr < MIN_DIFF_SNR:
        notes.append(f"the transit is too faint in the pixels to locate (difference-image SNR "
                     f"{0.0 if diff_snr is None else diff_snr:.1f} < {MIN_DIFF_SNR:g})")
    else:
        notes.append("the PSF fit to the difference image did not converge")

    if shift is not None:
        vector, cov, _ = shift
        metrics["centroid_shift_px"] = float(np.hypot(*vector))
        metrics["centroid_shift_arcsec"] = metrics["centroid_shift_px"] * pixel_scale_arcsec
        metrics["centroid_shift_sigma"] = _mahalanobis(vector, cov)
    verdict = offset_verdict(metrics)
    return PixelDiagnostics(
        metrics=metrics, mean_image=mean_image, diff_image=diff_image, target_px=(float(target[0]), float(target[1])),
        oot_centroid_px=oot_centroid, diff_centroid_px=diff_centroid, pixel_scale_arcsec=float(pixel_scale_arcsec),
        verdict=verdict, aperture=aperture, notes=notes, offset_vector_px=offset,
        shift_vector_px=None if shift is None else shift[0])


def _safe_fit(image, error, guess, sigma_px=None) -> PsfFit | None:
    try:
        return fit_psf(image, error, guess=guess, sigma_px=sigma_px)
    except (PixelError, ValueError):
        return None


def _jackknife_positions(parts, diff_err, fit: PsfFit) -> np.ndarray | None:
    """Jackknife covariance (px^2) of the difference-image centroid, leaving out one group of
    transits at a time: per-transit (red) noise the white-noise fit error does not see.

    Each leave-a-group-out image is refitted by one Gauss-Newton step from the full fit
    (linearised least squares: one small solve instead of an iterative fit per group).
    """
    if len(parts) < 3:
        return None
    n_rows, n_cols = diff_err.shape
    yy, xx = np.mgrid[0:n_rows, 0:n_cols].astype(float)
    good = np.isfinite(diff_err) & (diff_err > 0)
    x, y, w = xx[good], yy[good], 1.0 / diff_err[good]
    dx, dy = x - fit.x, y - fit.y
    g = np.exp(-(dx**2 + dy**2) / (2.0 * fit.sigma_px**2))
    jac = np.stack([fit.amplitude * g * dx / fit.sigma_px**2, fit.amplitude * g * dy / fit.sigma_px**2,
                    g, np.ones_like(g)], axis=1) * w[:, None]
    model = fit.amplitude * g + fit.background
    estimates = []
    for group in _groups(len(parts)):
        idx = np.setdiff1d(np.arange(len(parts)), group)
        image = _stack(parts, idx)[good]
        if not np.isfinite(image).all():
            return None
        step, *_ = np.linalg.lstsq(jac, (image - model) * w, rcond=None)
        estimates.append((fit.x + step[0], fit.y + step[1]))
    return _jackknife_cov(np.array(estimates))


def _centroid_shift(cube, aperture, cycle, in_transit, out, parts):
    """Flux-weighted centroid in transit minus out of transit (local baselines), (2,) px, its
    covariance (white noise from the cadence-to-cadence scatter or the jackknife over transits,
    whichever is larger) and the white-noise covariance alone (2, 2), px^2."""
    yy, xx = np.mgrid[0:cube.shape[1], 0:cube.shape[2]].astype(float)
    masked = np.where(aperture[None], np.nan_to_num(cube), 0.0)
    total = masked.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (masked * xx).sum(axis=(1, 2)) / total
        cy = (masked * yy).sum(axis=(1, 2)) / total
    good = np.isfinite(cx) & np.isfinite(cy) & (total > 0)
    shifts, weights = [], []
    for k, *_ in parts:
        sel_in, sel_out = in_transit & (cycle == k) & good, out & (cycle == k) & good
        if sel_in.sum() < 1 or sel_out.sum() < 2:
            continue
        shifts.append((cx[sel_in].mean() - cx[sel_out].mean(), cy[sel_in].mean() - cy[sel_out].mean()))
        weights.append(sel_in.sum())
    if not shifts:
        return None
    shifts, weights = np.array(shifts), np.array(weights, float)
    vector = weights @ shifts / weights.sum()
    n_in = float(weights.sum())
    n_out = float((out & good).sum())
    white = np.array([_robust_sigma(cx[out & good]), _robust_sigma(cy[out & good])]) ** 2
    white_cov = np.diag(white * (1.0 / n_in + 1.0 / max(n_out, 1.0)))
    cov = white_cov
    if len(shifts) >= 3:
        estimates = []
        for group in _groups(len(shifts)):
            idx = np.setdiff1d(np.arange(len(shifts)), group)
            estimates.append(weights[idx] @ shifts[idx] / weights[idx].sum())
        jack = _jackknife_cov(np.array(estimates))
        if np.trace(jack) > np.trace(cov):
            cov = jack
    return vector, cov, white_cov


def offset_verdict(metrics: dict) -> str:
    """``"offset"``, ``"on_target"`` or ``"inconclusive"`` from the difference-image metrics.

    Offset: ``centroid_offset_sigma >= OFFSET_SIGMA_THRESHOLD`` (3 sigma, Bryson et al. 2013).
    Inconclusive: no offset was measured (transit too faint in the pixels, fit failed).
    Catalog metrics (:func:`catalog_centroid_metrics`) go through the same rule.
    """
    sigma = metrics.get("centroid_offset_sigma")
    if sigma is None or not math.isfinite(sigma):
        return "inconclusive"
    return "offset" if sigma >= OFFSET_SIGMA_THRESHOLD else "on_target"


def combine_diagnostics(results: list[PixelDiagnostics]) -> dict[str, float | None]:
    """Metrics of several TPFs (quarters or sectors) of one candidate, combined.

    Offsets are combined as magnitudes weighted by inverse variance (each quarter's stamp has
    its own orientation, so pixel vectors are not averaged; the Kepler DV averages sky offsets
    over quarters, Bryson et al. 2013 sect. 3.3); the significance is that mean over its error.
    Centroid shifts and depths: medians; the shift significance: root-mean-square of the
    quarters'; difference-image SNRs add in quadrature; transit counts add up. One result: its
    metrics unchanged.
    """
    if not results:
        return {}
    if len(results) == 1:
        return dict(results[0].metrics)
    out: dict[str, float | None] = dict.fromkeys(PIXEL_METRIC_NAMES)
    measured = [r.metrics for r in results if r.metrics.get("centroid_offset_err_arcsec")]
    if measured:
        w = np.array([1.0 / m["centroid_offset_err_arcsec"] ** 2 for m in measured])
        off = np.array([m["centroid_offset_arcsec"] for m in measured])
        mean = float(w @ off / w.sum())
        err = float(1.0 / math.sqrt(w.sum()))
        scale = float(np.mean([r.pixel_scale_arcsec for r in results]))
        out.update(centroid_offset_arcsec=mean, centroid_offset_err_arcsec=err, centroid_offset_sigma=mean / err,
                   centroid_offset_px=mean / scale)
    for key in ("centroid_shift_px", "centroid_shift_arcsec", "pixel_depth_ppm"):
        values = [r.metrics[key] for r in results if r.metrics.get(key) is not None]
        out[key] = float(np.median(values)) if values else None
    sigmas = [r.metrics["centroid_shift_sigma"] for r in results if r.metrics.get("centroid_shift_sigma") is not None]
    out["centroid_shift_sigma"] = float(math.sqrt(sum(s**2 for s in sigmas) / len(sigmas))) if sigmas else None
    snrs = [r.metrics["diff_image_snr"] for r in results if r.metrics.get("diff_image_snr") is not None]
    out["diff_image_snr"] = float(math.sqrt(sum(s**2 for s in snrs if s > 0))) if snrs else None
    out["pixel_n_transits"] = float(sum(r.metrics.get("pixel_n_transits") or 0 for r in results))
    return out


# --------------------------------------------------------------------------------------
# catalog centroid statistics (Kepler DV, via the archive tables)
# --------------------------------------------------------------------------------------

def catalog_centroid_metrics(table: str, catalog_features: dict | None) -> dict[str, float]:
    """The DV difference-image offset from the target's catalog position, from archive columns.

    ``table`` is a :data:`classifier.catalogs.TABLE_NAMES` name; the columns per table are
    :data:`classifier.catalogs.CENTROID_COLUMNS` (``koi_dikco_msky``/``tce_dikco_msky``: offset
    of the PRF-fitted difference-image centroid from the KIC position, arcsec, averaged over
    quarters; Bryson et al. 2013 sect. 3.3). Returns ``centroid_offset_arcsec``,
    ``centroid_offset_err_arcsec``, ``centroid_offset_sigma`` (offset / error), or {} when the
    table has no such columns or the row no values.
    """
    from classifier.catalogs import CENTROID_COLUMNS

    columns = CENTROID_COLUMNS.get(table)
    features = catalog_features or {}
    if not columns:
        return {}
    offset, err = features.get(columns["offset_arcsec"]), features.get(columns["offset_err_arcsec"])
    if offset is None or err is None or not (err > 0) or not math.isfinite(offset):
        return {}
    return {"centroid_offset_arcsec": float(offset), "centroid_offset_err_arcsec": float(err),
            "centroid_offset_sigma": float(abs(offset) / err)}


__all__ = ["ARCSEC_PER_PIXEL", "OFFSET_SIGMA_THRESHOLD", "SYSTEMATIC_FLOOR_PX", "MIN_DIFF_SNR", "PIXEL_METRIC_NAMES",
           "VERDICTS", "PixelError", "PsfFit", "PixelDiagnostics", "fit_psf", "transit_windows",
           "pixel_diagnostics", "offset_verdict", "combine_diagnostics", "catalog_centroid_metrics"]
