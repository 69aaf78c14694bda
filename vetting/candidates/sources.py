"""Pluggable light-curve sources, named in ``settings.VETTING_LIGHTCURVE_SOURCE``.

A source finds a target's light curves and returns them as local FITS paths (or
:class:`~vetting.candidates.importers.lightcurves.LightCurveArrays`); the import itself is the
same as for an uploaded FITS file. Tests swap the source with ``override_settings`` or
monkeypatch ``lightkurve.search_lightcurve`` (there is no network in CI).

* :class:`MastLightCurveSource` - MAST through ``lightkurve.search_lightcurve(...).download_all()``.
* :class:`LocalDirectorySource` - FITS files in a folder (``VETTING_LIGHTCURVE_DIR``), matched
  by the ``KEPLERID``/``TICID`` header.
* :class:`MastTargetPixelSource` - target pixel files from MAST through
  ``lightkurve.search_targetpixelfile`` (``settings.VETTING_TPF_SOURCE``), imported by
  :func:`fetch_and_import_tpfs`.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

from vetting.candidates.importers.errors import ImportFailed, ImportReport
from vetting.candidates.models import Candidate, Mission, Target

logger = logging.getLogger(__name__)

#: lightkurve's mission names.
LK_MISSIONS = {Mission.KEPLER: "Kepler", Mission.K2: "K2", Mission.TESS: "TESS"}


class SourceUnavailable(ImportFailed):
    """The source could not be reached or answered with an error (transient: try again later)."""


class LightCurveSource:
    """Base class: ``fetch(target, *, mission, sectors, quarters) -> list[Path | LightCurveArrays]``."""

    name = "source"

    def fetch(self, target: Target, *, mission: str | None = None, sectors: list[int] | None = None,
              quarters: list[int] | None = None) -> list:
        """Light curves of ``target``: FITS paths on local disk or LightCurveArrays; [] if none."""
        raise NotImplementedError


class LocalDirectorySource(LightCurveSource):
    """FITS files in ``directory`` (default ``settings.VETTING_LIGHTCURVE_DIR``) whose header
    names the target."""

    name = "local"

    def __init__(self, directory: str | Path | None = None):
        directory = directory or settings.VETTING_LIGHTCURVE_DIR
        if not directory:
            raise ImportFailed("LocalDirectorySource needs a directory (set VETTING_LIGHTCURVE_DIR)")
        self.directory = Path(directory)

    def fetch(self, target, *, mission=None, sectors=None, quarters=None) -> list[Path]:
        from astropy.io import fits

        wanted = int(target.catalog_id.split()[-1])
        key = "TICID" if (mission or target.mission) == Mission.TESS else "KEPLERID"
        found = []
        for path in sorted(self.directory.glob("*.fits")):
            try:
                header = fits.getheader(path, 0)
            except (OSError, ValueError):
                logger.warning("skipping unreadable FITS file %s", path)
                continue
            if header.get(key) is None or int(header[key]) != wanted:
                continue
            if quarters and header.get("QUARTER") not in quarters:
                continue
            if sectors and header.get("SECTOR") not in sectors:
                continue
            found.append(path)
        return found


class MastLightCurveSource(LightCurveSource):
    """Mission light curves from MAST via lightkurve (SPOC/Kepler pipeline products).

    ``author`` defaults to the mission pipeline (``Kepler``, ``K2``, ``SPOC``); ``exptime``
    ``"long"`` (Kepler 30 min, TESS 2 min SPOC) unless given. Files are cached by lightkurve
    in ``download_dir`` (default ``MEDIA_ROOT/mast-cache``).
    """

    name = "mast"

    def __init__(self, *, author: str | None = None, exptime: str | int | None = None,
                 download_dir: str | Path | None = None):
        self.author = author
        self.exptime = exptime
        self.download_dir = Path(download_dir or Path(settings.MEDIA_ROOT) / "mast-cache")

    def fetch(self, target, *, mission=None, sectors=None, quarters=None) -> list[Path]:
        import lightkurve as lk

        mission = mission or target.mission
        if mission not in LK_MISSIONS:
            raise ImportFailed(f"MAST has no {mission!r} light curves (expected kepler, k2 or tess)")
        author = self.author or {"kepler": "Kepler", "k2": "K2", "tess": "SPOC"}[mission]
        query = {"mission": LK_MISSIONS[mission], "author": author}
        if self.exptime is not None:
            query["exptime"] = self.exptime
        if quarters:
            query["quarter"] = list(quarters)
        if sectors:
            query["sector"] = list(sectors)
        try:
            result = lk.search_lightcurve(target.catalog_id, **query)
            if len(result) == 0:
                return []
            self.download_dir.mkdir(parents=True, exist_ok=True)
            collection = result.download_all(download_dir=str(self.download_dir))
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise SourceUnavailable(f"MAST did not answer for {target}: {exc}") from exc
        except Exception as exc:  # astroquery/lightkurve raise many types for remote failures
            raise SourceUnavailable(f"MAST search/download failed for {target}: {type(exc).__name__}: {exc}") from exc
        paths = []
        for lc in collection or []:
            filename = lc.meta.get("FILENAME")
            if filename and Path(filename).exists():
                paths.append(Path(filename))
            else:
                logger.warning("lightkurve returned a light curve of %s without a local file; skipped", target)
        return paths


class TargetPixelSource:
    """Base class of target-pixel-file sources (``settings.VETTING_TPF_SOURCE``):
    ``fetch(target, *, mission, sectors, quarters) -> list[Path]`` of local TPF FITS files."""

    name = "source"

    def fetch(self, target: Target, *, mission: str | None = None, sectors: list[int] | None = None,
              quarters: list[int] | None = None) -> list[Path]:
        raise NotImplementedError


class MastTargetPixelSource(TargetPixelSource):
    """Mission target pixel files from MAST via ``lightkurve.search_targetpixelfile(...).download_all()``
    (author and cadence as :class:`MastLightCurveSource`; cached in ``MEDIA_ROOT/mast-cache``)."""

    name = "mast"

    def __init__(self, *, author: str | None = None, exptime: str | int | None = None,
                 download_dir: str | Path | None = None):
        self.author = author
        self.exptime = exptime
        self.download_dir = Path(download_dir or Path(settings.MEDIA_ROOT) / "mast-cache")

    def fetch(self, target, *, mission=None, sectors=None, quarters=None) -> list[Path]:
        import lightkurve as lk

        mission = mission or target.mission
        if mission not in LK_MISSIONS:
            raise ImportFailed(f"MAST has no {mission!r} target pixel files (expected kepler, k2 or tess)")
        query = {"mission": LK_MISSIONS[mission],
                 "author": self.author or {"kepler": "Kepler", "k2": "K2", "tess": "SPOC"}[mission]}
        if self.exptime is not None:
            query["exptime"] = self.exptime
        if quarters:
            query["quarter"] = list(quarters)
        if sectors:
            query["sector"] = list(sectors)
        try:
            result = lk.search_targetpixelfile(target.catalog_id, **query)
            if len(result) == 0:
                return []
            self.download_dir.mkdir(parents=True, exist_ok=True)
            collection = result.download_all(download_dir=str(self.download_dir))
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise SourceUnavailable(f"MAST did not answer for {target}: {exc}") from exc
        except Exception as exc:  # astroquery/lightkurve raise many types for remote failures
            raise SourceUnavailable(f"MAST search/download failed for {target}: {type(exc).__name__}: {exc}") from exc
        paths = []
        for tpf in collection or []:
            path = getattr(tpf, "path", None)
            if isinstance(path, (str, Path)) and Path(path).exists():
                paths.append(Path(path))
            else:
                logger.warning("lightkurve returned a target pixel file of %s without a local file; skipped", target)
        return paths


def get_tpf_source(dotted_path: str | None = None) -> TargetPixelSource:
    """An instance of the configured TPF source class (``settings.VETTING_TPF_SOURCE``)."""
    return import_string(dotted_path or settings.VETTING_TPF_SOURCE)()


def fetch_and_import_tpfs(*, candidate: Candidate, source: TargetPixelSource | None = None,
                          mission: str | None = None, sectors: list[int] | None = None,
                          quarters: list[int] | None = None) -> ImportReport:
    """Fetch the target pixel files of ``candidate``'s star and import each (the same path as
    an uploaded TPF: the star's candidates get their pixel diagnostics there)."""
    from vetting.candidates.importers.tpf import import_tpf

    source = source or get_tpf_source()
    target = candidate.target
    report = ImportReport(kind="fetch_tpf", source=f"{source.name}:{target}")
    paths = source.fetch(target, mission=mission, sectors=sectors, quarters=quarters)
    if not paths:
        report.warnings.append(f"{source.name}: no target pixel files found for {target}")
    for path in paths:
        part = import_tpf(path=Path(path), mission=mission or target.mission, source=source.name)
        report.counts.update(part.counts)
        report.warnings.extend(part.warnings)
    report.counts["files_fetched"] = len(paths)
    return report.finish()


def get_source(dotted_path: str | None = None) -> LightCurveSource:
    """An instance of the configured source class (``settings.VETTING_LIGHTCURVE_SOURCE``)."""
    cls = import_string(dotted_path or settings.VETTING_LIGHTCURVE_SOURCE)
    return cls()


def fetch_and_import(*, candidate: Candidate, source: LightCurveSource | None = None, mission: str | None = None,
                     sectors: list[int] | None = None, quarters: list[int] | None = None) -> ImportReport:
    """Fetch the light curves of ``candidate``'s target and import each one (same path as an
    uploaded FITS file; the candidate's views, features and plot payload are computed there)."""
    from vetting.candidates.importers.fits import import_fits
    from vetting.candidates.importers.lightcurves import LightCurveArrays, import_arrays

    source = source or get_source()
    target = candidate.target
    report = ImportReport(kind="fetch", source=f"{source.name}:{target}")
    items = source.fetch(target, mission=mission, sectors=sectors, quarters=quarters)
    if not items:
        report.warnings.append(f"{source.name}: no light curves found for {target}")
    for item in items:
        if isinstance(item, LightCurveArrays):
            part = import_arrays(lc=item)
        else:
            part = import_fits(path=Path(item), mission=mission or target.mission, source=source.name)
        report.counts.update(part.counts)
        report.warnings.extend(part.warnings)
    report.counts["files_fetched"] = len(items)
    return report.finish()
