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


class _MastDownloads:
    """What the MAST sources share: author/cadence/cache options and the search-then-download
    step (``search`` is ``lightkurve.search_lightcurve`` or ``search_targetpixelfile``)."""

    def __init__(self, *, author: str | None = None, exptime: str | int | None = None,
                 download_dir: str | Path | None = None):
        self.author = author
        self.exptime = exptime
        self.download_dir = Path(download_dir or Path(settings.MEDIA_ROOT) / "mast-cache")

    def _search_and_download(self, search, target, *, what: str, mission=None, sectors=None,
                             quarters=None) -> list:
        """lightkurve's downloaded collection for ``target`` ([] when the search finds nothing);
        ``what`` names the products in the error for a mission MAST does not serve."""
        mission = mission or target.mission
        if mission not in LK_MISSIONS:
            raise ImportFailed(f"MAST has no {mission!r} {what} (expected kepler, k2 or tess)")
        author = self.author or {"kepler": "Kepler", "k2": "K2", "tess": "SPOC"}[mission]
        query = {"mission": LK_MISSIONS[mission], "author": author}
        if self.exptime is not None:
            query["exptime"] = self.exptime
        if quarters:
            query["quarter"] = list(quarters)
        if sectors:
            query["sector"] = list(sectors)
        try:
            result = search(target.catalog_id, **query)
            if len(result) == 0:
                return []
            self.download_dir.mkdir(parents=True, exist_ok=True)
            collection = result.download_all(download_dir=str(self.download_dir))
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise SourceUnavailable(f"MAST did not answer for {target}: {exc}") from exc
        except Exception as exc:  # astroquery/lightkurve raise many types for remote failures
            raise SourceUnavailable(f"MAST search/download failed for {target}: {type(exc).__name__}: {exc}") from exc
        return collection or []

    @staticmethod
    def _local_files(collection, target, *, what: str, path_of) -> list[Path]:
        """The local files of the downloaded products (``path_of(product)``: its path or None);
        a product without an existing local file is logged (``what`` names it) and skipped."""
        paths = []
        for product in collection:
            path = path_of(product)
            if path is not None and Path(path).exists():
                paths.append(Path(path))
            else:
                logger.warning("lightkurve returned a %s of %s without a local file; skipped", what, target)
        return paths


class MastLightCurveSource(_MastDownloads, LightCurveSource):
    """Mission light curves from MAST via lightkurve (SPOC/Kepler pipeline products).

    ``author`` defaults to the mission pipeline (``Kepler``, ``K2``, ``SPOC``); ``exptime``
    ``"long"`` (Kepler 30 min, TESS 2 min SPOC) unless given. Files are cached by lightkurve
    in ``download_dir`` (default ``MEDIA_ROOT/mast-cache``).
    """

    name = "mast"

    def fetch(self, target, *, mission=None, sectors=None, quarters=None) -> list[Path]:
        import lightkurve as lk

        collection = self._search_and_download(lk.search_lightcurve, target, what="light curves",
                                               mission=mission, sectors=sectors, quarters=quarters)
        return self._local_files(collection, target, what="light curve",
                                 path_of=lambda lc: lc.meta.get("FILENAME") or None)


class TargetPixelSource:
    """Base class of target-pixel-file sources (``settings.VETTING_TPF_SOURCE``):
    ``fetch(target, *, mission, sectors, quarters) -> list[Path]`` of local TPF FITS files."""

    name = "source"

    def fetch(self, target: Target, *, mission: str | None = None, sectors: list[int] | None = None,
              quarters: list[int] | None = None) -> list[Path]:
        raise NotImplementedError


class MastTargetPixelSource(_MastDownloads, TargetPixelSource):
    """Mission target pixel files from MAST via ``lightkurve.search_targetpixelfile(...).download_all()``
    (author and cadence as :class:`MastLightCurveSource`; cached in ``MEDIA_ROOT/mast-cache``)."""

    name = "mast"

    def fetch(self, target, *, mission=None, sectors=None, quarters=None) -> list[Path]:
        import lightkurve as lk

        collection = self._search_and_download(lk.search_targetpixelfile, target, what="target pixel files",
                                               mission=mission, sectors=sectors, quarters=quarters)
        def path_of(tpf):
            path = getattr(tpf, "path", None)
            return path if isinstance(path, (str, Path)) else None

        return self._local_files(collection, target, what="target pixel file", path_of=path_of)


def get_tpf_source(dotted_path: str | None = None) -> TargetPixelSource:
    """An instance of the configured TPF source class (``settings.VETTING_TPF_SOURCE``)."""
    return import_string(dotted_path or settings.VETTING_TPF_SOURCE)()


def fetch_and_import_tpfs(*, candidate: Candidate, source: TargetPixelSource | None = None,
                          mission: str | None = None, sectors: list[int] | None = None,
                          quarters: list[int] | None = None) -> ImportReport:
    """Fetch the target pixel files of ``candidate``'s star and import each (the same path as
    an uploaded TPF: the star's candidates get their pixel diagnostics there)."""
    from vetting.candidates.importers.tpf import import_tpf

    return _fetch_and_import_each(
        candidate=candidate, source=source or get_tpf_source(), kind="fetch_tpf", what="target pixel files",
        import_one=lambda path, mission, source_name: import_tpf(path=Path(path), mission=mission,
                                                                  source=source_name),
        mission=mission, sectors=sectors, quarters=quarters)


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

    def import_one(item, mission, source_name):
        if isinstance(item, LightCurveArrays):
            return import_arrays(lc=item)
        return import_fits(path=Path(item), mission=mission, source=source_name)

    return _fetch_and_import_each(candidate=candidate, source=source or get_source(), kind="fetch",
                                  what="light curves", import_one=import_one,
                                  mission=mission, sectors=sectors, quarters=quarters)


def _fetch_and_import_each(*, candidate: Candidate, source, kind: str, what: str, import_one,
                           mission: str | None, sectors: list[int] | None,
                           quarters: list[int] | None) -> ImportReport:
    """Fetch ``candidate``'s target's products from ``source`` and import each with
    ``import_one(item, mission, source_name)``; one report of them all (``what`` names the
    products in the warning when there are none)."""
    target = candidate.target
    report = ImportReport(kind=kind, source=f"{source.name}:{target}")
    items = source.fetch(target, mission=mission, sectors=sectors, quarters=quarters)
    if not items:
        report.warnings.append(f"{source.name}: no {what} found for {target}")
    for item in items:
        part = import_one(item, mission or target.mission, source.name)
        report.counts.update(part.counts)
        report.warnings.extend(part.warnings)
    report.counts["files_fetched"] = len(items)
    return report.finish()
