"""Simulated target pixel files (TPFs): the pixels behind a simulated light curve.

A small stamp around the target star holds the target and one neighbour, each a Gaussian
point-spread function integrated over the pixels (the flux outside the stamp is lost, as on
the real detector). The light curve's variation is carried by the star that really varies:

* planets, EBs, stellar variability, systematics and false alarms: the **target**;
* background/blended eclipsing binaries (BEB): the **neighbour**, whose share of the flux is the
  blend's dilution, so the difference image lights up at the neighbour and the flux-weighted
  centroid moves towards it in transit (Bryson et al. 2013, PASP 125, 889).

Pixel noise: the light curve already carries the star's photometric noise (it rides on the
host star's PSF); each pixel adds independent noise proportional to ``sqrt(flux + background)``,
scaled so that the aperture sum gets half the light curve's white noise again. A slow pointing
drift (velocity aberration, ~0.05 px over a quarter) and a little jitter move both stars.

:func:`write_tpf_fits` writes the result as a Kepler or TESS TPF FITS file with the missions'
structure (primary header, ``TARGETTABLES`` with image columns and the FLUX column's WCS,
``APERTURE`` image), readable by ``lightkurve.read``. Nothing here imports Django; every random
number comes from the generator passed in.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

from classifier.pixels import ARCSEC_PER_PIXEL

#: Stamp shape (rows, columns) of simulated TPFs.
STAMP_SHAPE = (11, 11)
#: e-/s of a Kepler magnitude 12 star (order of magnitude of the Kepler long-cadence flux).
FLUX_AT_MAG12 = 1.0e5
#: Aperture image bits (Kepler/TESS archive manuals): 1 = collected, 2 = in the optimal aperture.
APERTURE_COLLECTED, APERTURE_OPTIMAL = 1, 2


@dataclass
class SyntheticTpf:
    """A simulated TPF. ``flux``/``flux_err`` (n, n_rows, n_cols) e-/s, background subtracted;
    ``time`` (n,) days (BKJD for Kepler, BTJD for TESS); ``quality`` (n,) int32 mission bits;
    ``aperture`` (n_rows, n_cols) int32 bits. Positions are ``(column, row)`` pixels, 0-based.
    """

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    aperture: np.ndarray
    target_px: tuple[float, float]
    neighbour_px: tuple[float, float]
    neighbour_fraction: float
    host: str
    mission: str
    pixel_scale_arcsec: float
    rotation_deg: float
    psf_sigma_px: float
    total_flux: float


def _pixel_integrated(centres: np.ndarray, n: int, sigma: float) -> np.ndarray:
    """Fraction of a 1-D Gaussian (centre per cadence, (m,)) falling in pixels 0..n-1: (m, n)."""
    edges = np.arange(n + 1) - 0.5
    cdf = 0.5 * (1.0 + erf((edges[None, :] - centres[:, None]) / (math.sqrt(2.0) * sigma)))
    return np.diff(cdf, axis=1)


def _psf_cube(x: np.ndarray, y: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """PSF of unit flux at ``(x[i], y[i])`` per cadence, integrated over pixels: (m, rows, cols)."""
    return _pixel_integrated(y, shape[0], sigma)[:, :, None] * _pixel_integrated(x, shape[1], sigma)[:, None, :]


def simulate_tpf(time, relative_flux, rng: np.random.Generator, *, host: str = "target",
                 quality=None, white_ppm: float = 100.0, magnitude: float = 12.0,
                 neighbour_fraction: float | None = None, separation_px: float | None = None,
                 mission: str = "kepler", shape: tuple[int, int] = STAMP_SHAPE) -> SyntheticTpf:
    """Pixels whose aperture sum follows ``relative_flux``.

    Parameters
    ----------
    time : array (n,)
        Cadence times, days.
    relative_flux : array (n,)
        The light curve normalised to ~1 (NaN: lost cadence, gives an all-NaN image).
    rng : numpy.random.Generator
        Source of every random number.
    host : ``"target"`` or ``"neighbour"``
        Which star carries the variation (``"neighbour"`` for a blended EB).
    white_ppm : float
        The light curve's white noise per cadence (ppm); pixel noise is scaled from it.
    magnitude : float
        Target magnitude (sets the flux level, :data:`FLUX_AT_MAG12`).
    neighbour_fraction : float, optional
        Neighbour's share of the total flux (0..0.95). Default: drawn 1-6 mag fainter than the
        target; for ``host="neighbour"`` it is raised to hold 1.2x the deepest dip.
    separation_px : float, optional
        Target-neighbour distance in pixels; default drawn from 1.5-3.5.
    mission : ``"kepler"``, ``"k2"`` or ``"tess"``
        Pixel scale (:data:`classifier.pixels.ARCSEC_PER_PIXEL`).
    shape : (int, int)
        Stamp (rows, columns).
    """
    if host not in {"target", "neighbour"}:
        raise ValueError("host must be 'target' or 'neighbour'")
    time = np.asarray(time, float)
    rel = np.asarray(relative_flux, float)
    if rel.shape != time.shape:
        raise ValueError("time and relative_flux must have the same shape (n,)")
    n = time.size
    n_rows, n_cols = shape
    signal = rel - 1.0
    lost = ~np.isfinite(signal)
    signal = np.where(lost, 0.0, signal)
    deepest = float(max(-np.percentile(signal, 0.5), 0.0)) if n else 0.0
    if neighbour_fraction is None:
        neighbour_fraction = float(10 ** (-0.4 * rng.uniform(1.0, 6.0)))
    if host == "neighbour":
        neighbour_fraction = max(neighbour_fraction, min(1.2 * deepest, 0.95))
    neighbour_fraction = float(np.clip(neighbour_fraction, 0.0, 0.95))
    if separation_px is None:
        separation_px = float(rng.uniform(1.5, 3.5))
    angle = rng.uniform(0.0, 2 * math.pi)
    target = np.array([(n_cols - 1) / 2 + rng.uniform(-0.5, 0.5), (n_rows - 1) / 2 + rng.uniform(-0.5, 0.5)])
    neighbour = target + separation_px * np.array([math.cos(angle), math.sin(angle)])
    neighbour = np.clip(neighbour, 0.0, [n_cols - 1.0, n_rows - 1.0])
    sigma = float(rng.uniform(0.7, 1.1))
    # pointing: a slow drift across the observation plus jitter, the same for both stars
    span = max(float(time[-1] - time[0]), 1e-9) if n else 1.0
    drift = rng.normal(0, 0.03, 2)[:, None] * ((time - time[0]) / span)[None, :] if n else np.zeros((2, 0))
    jitter = rng.normal(0, 0.001, (2, n))  # Kepler: ~1 millipixel per long cadence
    dx, dy = drift + jitter
    total = FLUX_AT_MAG12 * 10 ** (-0.4 * (magnitude - 12.0))
    psf_t = _psf_cube(target[0] + dx, target[1] + dy, shape, sigma)
    psf_n = _psf_cube(neighbour[0] + dx, neighbour[1] + dy, shape, sigma)
    f_t, f_n = (1.0 - neighbour_fraction) * total, neighbour_fraction * total
    carrier = psf_t if host == "target" else psf_n
    model = f_t * psf_t + f_n * psf_n
    cube = model + total * signal[:, None, None] * carrier
    # per-pixel noise ~ sqrt(flux + background), summed over the aperture to half the white noise
    background = 0.002 * total / (n_rows * n_cols)
    mean_model = model.mean(axis=0)
    aperture_mask = mean_model >= 0.02 * mean_model.max()
    shape_noise = np.sqrt(mean_model + background)
    scale = 0.5 * white_ppm * 1e-6 * total / math.sqrt(float((shape_noise[aperture_mask] ** 2).sum()))
    pixel_sigma = scale * shape_noise
    cube = cube + rng.normal(0.0, 1.0, cube.shape) * pixel_sigma[None]
    cube[lost] = np.nan
    flux_err = np.broadcast_to(pixel_sigma, cube.shape).astype("<f4").copy()
    flux_err[lost] = np.nan
    aperture = np.full(shape, APERTURE_COLLECTED, np.int32)
    aperture[aperture_mask] |= APERTURE_OPTIMAL
    return SyntheticTpf(
        time=time.copy(), flux=cube.astype("<f4"), flux_err=flux_err,
        quality=np.zeros(n, np.int32) if quality is None else np.asarray(quality, np.int32).copy(),
        aperture=aperture, target_px=(float(target[0]), float(target[1])),
        neighbour_px=(float(neighbour[0]), float(neighbour[1])), neighbour_fraction=neighbour_fraction,
        host=host, mission=mission, pixel_scale_arcsec=ARCSEC_PER_PIXEL.get(mission, 3.98),
        rotation_deg=float(rng.choice([0.0, 90.0, 180.0, 270.0]) + rng.normal(0, 2.0)),
        psf_sigma_px=sigma, total_flux=float(total))


def candidate_seed(seed: int, candidate_id: str) -> np.random.Generator:
    """A generator for one simulated candidate's pixels, independent of the population's draws
    (so adding pixels never changes the simulated light curves)."""
    return np.random.default_rng([int(seed), zlib.crc32(candidate_id.encode())])


def tpf_for_candidate(sim, *, seed: int, shape: tuple[int, int] = STAMP_SHAPE) -> SyntheticTpf:
    """The TPF of a :class:`classifier.synthetic.SimulatedCandidate` (:func:`tpf_for_light_curve`)."""
    return tpf_for_light_curve(candidate_id=sim.candidate_id, truth_class=sim.truth_class, time=sim.time_bkjd,
                               flux=sim.flux, flux_err=sim.flux_err, quality=sim.quality, magnitude=sim.magnitude,
                               dilution=sim.truth.get("dilution"), seed=seed, shape=shape)


def tpf_for_light_curve(*, candidate_id: str, truth_class: str, time, flux, flux_err, quality, magnitude: float,
                        dilution: float | None, seed: int, shape: tuple[int, int] = STAMP_SHAPE) -> SyntheticTpf:
    """The TPF behind a simulated light curve (arrays (n,), flux ~1): the neighbour hosts the
    signal of a BEB (``dilution``, the blend's flux share, sets the neighbour's brightness; it
    sits 0.5-3 px away, so some close, faint blends stay unresolved as in real data), the target
    hosts every other class. Pixels are drawn from :func:`candidate_seed` (``seed``, id)."""
    rng = candidate_seed(seed, candidate_id)
    flux = np.asarray(flux, float)
    median = float(np.nanmedian(flux))
    white = float(np.nanmedian(flux_err) / max(median, 1e-12) * 1e6)
    if truth_class == "BEB":
        return simulate_tpf(time, flux / median, rng, host="neighbour", quality=quality, white_ppm=white,
                            magnitude=magnitude, neighbour_fraction=float(dilution or 0.3),
                            separation_px=float(rng.uniform(0.5, 3.0)), shape=shape)
    return simulate_tpf(time, flux / median, rng, host="target", quality=quality, white_ppm=white,
                        magnitude=magnitude, shape=shape)


# --------------------------------------------------------------------------------------
# FITS
# --------------------------------------------------------------------------------------

def wcs_cards(tpf: SyntheticTpf, ra_deg: float, dec_deg: float) -> dict[str, float | str]:
    """Gnomonic WCS of the stamp (FITS keywords), the target at ``(ra_deg, dec_deg)``."""
    theta = math.radians(tpf.rotation_deg)
    scale = tpf.pixel_scale_arcsec / 3600.0
    return {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CUNIT1": "deg", "CUNIT2": "deg",
            "CRPIX1": tpf.target_px[0] + 1.0, "CRPIX2": tpf.target_px[1] + 1.0,
            "CRVAL1": float(ra_deg), "CRVAL2": float(dec_deg), "CDELT1": -scale, "CDELT2": scale,
            "PC1_1": math.cos(theta), "PC1_2": -math.sin(theta), "PC2_1": math.sin(theta), "PC2_2": math.cos(theta)}


_TABLE_WCS = {"CTYPE1": "1CTYP5", "CTYPE2": "2CTYP5", "CUNIT1": "1CUNI5", "CUNIT2": "2CUNI5",
              "CRPIX1": "1CRPX5", "CRPIX2": "2CRPX5", "CRVAL1": "1CRVL5", "CRVAL2": "2CRVL5",
              "CDELT1": "1CDLT5", "CDELT2": "2CDLT5", "PC1_1": "11PC5", "PC1_2": "12PC5",
              "PC2_1": "21PC5", "PC2_2": "22PC5"}


def write_tpf_fits(tpf: SyntheticTpf, path: str | Path, *, star_id: int, ra_deg: float, dec_deg: float,
                   magnitude: float = 12.0, quarter: int | None = 1, sector: int | None = None,
                   cadence_minutes: float = 29.4, ccd_origin: tuple[int, int] = (500, 300)) -> Path:
    """Write ``tpf`` as a mission TPF FITS file (Kepler when ``tpf.mission`` is kepler/k2, else
    TESS): primary header, ``TARGETTABLES`` (TIME, TIMECORR, CADENCENO, RAW_CNTS, FLUX,
    FLUX_ERR, FLUX_BKG, FLUX_BKG_ERR, [COSMIC_RAYS,] QUALITY, POS_CORR1, POS_CORR2; FLUX is
    column 5 and carries the WCS as ``1CRPX5`` etc.), ``APERTURE`` (int32 bits, same WCS).
    ``ccd_origin`` is the CCD (column, row) of the stamp's first pixel. Returns the path."""
    from astropy.io import fits

    path = Path(path)
    kepler = tpf.mission in {"kepler", "k2"}
    n, n_rows, n_cols = tpf.flux.shape
    dim = f"({n_cols},{n_rows})"
    image = f"{n_rows * n_cols}E"
    zeros = np.zeros_like(tpf.flux)
    columns = [
        fits.Column("TIME", "D", unit="BJD - 2454833" if kepler else "BJD - 2457000, days", array=tpf.time),
        fits.Column("TIMECORR", "E", unit="d", array=np.zeros(n, "f4")),
        fits.Column("CADENCENO", "J", array=np.arange(n, dtype=np.int32) + 1000),
        fits.Column("RAW_CNTS", f"{n_rows * n_cols}J", dim=dim, array=np.nan_to_num(tpf.flux).astype(np.int32)),
        fits.Column("FLUX", image, unit="e-/s", dim=dim, array=tpf.flux),
        fits.Column("FLUX_ERR", image, unit="e-/s", dim=dim, array=tpf.flux_err),
        fits.Column("FLUX_BKG", image, unit="e-/s", dim=dim, array=zeros),
        fits.Column("FLUX_BKG_ERR", image, unit="e-/s", dim=dim, array=zeros),
    ]
    if kepler:
        columns.append(fits.Column("COSMIC_RAYS", image, unit="e-/s", dim=dim, array=zeros))
    columns += [fits.Column("QUALITY", "J", array=tpf.quality.astype(np.int32)),
                fits.Column("POS_CORR1", "E", unit="pixels", array=np.zeros(n, "f4")),
                fits.Column("POS_CORR2", "E", unit="pixels", array=np.zeros(n, "f4"))]
    wcs = wcs_cards(tpf, ra_deg, dec_deg)
    primary = fits.PrimaryHDU()
    head = primary.header
    head["TELESCOP"] = "Kepler" if kepler else "TESS"
    head["MISSION"] = "K2" if tpf.mission == "k2" else head["TELESCOP"]
    head["CREATOR"] = "TargetPixelExporterPipelineModule (simulated: classifier.synthetic_pixels)"
    head["ORIGIN"] = "NASA/Ames" if kepler else "NASA/Ames SPOC"
    head["OBJECT"] = f"{'KIC' if kepler else 'TIC'} {star_id}"
    head["KEPLERID" if kepler else "TICID"] = int(star_id)
    if kepler and quarter is not None:
        head["QUARTER"] = int(quarter)
    if not kepler and sector is not None:
        head["SECTOR"] = int(sector)
    head["RA_OBJ"], head["DEC_OBJ"] = float(ra_deg), float(dec_deg)
    head["KEPMAG" if kepler else "TESSMAG"] = float(magnitude)
    table = fits.BinTableHDU.from_columns(columns, name="TARGETTABLES")
    th = table.header
    for key, value in wcs.items():
        th[_TABLE_WCS[key]] = value
    th["1CRV5P"], th["2CRV5P"] = int(ccd_origin[0]), int(ccd_origin[1])
    th["TIMEDEL"] = cadence_minutes / 1440.0
    th["BJDREFI"], th["BJDREFF"] = (2454833, 0.0) if kepler else (2457000, 0.0)
    th["TIMEUNIT"], th["TIMESYS"] = "d", "TDB"
    aperture = fits.ImageHDU(tpf.aperture.astype(np.int32), name="APERTURE")
    for key, value in wcs.items():
        aperture.header[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([primary, table, aperture]).writeto(path, overwrite=True)
    return path


__all__ = ["STAMP_SHAPE", "SyntheticTpf", "simulate_tpf", "candidate_seed", "tpf_for_candidate",
           "tpf_for_light_curve", "wcs_cards",
           "write_tpf_fits"]
