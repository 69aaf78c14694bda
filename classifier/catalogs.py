"""Catalog tables: their names here, how to recognise them, which column is what.

NASA Exoplanet Archive tables (KOI, DR24/DR25 TCE, TOI) and the Astronet-Triage
``candidates.csv`` columns.

The ONE definition shared by the site's importers (``vetting.candidates.importers.archive`` and
``.views_bundle``), the import command, admin form and upload API, the site's design matrix
(``vetting.learning.featurize``) and the classifier's own loaders (:mod:`classifier.loaders`).
Quantities are named like the model fields (units in the names); epochs keep their table's time
system (:mod:`classifier.timesystems`).

======== ========================== ================ ================= ============ =========
table    archive table              period [days]    epoch             duration [h] depth [ppm]
======== ========================== ================ ================= ============ =========
koi      cumulative (KOI)           koi_period       koi_time0bk BKJD  koi_duration koi_depth
dr24_tce q1_q17_dr24_tce            tce_period       tce_time0bk BKJD  tce_duration tce_depth
dr25_tce q1_q17_dr25_tce            tce_period       tce_time0bk BKJD  tce_duration tce_depth
toi      toi (TESS)                 pl_orbper        pl_tranmid BJD    pl_trandurh  pl_trandep
======== ========================== ================ ================= ============ =========

Nothing here imports Django.
"""
from __future__ import annotations

from collections.abc import Iterable

#: Table name -> what a person reads. Names are also ``Candidate.source_catalog`` values.
TABLE_TITLES: dict[str, str] = {
    "koi": "Kepler KOI (cumulative)",
    "dr24_tce": "Kepler DR24 TCE",
    "dr25_tce": "Kepler DR25 TCE",
    "toi": "TESS TOI",
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLE_TITLES)

_TCE_CANDIDATE = {"period_days": "tce_period", "epoch": "tce_time0bk", "duration_hours": "tce_duration",
                  "depth_ppm": "tce_depth", "snr": "tce_model_snr", "impact": "tce_impact",
                  "planet_radius_rearth": "tce_prad"}
_TCE_STAR = {"teff_k": "tce_steff", "logg_cgs": "tce_slogg", "radius_rsun": "tce_sradius",
             "ra_deg": "ra", "dec_deg": "dec", "magnitude": "kepmag"}

#: Candidate model field -> archive column, per table.
CANDIDATE_COLUMNS: dict[str, dict[str, str]] = {
    "koi": {"period_days": "koi_period", "epoch": "koi_time0bk", "duration_hours": "koi_duration",
            "depth_ppm": "koi_depth", "snr": "koi_model_snr", "impact": "koi_impact",
            "planet_radius_rearth": "koi_prad"},
    "dr24_tce": _TCE_CANDIDATE,
    "dr25_tce": _TCE_CANDIDATE,
    "toi": {"period_days": "pl_orbper", "epoch": "pl_tranmid", "duration_hours": "pl_trandurh",
            "depth_ppm": "pl_trandep", "planet_radius_rearth": "pl_rade", "snr": "snr"},
}
#: Target (star) model field -> archive column, per table.
STAR_COLUMNS: dict[str, dict[str, str]] = {
    "koi": {"ra_deg": "ra", "dec_deg": "dec", "magnitude": "koi_kepmag", "teff_k": "koi_steff",
            "logg_cgs": "koi_slogg", "radius_rsun": "koi_srad"},
    "dr24_tce": _TCE_STAR,
    "dr25_tce": _TCE_STAR,
    "toi": {"ra_deg": "ra", "dec_deg": "dec", "magnitude": "st_tmag", "teff_k": "st_teff",
            "logg_cgs": "st_logg", "radius_rsun": "st_rad"},
}
#: Column holding the star id (a star is never split between training and evaluation).
STAR_ID_COLUMNS: dict[str, str] = {"koi": "kepid", "dr24_tce": "kepid", "dr25_tce": "kepid", "toi": "tid"}
#: Disposition column mapped to labels by :mod:`classifier.dispositions` (DR25 has none).
DISPOSITION_COLUMNS: dict[str, str | None] = {
    "koi": "koi_disposition", "dr24_tce": "av_training_set", "dr25_tce": None, "toi": "tfopwg_disp",
}
#: Kepler DV difference-image centroid offset from the KIC position (arcsec) and its error, per
#: table (NASA Exoplanet Archive ``*_dikco_msky``; Bryson et al. 2013): the pixel-level evidence
#: where only a catalog has it (:func:`classifier.pixels.catalog_centroid_metrics`). TOIs have none.
CENTROID_COLUMNS: dict[str, dict[str, str]] = {
    "koi": {"offset_arcsec": "koi_dikco_msky", "offset_err_arcsec": "koi_dikco_msky_err"},
    "dr24_tce": {"offset_arcsec": "tce_dikco_msky", "offset_err_arcsec": "tce_dikco_msky_err"},
    "dr25_tce": {"offset_arcsec": "tce_dikco_msky", "offset_err_arcsec": "tce_dikco_msky_err"},
}
#: Time system of the epoch column.
EPOCH_SYSTEMS: dict[str, str] = {"koi": "BKJD", "dr24_tce": "BKJD", "dr25_tce": "BKJD", "toi": "BJD"}

_TCE_TABLE_FEATURES = {"period_days": "tce_period", "period_err_days": "tce_period_err", "epoch": "tce_time0bk",
                       "epoch_err_days": "tce_time0bk_err", "duration_hours": "tce_duration",
                       "candidate_number": "tce_plnt_num"}
#: Inputs of the table-level features (:func:`classifier.table_features.archive_table_features`):
#: ephemeris with its 1-sigma errors [days] (upper errors where the archive gives two), duration
#: [hours], and the candidate's number on its star (a column, or the ``.NN`` suffix of a name).
TABLE_FEATURE_COLUMNS: dict[str, dict[str, str]] = {
    "koi": {"period_days": "koi_period", "period_err_days": "koi_period_err1", "epoch": "koi_time0bk",
            "epoch_err_days": "koi_time0bk_err1", "duration_hours": "koi_duration", "candidate_name": "kepoi_name"},
    "dr24_tce": _TCE_TABLE_FEATURES,
    "dr25_tce": _TCE_TABLE_FEATURES,
    "toi": {"period_days": "pl_orbper", "period_err_days": "pl_orbpererr1", "epoch": "pl_tranmid",
            "epoch_err_days": "pl_tranmiderr1", "duration_hours": "pl_trandurh", "candidate_name": "toi"},
}


#: Astronet-Triage ``candidates.csv`` (TESS TCEs, Yu et al. 2019): Candidate field -> column
#: (``epoch_btjd`` in BTJD; the duration is :data:`ASTRONET_DURATION_DAYS_COLUMN`, in days).
ASTRONET_CANDIDATE_COLUMNS: dict[str, str] = {
    "period_days": "period_days", "epoch": "epoch_btjd", "depth_ppm": "transit_depth_ppm", "snr": "snr",
}
ASTRONET_DURATION_DAYS_COLUMN = "duration_days"
#: Target (star) field -> column.
ASTRONET_STAR_COLUMNS: dict[str, str] = {
    "ra_deg": "ra", "dec_deg": "dec", "magnitude": "tmag", "teff_k": "teff", "logg_cgs": "logg",
    "radius_rsun": "star_rad", "mass_msun": "star_mass",
}
#: Design-matrix scalars without a model field -> column (the site keeps them in
#: ``Candidate.catalog_features`` under the column name).
ASTRONET_EXTRA_COLUMNS: dict[str, str] = {"ingress_fraction": "qingress", "is_multi": "is_multi"}


def detect_table(columns: Iterable[str]) -> str | None:
    """Name of the archive table with these columns, or None when none fits.

    KOI: ``kepoi_name`` or a KOI disposition column; TCE: ``tce_plnt_num`` or
    ``av_training_set`` (DR24 when the autovetter label is there, else DR25); TOI: ``toi`` or
    ``tfopwg_disp``. Callers then check the columns they require.
    """
    cols = set(columns)
    if cols & {"kepoi_name", "koi_disposition", "koi_pdisposition"}:
        return "koi"
    if cols & {"tce_plnt_num", "av_training_set"}:
        return "dr24_tce" if "av_training_set" in cols else "dr25_tce"
    if cols & {"toi", "tfopwg_disp"}:
        return "toi"
    return None


__all__ = ["TABLE_TITLES", "TABLE_NAMES", "CANDIDATE_COLUMNS", "STAR_COLUMNS", "STAR_ID_COLUMNS",
           "DISPOSITION_COLUMNS", "CENTROID_COLUMNS", "TABLE_FEATURE_COLUMNS",
           "EPOCH_SYSTEMS", "ASTRONET_CANDIDATE_COLUMNS", "ASTRONET_DURATION_DAYS_COLUMN",
           "ASTRONET_STAR_COLUMNS", "ASTRONET_EXTRA_COLUMNS", "detect_table"]
