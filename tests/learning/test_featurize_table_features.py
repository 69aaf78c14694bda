"""The catalog-table features (classifier.table_features) reach the site's model: the catalog
import computes them over the whole imported table, stores them with each candidate, and the
site's design matrix reads them as scalar columns (NaN for candidates from no catalog table)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classifier.dataset import TABLE_SCALAR_NAMES
from classifier.loaders import load_archive_table
from classifier.table_features import archive_table_features
from tests.candidates.conftest import DR24, KOI, TOI, write_slice
from vetting.candidates import services
from vetting.candidates.models import Candidate
from vetting.learning.featurize import build_matrix

pytestmark = pytest.mark.django_db

#: A small KOI table: star 10 has two KOIs (periods 3.0 and 6.5 d), star 20 one KOI at 6.5 d
#: whose transits fall on those of K00010.02 (an ephemeris match across stars), star 30 one KOI.
KOI_TABLE = pd.DataFrame({
    "kepid": [10, 10, 20, 30],
    "kepoi_name": ["K00010.01", "K00010.02", "K00020.01", "K00030.01"],
    "koi_disposition": ["CONFIRMED", "CONFIRMED", "FALSE POSITIVE", "CANDIDATE"],
    "koi_period": [3.0, 6.5, 6.5, 11.0],
    "koi_time0bk": [131.0, 132.0, 145.0, 140.0],
    "koi_duration": [2.5, 3.0, 3.0, 4.0],
    "koi_depth": [500.0, 800.0, 9000.0, 300.0],
})


@pytest.fixture
def koi_csv(tmp_path):
    path = tmp_path / "koi_small.csv"
    path.write_text("# COLUMN kepid: KIC\n" + KOI_TABLE.to_csv(index=False), encoding="utf-8")
    return path


def _rows(matrix) -> dict[str, dict[str, float]]:
    """catalog_id -> {tbl_* column: value} of a site design matrix."""
    ids = dict(Candidate.objects.values_list("pk", "catalog_id"))
    cols = [matrix.feature_names.index(name) for name in TABLE_SCALAR_NAMES]
    return {ids[int(pk)]: dict(zip(TABLE_SCALAR_NAMES, matrix.X[i, cols].tolist()))
            for i, pk in enumerate(matrix.candidate_ids)}


def test_imported_koi_table_gives_multiplicity_and_sibling_columns(koi_csv):
    report = services.import_catalog_file(path=koi_csv)
    assert report.ok, report.errors
    rows = _rows(build_matrix())
    assert set(rows) == set(KOI_TABLE["kepoi_name"])
    one, two, other, single = (rows[k] for k in KOI_TABLE["kepoi_name"])
    assert one["tbl_n_on_star"] == two["tbl_n_on_star"] == 2.0
    assert other["tbl_n_on_star"] == single["tbl_n_on_star"] == 1.0
    assert one["tbl_candidate_number"] == 1.0 and two["tbl_candidate_number"] == 2.0
    assert one["tbl_sibling_period_ratio"] == two["tbl_sibling_period_ratio"] == pytest.approx(6.5 / 3.0, rel=1e-6)
    assert one["tbl_sibling_alias"] == 0.0  # 6.5 / 3 is not an integer ratio
    assert np.isnan(single["tbl_sibling_period_ratio"]) and np.isnan(single["tbl_sibling_alias"])
    # 145 - 132 = 2 x 6.5 d: K00020.01 and K00010.02 share an ephemeris across stars.
    assert other["tbl_ephem_matches"] == 1.0 and two["tbl_ephem_matches"] == 1.0
    assert single["tbl_ephem_matches"] == 0.0
    # The one function of classifier.table_features computed them over the whole table.
    expected = archive_table_features(KOI_TABLE, "koi")
    for i, name in enumerate(KOI_TABLE["kepoi_name"]):
        for col in TABLE_SCALAR_NAMES:
            assert rows[name][col] == pytest.approx(expected[col][i], rel=1e-6, nan_ok=True), (name, col)


def test_candidates_from_no_catalog_table_have_nan_table_columns(koi_csv, make_candidate):
    services.import_catalog_file(path=koi_csv)
    demo = make_candidate("SIM-0001", catalog_features={"period_days": 4.0}, target_id="SIM 1")
    rows = _rows(build_matrix())
    assert all(np.isnan(v) for v in rows["SIM-0001"].values())
    assert rows["K00010.01"]["tbl_n_on_star"] == 2.0
    assert demo.pk in build_matrix([demo.pk]).candidate_ids


def test_reimporting_the_table_changes_nothing(koi_csv):
    services.import_catalog_file(path=koi_csv)
    first = {c.catalog_id: (c.pk, c.catalog_features) for c in Candidate.objects.all()}
    before = build_matrix()
    report = services.import_catalog_file(path=koi_csv)
    assert report.ok, report.errors
    assert {c.catalog_id: (c.pk, c.catalog_features) for c in Candidate.objects.all()} == first
    after = build_matrix()
    np.testing.assert_array_equal(after.candidate_ids, before.candidate_ids)
    np.testing.assert_array_equal(after.X, before.X)  # NaN == NaN here


def _site_id(relative: str, loader_id: str) -> str:
    """The site's catalog_id of a row id of classifier.loaders."""
    if relative == DR24:
        kepid, number = map(int, loader_id.split("-"))
        return f"TCE {kepid}-{number:02d}"
    return f"TOI-{float(loader_id):.2f}" if relative == TOI else loader_id


@pytest.mark.parametrize("relative", [KOI, DR24, TOI])
def test_site_matrix_matches_the_command_line_loader_on_real_rows(shared_data, tmp_path, relative):
    """The same table-level columns whether a slice of a real table is imported into the site or
    loaded by ``python -m classifier`` (both call classifier.table_features over the whole file)."""
    path = write_slice(shared_data / relative, tmp_path / "slice.csv", 300)
    assert services.import_catalog_file(path=path).ok
    rows = _rows(build_matrix())
    ds = load_archive_table(path)
    cols = [ds.feature_names.index(name) for name in TABLE_SCALAR_NAMES]
    multi = 0
    for i, cid in enumerate(ds.candidate_ids):
        site = rows[_site_id(relative, str(cid))]
        np.testing.assert_allclose([site[n] for n in TABLE_SCALAR_NAMES], ds.X[i, cols], rtol=1e-6, equal_nan=True)
        multi += site["tbl_n_on_star"] > 1
    assert multi > 0  # the slice holds multi-candidate stars


def test_a_base_model_from_a_dr24_table_uses_the_table_columns_and_scores_imported_rows(
        shared_data, tmp_path, fast_training):
    """``warm_start --from-table`` trains on the same columns the site builds (the table features
    included), so the imported candidates are scored with their stored table features."""
    from django.core.management import call_command

    from classifier.dataset import feature_names_for
    from vetting.learning.featurize import SCALAR_NAMES
    from vetting.learning.models import ClassifierVersion
    from vetting.learning.services import modelcard

    path = write_slice(shared_data / DR24, tmp_path / "dr24_slice.csv", 300)
    assert services.import_catalog_file(path=path).ok
    call_command("warm_start", "--from-table", str(path))
    base = ClassifierVersion.objects.get(origin="base", is_active=True)
    assert list(base.feature_names) == feature_names_for(SCALAR_NAMES)
    snap = modelcard.read_snapshot(base)
    col = snap.feature_names.index("tbl_n_on_star")
    assert np.isfinite(snap.X[:, col]).all() and (snap.X[:, col] > 1).any()  # trained on them
    scored = Candidate.objects.filter(predictions__classifier_version=base).count()
    assert scored == Candidate.objects.count() > 0
