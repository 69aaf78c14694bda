"""The site's design matrix, built column by column (PostgreSQL: one query reading only the keys
used), equals bit for bit the matrix of the per-row path it replaced, on rows with and without
views, features and catalog features, malformed stored views and odd JSON values included."""
from __future__ import annotations

import math

import numpy as np
import pytest

from classifier.catalogs import ASTRONET_EXTRA_COLUMNS
from classifier.dataset import (
    DEFAULT_SCALAR_NAMES,
    FLAG_SCALAR_NAMES,
    GLOBAL_VIEW_BINS,
    LIGHTCURVE_SCALAR_NAMES,
    LOCAL_VIEW_BINS,
    TABLE_SCALAR_NAMES,
    as_float,
    design_matrix_from_arrays,
)
from classifier.features import FEATURE_NAMES
from vetting.candidates.models import Candidate
from vetting.learning import featurize
from vetting.learning.featurize import build_matrix

pytestmark = pytest.mark.django_db

#: The fields the per-row path read, in its order.
OLD_FIELDS = (
    "id", "target_id", "global_view", "local_view", "features", "catalog_features",
    "period_days", "duration_hours", "depth_ppm", "snr", "impact", "planet_radius_rearth",
    "target__magnitude", "target__teff_k", "target__logg_cgs", "target__radius_rsun", "target__mass_msun",
)


def _old_view(raw, n_bins):
    if raw is None:
        return None
    arr = np.frombuffer(bytes(raw), dtype="<f4")
    return arr.astype(np.float64) if arr.size == n_bins else None


def _old_scalars(row):
    (_, _, _, _, features, catalog, period, duration, depth, snr, impact, prad,
     mag, teff, logg, srad, smass) = row
    catalog = catalog if isinstance(catalog, dict) else {}
    features = features if isinstance(features, dict) else {}
    scalars = {name: as_float(catalog.get(column)) for name, column in ASTRONET_EXTRA_COLUMNS.items()}
    scalars.update({
        "period_days": period, "duration_hours": duration, "depth_ppm": depth, "snr": snr,
        "impact": impact, "planet_radius_rearth": prad,
        "magnitude": mag, "teff_k": teff, "logg_cgs": logg, "radius_rsun": srad, "mass_msun": smass,
    })
    for name in LIGHTCURVE_SCALAR_NAMES:
        scalars[name] = as_float(features.get(name[3:]))
    for name in TABLE_SCALAR_NAMES:
        scalars[name] = as_float(catalog.get(name))
    return scalars


def old_matrix(ids, scalar_names, chunk_size=featurize.CHUNK_SIZE):
    """The per-row path as it was: one dict per row, every scalar through ``as_float`` twice."""
    blocks = []
    ids = sorted(ids)
    for start in range(0, len(ids), chunk_size):
        rows = list(Candidate.objects.order_by("pk").filter(pk__in=ids[start:start + chunk_size])
                    .values_list(*OLD_FIELDS))
        n = len(rows)
        gv, lv = np.full((n, GLOBAL_VIEW_BINS), np.nan), np.full((n, LOCAL_VIEW_BINS), np.nan)
        for i, row in enumerate(rows):
            g, loc = _old_view(row[2], GLOBAL_VIEW_BINS), _old_view(row[3], LOCAL_VIEW_BINS)
            if g is not None:
                gv[i] = g
            if loc is not None:
                lv[i] = loc
        per_row = [_old_scalars(row) for row in rows]
        scalars = {name: np.array([as_float(s.get(name)) for s in per_row], dtype=np.float64).reshape(n)
                   for name in DEFAULT_SCALAR_NAMES}
        X, _ = design_matrix_from_arrays(scalars, gv, lv, scalar_names=list(scalar_names))
        blocks.append(X.astype(np.float32))
    return np.concatenate(blocks)


def _f32(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


@pytest.fixture
def mixed(make_candidate):
    """Candidates as a survey has them (mostly catalog rows without a light curve) and odd ones."""
    rng = np.random.default_rng(11)
    out = []
    for i in range(40):  # imported TOI rows: table features, no light curve
        catalog = {"ra": rng.uniform(0, 360), "pl_orbper": rng.uniform(1, 30)}
        catalog.update({name: float(rng.uniform(0, 5)) for name in TABLE_SCALAR_NAMES if rng.random() < 0.8})
        out.append(make_candidate(catalog_features=catalog, impact=None if i % 3 else 0.4))
    for i in range(8):  # processed light curves: views, metrics (flags computable), Astronet columns
        features = {name: (None if rng.random() < 0.1 else float(rng.uniform(0, 40))) for name in FEATURE_NAMES}
        cand = make_candidate(features=features, catalog_features={"qingress": 0.05 * (i + 1), "is_multi": i % 2},
                              global_view=_f32(rng.normal(size=GLOBAL_VIEW_BINS)),
                              local_view=_f32(rng.normal(size=LOCAL_VIEW_BINS)))
        type(cand.target).objects.filter(pk=cand.target_id).update(
            teff_k=5500.0 + i, logg_cgs=4.4, radius_rsun=1.0, mass_msun=None if i % 2 else 1.0, magnitude=12.0)
        out.append(cand)
    odd_json = {
        "qingress": "0.07",                                # a number as text
        "is_multi": True,                                  # a boolean
        "tbl_n_on_star": None,                             # JSON null
        "tbl_ephem_matches": {"nested": 1},                # an object
        "tbl_sibling_alias": [1, 2],                       # an array
        "tbl_period_excess": "nan",                        # text that is no finite number
        "tbl_instrumental_sigma": 12345678901234567890123,  # an integer beyond 2**53
        "tbl_candidate_number": 1e-320,                    # a subnormal
        "tbl_sibling_period_ratio": -0.0,
        "tbl_ephem_match_sig": 0.1 + 0.2,                  # all 17 digits
    }
    out += [
        make_candidate(catalog_features=odd_json, features={"snr_red": "12.5", "n_transits": True, "depth_ppm": "x",
                                                            "odd_even_sigma": {"a": 1}}),
        make_candidate(catalog_features=[1, 2, 3], features="not a dict"),              # not objects
        make_candidate(catalog_features={}, features={}),
        make_candidate(global_view=_f32(np.ones(10)), local_view=_f32(rng.normal(size=LOCAL_VIEW_BINS))),  # malformed
        make_candidate(global_view=_f32(np.full(GLOBAL_VIEW_BINS, np.nan)), local_view=_f32(np.full(61, np.nan))),
        make_candidate(period_days=math.inf, depth_ppm=-5.0, snr=None, duration_hours=None),
        make_candidate(global_view=_f32(rng.normal(size=GLOBAL_VIEW_BINS)),             # a lone view in its chunk
                       features={"planet_radius_rearth": 30.0}),
    ]
    return [c.pk for c in out]


@pytest.mark.parametrize("chunk_size", [2000, 7])
def test_the_matrix_equals_the_per_row_paths_bit_for_bit(mixed, chunk_size):
    names = list(DEFAULT_SCALAR_NAMES)
    expected = old_matrix(mixed, names, chunk_size)
    got = build_matrix(mixed, chunk_size=chunk_size)
    assert got.candidate_ids.tolist() == sorted(mixed)
    assert got.X.tobytes() == expected.tobytes()
    # The chunk holds what the fast paths skip and what they keep.
    flags = got.X[:, [got.feature_names.index(n) for n in FLAG_SCALAR_NAMES]]
    lv_depth = got.X[:, got.feature_names.index("lv_depth")]
    assert np.isfinite(flags).any() and np.isnan(flags).all(axis=1).sum() > 40
    assert np.isfinite(lv_depth).sum() >= 8 and np.isnan(lv_depth).sum() > 40


def test_all_candidates_by_keyset_pages_equal_the_listed_ids(mixed):
    listed = build_matrix(mixed, chunk_size=7)
    everything = build_matrix(None, chunk_size=7)
    assert everything.candidate_ids.tolist() == listed.candidate_ids.tolist()
    assert everything.X.tobytes() == listed.X.tobytes()
    assert everything.groups.tolist() == listed.groups.tolist()


def test_the_orm_path_of_other_databases_gives_the_same_matrix(mixed, monkeypatch):
    postgresql = build_matrix(mixed, scalar_names=["teff", "tbl_n_on_star", "flag_snr", "lc_snr_red"])
    monkeypatch.setattr(featurize.db, "is_postgresql", lambda: False)
    orm = build_matrix(mixed, scalar_names=["teff", "tbl_n_on_star", "flag_snr", "lc_snr_red"])
    assert orm.X.tobytes() == postgresql.X.tobytes()
    assert orm.X.tobytes() == old_matrix(mixed, ["teff", "tbl_n_on_star", "flag_snr", "lc_snr_red"]).tobytes()


def test_deleted_ids_are_skipped(mixed):
    Candidate.objects.filter(pk=mixed[3]).delete()
    got = build_matrix(mixed + [10**9])
    assert got.candidate_ids.tolist() == sorted(mixed[:3] + mixed[4:])


def test_a_view_of_bytes_that_are_no_floats_is_a_missing_view(make_candidate):
    """(The per-row path raised on it and stopped the whole rescoring.)"""
    rng = np.random.default_rng(2)
    bad = make_candidate(global_view=b"\x00\x01\x02", local_view=_f32(rng.normal(size=LOCAL_VIEW_BINS)))
    got = build_matrix([bad.pk])
    row = dict(zip(got.feature_names, got.X[0].tolist()))
    assert math.isnan(row["gv_depth"]) and math.isnan(row["gv_000"]) and math.isfinite(row["lv_depth"])
