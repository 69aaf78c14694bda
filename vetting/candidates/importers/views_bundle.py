"""Pre-folded TESS views in the Astronet-Triage layout (Yu et al. 2019).

A folder with ``candidates.csv`` (one row per TCE; key ``candidate_id``, star ``tic_id``) and
``views.npz`` (``candidate_id``, ``global_view`` float32 (N, 201), ``local_view`` float32
(N, 61)). Each row becomes a Target (``TIC <tic_id>``) and a Candidate (source ``tess_tce``,
``catalog_id = candidate_id``) with its views as float32 bytes and a views-only plot payload.
Columns and units (:mod:`classifier.catalogs`, shared with ``python -m classifier``): ``epoch_btjd``
BTJD, ``duration_days`` -> hours, ``transit_depth_ppm`` ppm.
Labels (``label_orig_6class``, else ``label_4class``) become catalog labels only when asked.
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from classifier import catalogs
from classifier.dispositions import astronet_class
from classifier.lightcurves import GLOBAL_VIEW_BINS, LOCAL_VIEW_BINS
from vetting.candidates.importers.archive import _num, _positive, numeric_cells, read_table
from vetting.candidates.importers.errors import BadFileError, ImportReport, RowError, RowValueError
from vetting.candidates.importers.labels import write_catalog_labels
from vetting.candidates.importers.products import view_bytes
from vetting.candidates.importers.upsert import upsert_candidates, upsert_targets
from vetting.candidates.models import Candidate, Mission, SourceCatalog, TimeSystem
from vetting.candidates.uploads import VIEWS_BUNDLE_MEMBERS

REQUIRED = ("candidate_id", "tic_id")
_TARGET_COLUMNS = catalogs.ASTRONET_STAR_COLUMNS
_COLUMNS = catalogs.ASTRONET_CANDIDATE_COLUMNS
_DURATION_DAYS = catalogs.ASTRONET_DURATION_DAYS_COLUMN
_TEXT_COLUMNS = {"candidate_id", "label_4class", "label_orig_6class", "split", "toi_id", "tic_id", "row_id"}
BATCH = 2000


def read_views(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(candidate ids, global (N, 201), local (N, 61))`` from ``views.npz``; BadFileError if
    unreadable or of the wrong shape. Never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"candidate_id", "global_view", "local_view"} - set(npz.files)
            if missing:
                raise BadFileError(f"{path.name}: missing array(s) {', '.join(sorted(missing))}")
            ids = [str(x) for x in npz["candidate_id"]]
            global_views = np.asarray(npz["global_view"], dtype="<f4")
            local_views = np.asarray(npz["local_view"], dtype="<f4")
    except BadFileError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise BadFileError(f"{path.name}: not a readable .npz file ({exc})") from exc
    if global_views.shape != (len(ids), GLOBAL_VIEW_BINS) or local_views.shape != (len(ids), LOCAL_VIEW_BINS):
        raise BadFileError(f"{path.name}: global_view must be (N, {GLOBAL_VIEW_BINS}) and "
                           f"local_view (N, {LOCAL_VIEW_BINS}) "
                           f"with N = {len(ids)} ids; got {global_views.shape} and {local_views.shape}")
    return ids, global_views, local_views


def import_views_folder(*, folder: Path, with_catalog_labels: bool = False, progress=None) -> ImportReport:
    """Import ``folder/candidates.csv`` + ``folder/views.npz`` (see the module docstring)."""
    from classifier.plots import views_payload

    csv_path, npz_path = folder / "candidates.csv", folder / "views.npz"
    for path in (csv_path, npz_path):
        if not path.is_file():
            raise BadFileError(f"{folder.name}: {path.name} is missing "
                               "(a views bundle has candidates.csv and views.npz)")
    header, rows = read_table(csv_path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadFileError(f"candidates.csv: missing required column(s): {', '.join(missing)}")
    ids, global_views, local_views = read_views(npz_path)
    index = {cid: i for i, cid in enumerate(ids)}
    report = ImportReport(kind="views", source=folder.name)
    report.counts["rows"] = len(rows)
    target_fields = [f for f, c in _TARGET_COLUMNS.items() if c in header]
    feature_columns = [c for c in header if c not in _TEXT_COLUMNS]
    targets, parsed, labels = {}, [], {}
    for line, row in rows:
        if None in row:
            report.errors.append(RowError(line, "(row)", row[None]))
            continue
        cid = (row.get("candidate_id") or "").strip()
        try:
            if not cid:
                raise RowValueError("candidate_id", "is empty (required)")
            if cid not in index:
                raise RowValueError("candidate_id", f"{cid!r} has no views in views.npz")
            g, loc = global_views[index[cid]], local_views[index[cid]]
            if not (np.isfinite(g).all() and np.isfinite(loc).all()):
                raise RowValueError("candidate_id", f"the views of {cid!r} in views.npz contain NaN")
            tic = _num(row, "tic_id", True)
            if tic != int(tic) or tic <= 0:
                raise RowValueError("tic_id", f"{row['tic_id']!r} is not a positive integer TIC id")
            star = {f: _num(row, _TARGET_COLUMNS[f]) for f in target_fields}
            duration_days = _positive(row, _DURATION_DAYS, False) if _DURATION_DAYS in row else None
            values = {
                "catalog_id": cid,
                "period_days": _positive(row, _COLUMNS["period_days"], False) if _COLUMNS["period_days"] in row
                else None,
                "epoch": _num(row, _COLUMNS["epoch"]) if _COLUMNS["epoch"] in row else None,
                "duration_hours": duration_days * 24.0 if duration_days else None,
                "depth_ppm": _num(row, _COLUMNS["depth_ppm"]) if _COLUMNS["depth_ppm"] in row else None,
                "snr": _num(row, _COLUMNS["snr"]) if _COLUMNS["snr"] in row else None,
            }
        except RowValueError as exc:
            report.errors.append(RowError(line, exc.column, exc.message, cid))
            continue
        key = (Mission.TESS, f"TIC {int(tic)}")
        targets[key] = star
        disposition = (row.get("label_orig_6class") or row.get("label_4class") or "").strip()
        values.update(catalog_disposition=disposition, catalog_features=numeric_cells(row, feature_columns),
                      global_view=view_bytes(g), local_view=view_bytes(loc),
                      plot_payload=views_payload(g, loc, period_days=values["period_days"],
                                                 duration_hours=values["duration_hours"]))
        parsed.append((key, values))
        code = astronet_class(row.get("label_4class", ""), row.get("label_orig_6class", ""))
        if code:
            labels[cid] = (code, f"Astronet-Triage label {disposition}")
    target_pks, counts = upsert_targets(targets, fields=target_fields)
    report.counts.update(counts)
    fields = ["target", "period_days", "epoch", "epoch_system", "duration_hours", "depth_ppm", "snr",
              "catalog_disposition", "catalog_features", "global_view", "local_view", "plot_payload"]
    pks: dict[str, int] = {}
    for start in range(0, len(parsed), BATCH):
        objs = [Candidate(target_id=target_pks[key], source_catalog=SourceCatalog.TESS_TCE,
                          epoch_system=TimeSystem.BTJD, **values) for key, values in parsed[start:start + BATCH]]
        batch_pks, counts = upsert_candidates(objs, fields=fields)
        pks.update(batch_pks)
        report.counts.update(counts)
        if progress:
            progress(min(start + BATCH, len(parsed)), len(parsed))
    if with_catalog_labels and labels:
        report.counts.update(write_catalog_labels(
            items=[(pks[cid], code, note) for cid, (code, note) in labels.items() if cid in pks]))
    return report.finish()


def import_views_path(*, path: Path, with_catalog_labels: bool = False, progress=None) -> ImportReport:
    """Import a views bundle given as a folder or a ``.zip`` of it (see :func:`import_views_folder`)."""
    if path.suffix.lower() == ".zip":
        with unzipped(path) as folder:
            return import_views_folder(folder=folder, with_catalog_labels=with_catalog_labels, progress=progress)
    return import_views_folder(folder=path, with_catalog_labels=with_catalog_labels, progress=progress)


@contextmanager
def unzipped(path: Path):
    """Extract a views bundle zip (only ``candidates.csv`` and ``views.npz``) to a temp folder."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadFileError(f"{path.name}: not a readable zip file ({exc})") from exc
    with archive, tempfile.TemporaryDirectory() as tmp:
        wanted = set(VIEWS_BUNDLE_MEMBERS)
        members = {Path(m).name: m for m in archive.namelist() if Path(m).name in wanted}
        missing = wanted - set(members)
        if missing:
            raise BadFileError(f"{path.name}: the zip must contain candidates.csv and views.npz "
                               f"(missing {', '.join(sorted(missing))})")
        for name, member in members.items():
            with archive.open(member) as src, open(Path(tmp) / name, "wb") as dst:  # never extract arbitrary paths
                shutil.copyfileobj(src, dst)
        yield Path(tmp)
