"""Target pixel files (Kepler/K2/TESS TPF FITS) and the pixel-level products of candidates.

A TPF is read with lightkurve's reader (``lightkurve.read``: ``KeplerTargetPixelFile`` or
``TessTargetPixelFile``, the missions' default quality bitmask applied), stored as ``.npz``
through Django's storage with its sha256 (a re-import finds the same row), and every candidate
of its star with a complete ephemeris gets, from all the star's TPFs:

* the pixel metrics of :func:`classifier.pixels.pixel_diagnostics` (combined over quarters or
  sectors, :func:`classifier.pixels.combine_diagnostics`) merged into ``Candidate.features``
  under :data:`classifier.pixels.PIXEL_METRIC_NAMES`;
* ``Candidate.pixel_payload``: the mean and difference images with the target and centroid
  positions and the verdict, for :mod:`classifier.pixel_plots`.

Catalog centroid statistics (Kepler DV offsets in the KOI and TCE tables) reach the same
metric names through :func:`apply_catalog_centroids`, unless a TPF already measured them.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import transaction
from django.utils import timezone

from classifier import pixels
from classifier.jsonutil import json_floats, json_number
from classifier.timesystems import epoch_in_system
from vetting.candidates.features import FEATURE_FIELDS, features_set
from vetting.candidates.importers.errors import BadFileError, ImportReport
from vetting.candidates.importers.fits import _mission, _star_id
from vetting.candidates.importers.lightcurves import MISSION_TIME_SYSTEMS, STAR_FIELDS, save_with_data
from vetting.candidates.models import Candidate, Mission, Target, TargetPixelFile

logger = logging.getLogger(__name__)

#: Version of ``Candidate.pixel_payload``.
PIXEL_PAYLOAD_VERSION = 1
#: A metric present only when a TPF was analysed: catalog statistics never overwrite such rows.
TPF_MARKER = "pixel_n_transits"


@dataclass
class TpfArrays:
    """A TPF read from a file, before storage. ``flux``/``flux_err`` (n, n_rows, n_cols) e-/s;
    ``time`` (n,) days in ``time_system``; ``quality`` (n,); ``aperture`` (n_rows, n_cols) int32
    bits; ``target_px`` ``(column, row)`` of the target from the WCS (None without one)."""

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    aperture: np.ndarray
    mission: str
    target_catalog_id: str
    time_system: str
    quarter: int | None = None
    sector: int | None = None
    cadence_s: float | None = None
    ccd_origin: tuple[int | None, int | None] = (None, None)
    target_px: tuple[float, float] | None = None
    pixel_scale_arcsec: float | None = None
    wcs: dict = field(default_factory=dict)
    source: str = "fits"
    original_filename: str = ""
    star: dict = field(default_factory=dict)


def _wcs_position(tpf) -> tuple[tuple[float, float] | None, float | None, dict]:
    """Target ``(column, row)``, arcsec per pixel and the WCS keywords; Nones when unusable."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = tpf.wcs
            if not wcs.has_celestial or tpf.ra is None or tpf.dec is None:
                return None, None, {}
            x, y = wcs.world_to_pixel_values(float(tpf.ra), float(tpf.dec))
            scale = float(np.mean(proj_plane_pixel_scales(wcs.celestial)) * 3600.0)
            cards = {k: (v if isinstance(v, str) else json_number(v)) for k, v in wcs.to_header().items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, None, {}
    if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(scale) and scale > 0):
        return None, None, {}
    return (float(x), float(y)), scale, cards


def read_tpf(path: Path, *, mission: str | None = None, source: str = "fits",
             original_filename: str = "") -> TpfArrays:
    """Read one TPF FITS file with lightkurve; BadFileError for anything unusable."""
    import lightkurve as lk
    from lightkurve.utils import LightkurveError

    name = original_filename or path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tpf = lk.read(str(path))
            if not isinstance(tpf, lk.targetpixelfile.TargetPixelFile):
                raise BadFileError(f"{name}: not a target pixel file (lightkurve read a {type(tpf).__name__})")
            primary = tpf.hdu[0].header
            mission_code = _mission(primary, mission)
            star_id = _star_id(primary, mission_code)
            time = np.asarray(tpf.time.value, float)
            flux = np.asarray(tpf.flux.value, "<f4")
            flux_err = np.asarray(tpf.flux_err.value, "<f4")
            quality = np.asarray(tpf.quality, np.int32)
            aperture = np.asarray(tpf.hdu[2].data if len(tpf.hdu) > 2 and tpf.hdu[2].data is not None
                                  else np.where(tpf.pipeline_mask, 3, 1), np.int32)
            table = tpf.hdu[1].header
            timedel = json_number(table.get("TIMEDEL"))
            target_px, scale, cards = _wcs_position(tpf)
            origin = (table.get("1CRV5P"), table.get("2CRV5P"))
            quarter, sector = primary.get("QUARTER"), primary.get("SECTOR")
            star = {"ra_deg": json_number(primary.get("RA_OBJ")), "dec_deg": json_number(primary.get("DEC_OBJ")),
                    "magnitude": json_number(primary.get("TESSMAG" if mission_code == Mission.TESS else "KEPMAG")),
                    "teff_k": json_number(primary.get("TEFF")), "logg_cgs": json_number(primary.get("LOGG")),
                    "radius_rsun": json_number(primary.get("RADIUS"))}
            tpf.hdu.close()
    except BadFileError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, LightkurveError) as exc:
        raise BadFileError(f"{name}: not a readable target pixel file ({type(exc).__name__}: {exc})") from exc
    if flux.ndim != 3 or flux.shape[0] != time.size or time.size == 0:
        raise BadFileError(f"{name}: the FLUX column is not a (cadences, rows, columns) cube with a TIME each")
    keep = np.isfinite(time)
    if not np.isfinite(flux[keep]).any():
        raise BadFileError(f"{name}: no finite pixel flux")
    if aperture.shape != flux.shape[1:]:
        aperture = np.full(flux.shape[1:], 3, np.int32)
    order = np.argsort(time[keep], kind="stable")
    return TpfArrays(
        time=time[keep][order], flux=flux[keep][order], flux_err=flux_err[keep][order],
        quality=quality[keep][order], aperture=aperture, mission=mission_code, target_catalog_id=star_id,
        time_system=MISSION_TIME_SYSTEMS[mission_code],
        quarter=int(quarter) if isinstance(quarter, (int, np.integer)) and mission_code != Mission.TESS else None,
        sector=int(sector) if isinstance(sector, (int, np.integer)) else None,
        cadence_s=round(timedel * 86400.0, 3) if timedel else None,
        ccd_origin=tuple(int(v) if isinstance(v, (int, np.integer)) else None for v in origin),
        target_px=target_px, pixel_scale_arcsec=scale, wcs=cards, source=source, original_filename=name,
        star={k: v for k, v in star.items() if v is not None})


def _npz(arrays: dict[str, np.ndarray]) -> tuple[bytes, str]:
    import hashlib
    import io

    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), digest.hexdigest()


def store_tpf(*, target: Target, tpf: TpfArrays) -> tuple[TargetPixelFile, bool]:
    """The TargetPixelFile row of these arrays: the existing one if the content hash is known,
    else a new row and file. Returns ``(row, created)``."""
    payload, sha = _npz({"time": np.asarray(tpf.time, "<f8"), "flux": np.asarray(tpf.flux, "<f4"),
                         "flux_err": np.asarray(tpf.flux_err, "<f4"), "quality": np.asarray(tpf.quality, "<i4"),
                         "aperture": np.asarray(tpf.aperture, "<i4")})
    existing = TargetPixelFile.objects.filter(target=target, sha256=sha).first()
    if existing is not None:
        return existing, False
    n, n_rows, n_cols = tpf.flux.shape
    row = TargetPixelFile(
        target=target, mission=tpf.mission, sector=tpf.sector, quarter=tpf.quarter, cadence_s=tpf.cadence_s,
        time_system=tpf.time_system, n_cadences=n, n_rows=n_rows, n_cols=n_cols, ccd_column=tpf.ccd_origin[0],
        ccd_row=tpf.ccd_origin[1], target_column_px=tpf.target_px[0] if tpf.target_px else None,
        target_row_px=tpf.target_px[1] if tpf.target_px else None, pixel_scale_arcsec=tpf.pixel_scale_arcsec,
        wcs=tpf.wcs, source=tpf.source, original_filename=tpf.original_filename[:255], sha256=sha)
    return save_with_data(row, payload=payload, sha=sha), True


# --- products -----------------------------------------------------------------------------------

def diagnostics_payload(result: pixels.PixelDiagnostics, *, source: dict | None = None) -> dict:
    """``Candidate.pixel_payload`` from one TPF's diagnostics (JSON: images as nested lists,
    4 significant digits, NaN as None; positions ``[column, row]`` pixels)."""
    def image(values) -> list:
        return [json_floats(row, digits=4) for row in np.asarray(values, float)]

    def point(p) -> list | None:
        return None if p is None else [round(float(p[0]), 3), round(float(p[1]), 3)]

    return {"version": PIXEL_PAYLOAD_VERSION, "mean_image": image(result.mean_image),
            "diff_image": image(result.diff_image),
            "aperture": None if result.aperture is None else np.asarray(result.aperture, int).tolist(),
            "target_px": point(result.target_px), "oot_centroid_px": point(result.oot_centroid_px),
            "diff_centroid_px": point(result.diff_centroid_px), "pixel_scale_arcsec": result.pixel_scale_arcsec,
            "verdict": result.verdict, "notes": list(result.notes), "source": source or {}}


def candidate_pixel_products(candidate: Candidate, rows: list[TargetPixelFile]) -> tuple[dict, dict | None, list[str]]:
    """Pixel metrics, payload and warnings of ``candidate`` from the TPF ``rows`` of its star.

    Each TPF is analysed in its own time system (the candidate's epoch converted); results are
    combined over TPFs; the payload shows the TPF whose difference image has the highest SNR.
    """
    if not (candidate.period_days and candidate.epoch is not None and candidate.duration_hours):
        return {}, None, [f"{candidate}: no complete ephemeris; no pixel diagnostics"]
    results, warnings_out = [], []
    for row in rows:
        arrays = row.load_arrays()
        target_px = (row.target_column_px, row.target_row_px) if row.target_column_px is not None else None
        scale = row.pixel_scale_arcsec or pixels.ARCSEC_PER_PIXEL.get(row.mission, 3.98)
        try:
            result = pixels.pixel_diagnostics(
                arrays["time"], arrays["flux"], period_days=candidate.period_days,
                epoch=epoch_in_system(candidate.epoch, candidate.epoch_system, row.time_system),
                duration_hours=candidate.duration_hours, target_px=target_px,
                aperture=(arrays["aperture"] & 2) > 0, pixel_scale_arcsec=scale)
        except pixels.PixelError as exc:
            warnings_out.append(f"{candidate} in {row}: {exc}")
            continue
        results.append((row, result))
    if not results:
        return {}, None, warnings_out
    metrics = pixels.combine_diagnostics([r for _, r in results])
    best_row, best = max(results, key=lambda item: item[1].metrics.get("diff_image_snr") or -1.0)
    payload = diagnostics_payload(best, source={
        "mission": best_row.mission, "quarter": best_row.quarter, "sector": best_row.sector,
        "filename": best_row.original_filename, "n_tpfs": len(results)})
    payload["verdict"] = pixels.offset_verdict(metrics)
    return {k: json_number(v) for k, v in metrics.items()}, payload, warnings_out


def merge_pixel_metrics(features: dict | None, metrics: dict) -> dict:
    """``features`` with the pixel metrics replaced by ``metrics`` (other metrics untouched)."""
    kept = {k: v for k, v in (features or {}).items() if k not in pixels.PIXEL_METRIC_NAMES}
    return kept | {k: v for k, v in metrics.items() if v is not None}


def kept_pixel_metrics(features: dict | None) -> dict:
    """The pixel metrics among ``features`` (a light-curve recompute keeps them)."""
    return {k: v for k, v in (features or {}).items() if k in pixels.PIXEL_METRIC_NAMES}


def import_tpf(*, path: Path, mission: str | None = None, source: str = "fits",
               original_filename: str = "") -> ImportReport:
    """Read a TPF (nothing is written if it is unusable), store it, and compute the pixel
    products of its star's candidates from all the star's TPFs. Atomic."""
    tpf = read_tpf(path, mission=mission, source=source, original_filename=original_filename)
    report = ImportReport(kind="tpf", source=tpf.original_filename)
    with transaction.atomic():
        target, created = Target.objects.get_or_create(
            mission=tpf.mission, catalog_id=tpf.target_catalog_id,
            defaults={k: v for k, v in tpf.star.items() if k in STAR_FIELDS})
        report.counts["targets_created" if created else "targets_existing"] += 1
        _, tpf_created = store_tpf(target=target, tpf=tpf)
        report.counts["tpfs_created" if tpf_created else "tpfs_existing"] += 1
        pixel_products_update(target=target, report=report)
    return report.finish()


def pixel_products_update(*, target: Target, report: ImportReport) -> None:
    """(Re)compute the pixel products of every candidate of ``target`` from its stored TPFs."""
    rows = list(TargetPixelFile.objects.filter(target=target).order_by("pk"))
    candidates = list(Candidate.objects.select_related("target").filter(target=target).order_by("pk"))
    if not candidates:
        report.warnings.append(f"{target}: no candidate on this star yet; pixel diagnostics are computed when "
                               "the TPF is imported again after the candidate")
    for candidate in candidates:
        metrics, payload, notes = candidate_pixel_products(candidate, rows)
        report.warnings.extend(notes)
        if payload is None:
            continue
        features_set(candidate, merge_pixel_metrics(candidate.features, metrics))
        candidate.pixel_payload = payload
        candidate.save(update_fields=[*FEATURE_FIELDS, "pixel_payload", "updated_at"])
        report.counts["pixel_products_computed"] += 1


def apply_catalog_centroids(*, table: str, candidate_ids: list[int]) -> int:
    """Write the catalog's DV centroid offsets (:func:`classifier.pixels.catalog_centroid_metrics`)
    into ``features`` of these candidates, except where a TPF measured them. Returns the count."""
    from classifier.catalogs import CENTROID_COLUMNS

    if table not in CENTROID_COLUMNS or not candidate_ids:
        return 0
    changed = []
    now = timezone.now()
    for candidate in Candidate.objects.filter(pk__in=candidate_ids).only("pk", *FEATURE_FIELDS, "catalog_features"):
        metrics = pixels.catalog_centroid_metrics(table, candidate.catalog_features)
        if not metrics or TPF_MARKER in (candidate.features or {}):
            continue
        merged = merge_pixel_metrics(candidate.features, metrics)
        if merged != candidate.features:
            features_set(candidate, merged)
            candidate.updated_at = now
            changed.append(candidate)
    Candidate.objects.bulk_update(changed, [*FEATURE_FIELDS, "updated_at"], batch_size=1000)
    return len(changed)
