"""Kepler/K2/TESS light-curve FITS files (mission pipeline or lightkurve-written).

Read with astropy: flux column ``PDCSAP_FLUX``, else ``FLUX``, else ``SAP_FLUX``; quality
``SAP_QUALITY``/``QUALITY``; time ``TIME`` (BKJD for Kepler/K2, BTJD for TESS). The star comes
from ``KEPLERID``/``TICID`` (``KIC``/``EPIC``/``TIC`` prefix), quarter/sector and cadence from
the headers (cadence from ``TIMEDEL``, else the median time step).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from classifier.jsonutil import json_number
from vetting.candidates.importers.errors import BadFileError, ImportReport
from vetting.candidates.importers.lightcurves import MISSION_TIME_SYSTEMS, LightCurveArrays, import_arrays, normalised
from vetting.candidates.models import Mission

FLUX_COLUMNS = ("PDCSAP_FLUX", "FLUX", "SAP_FLUX")
QUALITY_COLUMNS = ("SAP_QUALITY", "QUALITY")
_MISSIONS = {"KEPLER": Mission.KEPLER, "K2": Mission.K2, "TESS": Mission.TESS}


def _mission(primary, override: str | None) -> str:
    if override:
        if override not in Mission.values or override == Mission.SIMULATED:
            raise BadFileError(f"unknown mission {override!r}; expected kepler, k2 or tess")
        return override
    for key in ("MISSION", "TELESCOP"):
        value = str(primary.get(key) or "").strip().upper()
        if value in _MISSIONS:
            return _MISSIONS[value]
    told = primary.get("MISSION") or primary.get("TELESCOP")
    raise BadFileError(f"unknown mission {told!r} in the FITS header (MISSION/TELESCOP); expected Kepler, K2 or TESS")


def _star_id(primary, mission: str) -> str:
    if mission == Mission.TESS:
        value, prefix = primary.get("TICID"), "TIC"
    else:
        value, prefix = primary.get("KEPLERID"), "EPIC" if mission == Mission.K2 else "KIC"
    if value is None:  # lightkurve-written files may only have OBJECT ("KIC 123" or "123")
        obj = str(primary.get("OBJECT") or "").split()
        value = obj[-1] if obj and obj[-1].isdigit() else None
    if value is None:
        raise BadFileError("the FITS header names no star (KEPLERID, TICID or OBJECT)")
    return f"{prefix} {int(value)}"


def _header_number(header, key) -> float | None:
    """A header value as a finite float, None when absent or not a number."""
    return json_number(header.get(key))


def read_fits(path: Path, *, mission: str | None = None, source: str = "fits",
              original_filename: str = "") -> LightCurveArrays:
    """Read and normalise one light-curve FITS file; BadFileError for anything unusable."""
    from astropy.io import fits

    name = original_filename or path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                primary = hdul[0].header
                table_hdu = next((h for h in hdul[1:]
                                  if getattr(h, "columns", None) is not None and "TIME" in h.columns.names), None)
                if table_hdu is None:
                    raise BadFileError(f"{name}: no light-curve table (a binary table with a TIME column)")
                columns = table_hdu.columns.names
                flux_column = next((c for c in FLUX_COLUMNS if c in columns), None)
                if flux_column is None:
                    raise BadFileError(f"{name}: no flux column (expected one of {', '.join(FLUX_COLUMNS)})")
                data = table_hdu.data
                time = np.array(data["TIME"], dtype=float)
                flux = np.array(data[flux_column], dtype=float)
                err_col = next((c for c in (f"{flux_column}_ERR", "FLUX_ERR") if c in columns), None)
                flux_err = np.array(data[err_col], dtype=float) if err_col else None
                q_col = next((c for c in QUALITY_COLUMNS if c in columns), None)
                quality = np.array(data[q_col]) if q_col else None
                table_header = table_hdu.header
                mission_code = _mission(primary, mission)
                star_id = _star_id(primary, mission_code)
                quarter = primary.get("QUARTER")
                sector = primary.get("SECTOR")
                timedel = _header_number(table_header, "TIMEDEL")
                star = {"ra_deg": _header_number(primary, "RA_OBJ"), "dec_deg": _header_number(primary, "DEC_OBJ"),
                        "magnitude": _header_number(primary, "TESSMAG" if mission_code == Mission.TESS else "KEPMAG"),
                        "teff_k": _header_number(primary, "TEFF"), "logg_cgs": _header_number(primary, "LOGG"),
                        "radius_rsun": _header_number(primary, "RADIUS")}
    except BadFileError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise BadFileError(f"{name}: not a readable FITS light curve ({type(exc).__name__}: {exc})") from exc
    time, flux, flux_err, quality = normalised(time, flux, flux_err, quality,
                                               what=f"light curve in {name} ({flux_column})")
    cadence_s = timedel * 86400.0 if timedel else (float(np.median(np.diff(time))) * 86400.0 if time.size > 1 else None)
    return LightCurveArrays(
        time=time, flux=flux, flux_err=flux_err, quality=quality, mission=mission_code,
        target_catalog_id=star_id, time_system=MISSION_TIME_SYSTEMS[mission_code],
        quarter=int(quarter) if isinstance(quarter, (int, np.integer)) and mission_code != Mission.TESS else None,
        sector=int(sector) if isinstance(sector, (int, np.integer)) else None,
        cadence_s=round(cadence_s, 3) if cadence_s else None, flux_column=flux_column, source=source,
        original_filename=name, star={k: v for k, v in star.items() if v is not None},
    )


def import_fits(*, path: Path, mission: str | None = None, source: str = "fits",
                original_filename: str = "") -> ImportReport:
    """Read a FITS file (nothing is written if it is unusable), store it, compute products."""
    lc = read_fits(path, mission=mission, source=source, original_filename=original_filename)
    report = ImportReport(kind="fits", source=lc.original_filename)
    return import_arrays(lc=lc, report=report)
