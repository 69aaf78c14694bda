"""The real Kepler light curves of the shared data with their KOIs' ephemerides (tests only).

:func:`koi_cases` yields, for each (file, KOI) pair of ``fits_index_with_labels.csv``, the raw
arrays and what ``classifier.products.measure`` needs: the KOI's ephemeris, the star and the
ephemerides of the other KOIs of the same star (siblings), all from the KOI cumulative table.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class KoiCase:
    file: str
    koi: str
    disposition: str
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    ephemeris: dict
    siblings: list
    star: dict


@functools.lru_cache(maxsize=32)
def read_kepler_fits(path: Path) -> tuple[np.ndarray, ...]:
    """(time BKJD, flux / median, flux_err / median, quality) of one Kepler light-curve file."""
    from astropy.io import fits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path, memmap=False) as hdul:
            data, cols = hdul[1].data, hdul[1].columns.names
            flux_col = "PDCSAP_FLUX" if "PDCSAP_FLUX" in cols else "FLUX"
            err_col = f"{flux_col}_ERR" if f"{flux_col}_ERR" in cols else "FLUX_ERR"
            q_col = "SAP_QUALITY" if "SAP_QUALITY" in cols else "QUALITY"
            t = np.array(data["TIME"], float)
            f = np.array(data[flux_col], float)
            e = np.array(data[err_col], float)
            q = np.array(data[q_col]).astype(np.int32)
    ok = np.isfinite(t)
    med = np.nanmedian(f[ok])
    return t[ok], f[ok] / med, e[ok] / med, q[ok]


def _ephemeris(row) -> dict:
    return {"period_days": float(row["koi_period"]), "epoch": float(row["koi_time0bk"]),
            "duration_hours": float(row["koi_duration"])}


def koi_cases(shared_data: Path) -> list[KoiCase]:
    """Every (file, KOI) pair of the shared Kepler light curves."""
    import pandas as pd

    folder = shared_data / "kepler" / "lightcurves"
    index = pd.read_csv(folder / "fits_index_with_labels.csv")
    koi = pd.read_csv(shared_data / "kepler" / "koi_cumulative_2019-01-20.csv", comment="#").set_index("kepoi_name")
    cases = []
    for _, row in index.iterrows():
        names = str(row["kois"]).split(";")
        t, f, e, q = read_kepler_fits(folder / row["file"])
        for name in names:
            k = koi.loc[name]
            cases.append(KoiCase(
                file=row["file"], koi=name, disposition=str(k["koi_disposition"]), time=t, flux=f, flux_err=e,
                quality=q, ephemeris=_ephemeris(k), siblings=[_ephemeris(koi.loc[s]) for s in names if s != name],
                star={"teff_k": float(k["koi_steff"]), "logg_cgs": float(k["koi_slogg"]),
                      "radius_rsun": float(k["koi_srad"])}))
    return cases


def koi_case(shared_data: Path, koi: str) -> KoiCase:
    """The first case of ``koi``."""
    return next(c for c in koi_cases(shared_data) if c.koi == koi)
