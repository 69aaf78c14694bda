"""Astronet-Triage views bundles: a real slice, re-import, labels on request, bad bundles."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from tests.candidates.conftest import write_slice
from vetting.candidates import services
from vetting.candidates.importers.errors import BadFileError
from vetting.candidates.models import Candidate, Target
from vetting.reviews.models import Label

pytestmark = pytest.mark.django_db
N = 300


@pytest.fixture
def bundle(shared_data, tmp_path):
    """First N rows of the real bundle (views in the same order) in a tmp folder."""
    src = shared_data / "tess" / "astronet_triage"
    folder = tmp_path / "bundle"
    folder.mkdir()
    write_slice(src / "candidates.csv", folder / "candidates.csv", N)
    with np.load(src / "views.npz", allow_pickle=False) as npz:
        np.savez(folder / "views.npz", candidate_id=npz["candidate_id"][:N],
                 global_view=npz["global_view"][:N], local_view=npz["local_view"][:N])
    return folder


def test_views_bundle_slice(bundle):
    report = services.import_views_bundle(path=bundle)
    assert report.ok and report.counts["candidates_created"] == N
    cand = Candidate.objects.select_related("target").get(catalog_id="TIC201291168-R3594")
    assert cand.source_catalog == "tess_tce" and cand.target.catalog_id == "TIC 201291168"
    assert cand.epoch == pytest.approx(1325.51917) and cand.epoch_system == "BTJD"
    assert cand.duration_hours == pytest.approx(0.018976 * 24) and cand.depth_ppm == pytest.approx(4210.0)
    assert cand.view_array("global").shape == (201,) and cand.view_array("local").shape == (61,)
    with np.load(bundle / "views.npz") as npz:
        np.testing.assert_array_equal(cand.view_array("global"), npz["global_view"][0])
    assert cand.plot_payload["kind"] == "views" and len(cand.plot_payload["global_view"]) == 201
    assert cand.catalog_features["qingress"] == pytest.approx(0.04758)
    assert cand.catalog_disposition == "J" and not Label.objects.exists()


def test_views_reimport_and_labels_on_request(bundle):
    services.import_views_bundle(path=bundle, with_catalog_labels=True)
    counts = (Target.objects.count(), Candidate.objects.count(), Label.objects.count())
    second = services.import_views_bundle(path=bundle, with_catalog_labels=True)
    assert (Target.objects.count(), Candidate.objects.count(), Label.objects.count()) == counts
    assert second.counts["candidates_created"] == 0 and second.counts["labels_created"] == 0
    assert counts[2] == N  # every Astronet row has a label
    classes = set(Label.objects.values_list("label_class", flat=True))
    assert classes <= {"PC", "EB", "J", "V", "IS"} and "J" in classes


def test_views_bundle_as_zip(bundle, tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(bundle / "candidates.csv", "astronet/candidates.csv")
        zf.write(bundle / "views.npz", "astronet/views.npz")
    assert services.import_views_bundle(path=archive).counts["candidates_created"] == N


def test_row_without_views_is_named(bundle):
    lines = (bundle / "candidates.csv").read_text().splitlines(keepends=True)
    lines[10] = lines[10].replace("TIC", "XYZ")
    (bundle / "candidates.csv").write_text("".join(lines))
    report = services.import_views_bundle(path=bundle)
    assert len(report.errors) == 1 and str(report.errors[0]).startswith("line 11 (XYZ")
    assert "has no views in views.npz" in str(report.errors[0])
    assert Candidate.objects.count() == N - 1


def test_wrong_shape_views_write_nothing(bundle):
    np.savez(bundle / "views.npz", candidate_id=np.array(["a"]),
             global_view=np.zeros((1, 100)), local_view=np.zeros((1, 61)))
    with pytest.raises(BadFileError, match=r"global_view must be \(N, 201\)"):
        services.import_views_bundle(path=bundle)
    assert not Candidate.objects.exists()


def test_missing_npz_and_bad_zip(bundle, tmp_path):
    (bundle / "views.npz").unlink()
    with pytest.raises(BadFileError, match="views.npz is missing"):
        services.import_views_bundle(path=bundle)
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BadFileError, match="not a readable zip"):
        services.import_views_bundle(path=bad)
    assert not Candidate.objects.exists()
