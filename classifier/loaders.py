"""Loaders of the public formats into a :class:`~classifier.dataset.Dataset`.

* A directory in the Astronet-Triage layout: ``candidates.csv`` + ``views.npz`` and, optionally,
  a ``lightcurves/`` folder with one ``<candidate_id>.npz`` per candidate (arrays ``time`` in
  BTJD days like ``epoch_btjd``, ``flux``, optional ``flux_err`` and ``quality``: the layout
  the site stores). Candidates with a light curve get the light-curve vetting metrics
  (``lc_*`` columns), computed by :func:`classifier.products.measure` exactly as the site
  does at import.
* NASA Exoplanet Archive tables (KOI cumulative, Kepler DR24/DR25 TCE, TESS TOI; ``#``
  comments), columns as in :mod:`classifier.catalogs`.

Why views alone give no ``lc_*`` metric: the metrics are defined on the time series in
physical units (depths and noise in ppm per point, odd/even transits, transit counts, a
trapezoid fit in hours); a view is normalised (median 0, transit minimum -1: no ppm), folds
every transit together (no odd/even, no count) and is median-binned (no per-point noise). What
views can tell is already in every design matrix as the view summary features (``lv_depth``,
``lv_flatness``, ``gv_secondary_ratio``, ...). Archive tables have neither light curves nor
views, so their ``lc_*`` and view columns are NaN.

Nothing here imports Django.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from classifier import catalogs, dispositions
from classifier.dataset import (
    GLOBAL_VIEW_BINS,
    LIGHTCURVE_SCALAR_NAMES,
    LOCAL_VIEW_BINS,
    CandidateRecord,
    Dataset,
    design_matrix,
)
from classifier.table_features import archive_table_features
from classifier.vocabulary import ASTRONET_TO_CLASS, validate_class

#: Sub-folder of an Astronet-layout directory holding ``<candidate_id>.npz`` light curves.
LIGHTCURVE_FOLDER = "lightcurves"

ASTRONET_REQUIRED_COLUMNS = ("candidate_id", "tic_id")


def load_astronet_dir(path: str | Path, *, fine_labels: bool = False) -> Dataset:
    """Load a directory in the Astronet-Triage layout.

    Parameters
    ----------
    path : path
        Directory holding ``candidates.csv`` (one row per TCE: ``candidate_id``, ``tic_id``,
        catalog columns, optional ``label_4class``/``label_orig_6class``) and ``views.npz``
        (``candidate_id``, ``global_view`` (N, 201), ``local_view`` (N, 61)); optionally
        ``lightcurves/<candidate_id>.npz`` (see the module docstring), which needs the
        ``period_days``, ``epoch_btjd`` and ``duration_days`` columns.
    fine_labels : bool
        If True and ``label_orig_6class`` is present, junk (J) is refined into V / IS / J.

    Returns
    -------
    Dataset
        ``y`` holds class codes (PC, EB, J; O maps to J) or None when no label column exists.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing files, missing columns, or views that do not match the CSV rows.
    """
    path = Path(path)
    csv_path, npz_path = path / "candidates.csv", path / "views.npz"
    for p in (csv_path, npz_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} not found: an Astronet-layout directory needs candidates.csv and views.npz")
    table = pd.read_csv(csv_path, comment=None)
    missing = [c for c in ASTRONET_REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{csv_path} lacks required column(s): {', '.join(missing)}")
    with np.load(npz_path, allow_pickle=False) as npz:
        for key in ("candidate_id", "global_view", "local_view"):
            if key not in npz.files:
                raise ValueError(f"{npz_path} lacks array {key!r} (has {', '.join(npz.files)})")
        view_ids = npz["candidate_id"].astype(str)
        global_views = npz["global_view"]
        local_views = npz["local_view"]
    if len(view_ids) != len(table) or len(global_views) != len(table) or len(local_views) != len(table):
        raise ValueError(
            f"{npz_path} holds {len(view_ids)} candidates but {csv_path} has {len(table)} rows; "
            "they must describe the same candidates"
        )
    ids = table["candidate_id"].astype(str).to_numpy()
    if not np.array_equal(ids, view_ids):
        # Same candidates in another order is fine; anything else is an error.
        position = {cid: k for k, cid in enumerate(view_ids)}
        try:
            order = np.array([position[cid] for cid in ids])
        except KeyError as exc:
            raise ValueError(f"candidate {exc.args[0]!r} of {csv_path} has no views in {npz_path}") from None
        global_views, local_views = global_views[order], local_views[order]
    if global_views.shape[1:] != (GLOBAL_VIEW_BINS,) or local_views.shape[1:] != (LOCAL_VIEW_BINS,):
        raise ValueError(
            f"{npz_path}: global_view must be (N, {GLOBAL_VIEW_BINS}) and local_view (N, {LOCAL_VIEW_BINS}); "
            f"got {global_views.shape} and {local_views.shape}"
        )

    def col(name: str) -> np.ndarray:
        if name not in table:
            return np.full(len(table), np.nan)
        return pd.to_numeric(table[name], errors="coerce").to_numpy(float)

    scalar_columns = {name: col(column) for name, column in catalogs.ASTRONET_CANDIDATE_COLUMNS.items()
                      if name != "epoch"}
    scalar_columns["duration_hours"] = col(catalogs.ASTRONET_DURATION_DAYS_COLUMN) * 24.0
    scalar_columns.update({name: col(column) for name, column in catalogs.ASTRONET_STAR_COLUMNS.items()
                           if name not in ("ra_deg", "dec_deg")})
    scalar_columns.update({name: col(column) for name, column in catalogs.ASTRONET_EXTRA_COLUMNS.items()})
    scalar_columns.update(_lightcurve_metrics(path / LIGHTCURVE_FOLDER, ids, scalar_columns, col))
    records = [
        CandidateRecord(
            candidate_id=ids[i],
            group=str(table["tic_id"].iloc[i]),
            global_view=global_views[i],
            local_view=local_views[i],
            scalars={k: v[i] for k, v in scalar_columns.items()},
        )
        for i in range(len(table))
    ]
    X, names = design_matrix(records)
    y = _astronet_labels(table, fine_labels)
    return Dataset(ids.astype(object), X, names, y, table["tic_id"].astype(str).to_numpy(dtype=object))


def _lightcurve_metrics(folder: Path, ids: np.ndarray, scalars: Mapping[str, np.ndarray], col) -> dict[str, np.ndarray]:
    """``lc_*`` columns (n,) from ``folder/<candidate_id>.npz``; NaN for candidates without one.

    A light curve that cannot be processed (too short, flat, ...) gives NaN metrics and a
    warning, as the site's importer records a warning and stores no products.
    """
    from classifier.lightcurves import LightCurveError
    from classifier.products import measure

    n = len(ids)
    out = {name: np.full(n, np.nan) for name in LIGHTCURVE_SCALAR_NAMES}
    if not folder.is_dir():
        return out
    epochs = col(catalogs.ASTRONET_CANDIDATE_COLUMNS["epoch"])
    failed = []
    for i, cid in enumerate(ids):
        file = folder / f"{cid}.npz"
        if Path(cid).name != cid or not file.is_file():
            continue
        period, duration = scalars["period_days"][i], scalars["duration_hours"][i]
        if not (period > 0 and duration > 0 and np.isfinite(epochs[i])):
            raise ValueError(f"{file}: a light curve needs the candidate's period_days, epoch_btjd and "
                             "duration_days in candidates.csv")
        with np.load(file, allow_pickle=False) as npz:
            if "time" not in npz.files or "flux" not in npz.files:
                raise ValueError(f"{file} lacks the arrays time and flux (has {', '.join(npz.files)})")
            arrays = {k: npz[k] for k in ("time", "flux", "flux_err", "quality") if k in npz.files}
        star = {"teff_k": scalars["teff_k"][i], "logg_cgs": scalars["logg_cgs"][i],
                "radius_rsun": scalars["radius_rsun"][i], "mass_msun": scalars["mass_msun"][i],
                "magnitude": scalars["magnitude"][i]}
        catalog = {"depth_ppm": scalars["depth_ppm"][i], "snr": scalars["snr"][i]}
        try:
            _, metrics = measure(arrays["time"], arrays["flux"], arrays.get("flux_err"), arrays.get("quality"),
                                 period_days=float(period), epoch=float(epochs[i]), duration_hours=float(duration),
                                 star=star, catalog=catalog)
        except LightCurveError as exc:
            failed.append(f"{cid}: {exc}")
            continue
        for name in LIGHTCURVE_SCALAR_NAMES:
            out[name][i] = metrics[name[3:]]
    if failed:
        warnings.warn(f"{len(failed)} light curve(s) in {folder} gave no metrics: " + "; ".join(failed[:5]),
                      stacklevel=3)
    return out


def _astronet_labels(table: pd.DataFrame, fine_labels: bool) -> np.ndarray | None:
    if "label_4class" not in table.columns:
        return None
    y = np.array([_map_label(v, ASTRONET_TO_CLASS) for v in table["label_4class"]], dtype=object)
    if fine_labels and "label_orig_6class" in table.columns:
        fine = np.array([_map_label(v, ASTRONET_TO_CLASS) for v in table["label_orig_6class"]], dtype=object)
        refine = (y == "J") & np.isin(fine, ["V", "IS", "J"])
        y[refine] = fine[refine]
    return y


def _map_label(value, mapping: Mapping[str, str]) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = str(value).strip()
    if key == "":
        return None
    if key not in mapping:
        return None
    return validate_class(mapping[key])


def read_archive_csv(path: str | Path) -> pd.DataFrame:
    """Read a NASA Exoplanet Archive CSV export (lines starting with ``#`` are comments)."""
    return pd.read_csv(path, comment="#", low_memory=False)


def detect_archive_format(table: pd.DataFrame) -> str:
    """The :mod:`classifier.catalogs` name (``koi``, ``dr24_tce``, ``dr25_tce``, ``toi``) of a table."""
    fmt = catalogs.detect_table(map(str, table.columns))
    if fmt is None:
        raise ValueError(
            "unrecognised NASA Exoplanet Archive table: expected DR24/DR25 TCE (kepid, tce_plnt_num, "
            "av_training_set), KOI cumulative (kepoi_name, koi_disposition) or TOI (toi, tid, tfopwg_disp) columns; "
            f"got {', '.join(map(str, table.columns[:12]))}..."
        )
    return fmt


#: Columns without which a table's rows have no id.
_ID_COLUMNS = {"koi": ["kepid", "kepoi_name"], "dr24_tce": ["kepid", "tce_plnt_num"],
               "dr25_tce": ["kepid", "tce_plnt_num"], "toi": ["toi", "tid"]}


def _archive_ids(table: pd.DataFrame, fmt: str) -> np.ndarray:
    if fmt == "koi":
        return table["kepoi_name"].astype(str).to_numpy()
    if fmt == "toi":
        return table["toi"].astype(str).to_numpy()
    return (table["kepid"].astype(str) + "-" + table["tce_plnt_num"].astype(str)).to_numpy()


def _read_checked(path: str | Path) -> tuple[pd.DataFrame, str]:
    table = read_archive_csv(path)
    fmt = detect_archive_format(table)
    missing = [c for c in _ID_COLUMNS[fmt] if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: {fmt.upper()} table lacks required column(s): {', '.join(missing)}")
    return table, fmt


def table_level_columns(table: pd.DataFrame, fmt: str, context: tuple[str | Path, ...] = ()) -> dict[str, np.ndarray]:
    """Table-level feature columns (n,) of ``table`` (:func:`classifier.table_features.archive_table_features`).

    ``context`` tables of the same format take part (their rows are siblings and ephemeris-match
    partners) without being returned; their rows already in ``table`` (same id) are skipped. So a
    held-out file is featurised against the whole catalog it came from, like the training file.
    """
    frames = [table]
    seen = set(_archive_ids(table, fmt))
    for other_path in context:
        other, other_fmt = _read_checked(other_path)
        if other_fmt != fmt:
            continue  # another kind of table: its periods/epochs are not comparable
        frames.append(other[[i not in seen for i in _archive_ids(other, fmt)]])
    joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else table
    columns = archive_table_features(joined, fmt)
    return {name: col[:len(table)] for name, col in columns.items()}


def load_archive_table(path: str | Path, *, context: tuple[str | Path, ...] = ()) -> Dataset:
    """Load a NASA Exoplanet Archive table (KOI cumulative, DR24/DR25 TCE or TOI); tabular features only.

    Labels: DR24 ``av_training_set``, KOI ``koi_disposition`` (else ``koi_pdisposition``) with
    its false-positive flags, TOI ``tfopwg_disp``, mapped by :mod:`classifier.dispositions`
    (unlabeled rows are None; DR25 has no label column). Groups are the star ids (``kepid`` /
    ``tid``). Views and light curves are absent, so their columns are NaN. The table-level
    features (the ``tbl_*`` columns, :data:`classifier.dataset.TABLE_SCALAR_NAMES`) are computed
    over the whole table plus the ``context`` tables (see :func:`table_level_columns`).
    """
    table, fmt = _read_checked(path)
    ids = _archive_ids(table, fmt)
    groups = table[catalogs.STAR_ID_COLUMNS[fmt]].astype(str).to_numpy(dtype=object)
    colmap = {**catalogs.CANDIDATE_COLUMNS[fmt], **catalogs.STAR_COLUMNS[fmt]}
    columns = {
        name: pd.to_numeric(table[src], errors="coerce").to_numpy(float)
        for name, src in colmap.items() if src in table.columns
    }
    columns.update(table_level_columns(table, fmt, tuple(context)))
    records = [
        CandidateRecord(ids[i], groups[i], scalars={k: v[i] for k, v in columns.items()})
        for i in range(len(table))
    ]
    X, names = design_matrix(records)
    y = _archive_labels(table, fmt)
    return Dataset(ids.astype(object), X, names, y, groups)


def _archive_labels(table: pd.DataFrame, fmt: str) -> np.ndarray | None:
    """Labels from the archive dispositions, mapped by :mod:`classifier.dispositions` (the same
    rules the site's importers use); None when the table has no disposition column."""
    column = catalogs.DISPOSITION_COLUMNS[fmt]
    if fmt == "koi":
        column = next((c for c in ("koi_disposition", "koi_pdisposition") if c in table), None)
    if column is None or column not in table:
        return None
    values = table[column].where(table[column].notna(), "").astype(str)
    if fmt == "koi":
        rows = table.to_dict("records")
        return np.array([dispositions.koi_class(v, row) for v, row in zip(values, rows)], dtype=object)
    mapper = dispositions.toi_class if fmt == "toi" else dispositions.dr24_class
    return np.array([mapper(v) for v in values], dtype=object)


def load_any(path: str | Path, *, context: tuple[str | Path, ...] = ()) -> Dataset:
    """Load ``path``: an Astronet-layout directory or a NASA Exoplanet Archive CSV file.

    ``context``: other archive CSV files whose rows join the table-level features of an archive
    table (see :func:`table_level_columns`); directories among them are ignored.
    """
    path = Path(path)
    if path.is_dir():
        return load_astronet_dir(path)
    if path.is_file():
        return load_archive_table(path, context=tuple(Path(c) for c in context if Path(c).is_file()))
    raise FileNotFoundError(f"{path} is neither an Astronet-layout directory nor a CSV file")


__all__ = ["LIGHTCURVE_FOLDER", "table_level_columns", "detect_archive_format", "load_any",
           "load_archive_table", "load_astronet_dir", "read_archive_csv"]
