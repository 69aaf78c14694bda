"""Recomputing stored products (features, views, plot payloads) from the stored light curves."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classifier import features as features_module
from tests.candidates.conftest import FITS_DIR, KOI
from vetting.candidates import services
from vetting.candidates.models import Candidate

pytestmark = pytest.mark.django_db

N = 4


def _products(candidate: Candidate) -> tuple:
    views = tuple(None if v is None else bytes(v) for v in (candidate.global_view, candidate.local_view))
    return views, candidate.features, candidate.plot_payload


def _snapshot() -> dict[int, tuple]:
    return {c.pk: _products(c) for c in Candidate.objects.order_by("pk")}


@pytest.fixture
def demo():
    """``N`` simulated candidates stored as the demo loader stores them (one light curve each)."""
    services.load_demo(n=N, seed=3, workers=0)
    return list(Candidate.objects.order_by("pk").values_list("pk", flat=True))


def test_recompute_matches_the_import_and_is_idempotent(demo):
    imported = _snapshot()
    report = services.products_recompute()
    assert report.counts["candidates"] == N and report.counts["products_unchanged"] == N
    assert not report.counts["products_recomputed"] and _snapshot() == imported
    # stale products (an older payload with metrics inside, a metric missing): rebuilt as imported
    stale = Candidate.objects.get(pk=demo[0])
    stale.features = {k: v for k, v in stale.features.items() if k != "odd_even_sigma"}
    stale.plot_payload = dict(stale.plot_payload, version=1, metrics=stale.features)
    stale.global_view = None
    stale.save()
    before = Candidate.objects.get(pk=demo[1]).updated_at
    report = services.products_recompute(chunk_size=3)
    assert report.counts["products_recomputed"] == 1 and report.counts["products_unchanged"] == N - 1
    assert _snapshot() == imported
    assert Candidate.objects.get(pk=demo[1]).updated_at == before  # unchanged rows are not written
    again = services.products_recompute()
    assert again.counts["products_unchanged"] == N and not again.counts["products_recomputed"]


def test_a_new_metric_reaches_stored_candidates_with_nothing_else(demo, monkeypatch):
    """Adding a metric = its function (+ unit, + test): recompute_products stores it."""
    def depth_twice_ppm(fold):
        return 2 * fold.core_box[0] * 1e6

    metric = features_module.Metric("depth_twice_ppm", "ppm", depth_twice_ppm)
    monkeypatch.setattr(features_module, "METRICS", [*features_module.METRICS, metric])
    report = services.products_recompute(candidate_ids=demo[:2])
    assert report.counts["products_recomputed"] == 2
    for cand in Candidate.objects.filter(pk__in=demo[:2]):
        assert cand.features["depth_twice_ppm"] == pytest.approx(2 * cand.features["depth_ppm"])
    assert "depth_twice_ppm" not in Candidate.objects.get(pk=demo[2]).features  # only the ids asked for


def test_candidates_without_light_curve_or_ephemeris_are_skipped_and_counted(demo, make_candidate):
    catalog_only = make_candidate("K09999.01")
    views_only = make_candidate("K09998.01", global_view=b"\0" * 804, local_view=b"\0" * 244,
                                plot_payload={"kind": "views", "version": 2})
    no_epoch = Candidate.objects.get(pk=demo[0])
    no_epoch.epoch = None
    no_epoch.save()
    kept = _products(Candidate.objects.get(pk=views_only.pk))
    report = services.products_recompute(candidate_ids=[catalog_only.pk, views_only.pk, no_epoch.pk, 10**9])
    assert report.counts["candidates"] == 3  # the unknown id is ignored
    assert report.counts["skipped_no_lightcurve"] == 2 and report.counts["skipped_no_ephemeris"] == 1
    assert _products(Candidate.objects.get(pk=views_only.pk)) == kept  # views-only rows keep their views


def test_chunks_report_progress_and_cost_a_constant_number_of_queries(demo):
    calls = []
    services.products_recompute(chunk_size=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, N), (N, N)]
    Candidate.objects.update(features={})  # every row changes: the bulk update is part of the count
    with CaptureQueriesContext(connection) as one_chunk:
        services.products_recompute(chunk_size=N)
    Candidate.objects.update(features={})
    with CaptureQueriesContext(connection) as two_chunks:
        services.products_recompute(chunk_size=2)
    per_chunk = len(two_chunks) - len(one_chunk)
    assert len(one_chunk) <= 8 and per_chunk <= 6  # per chunk, not per candidate


def test_recompute_products_command(demo):
    Candidate.objects.filter(pk=demo[1]).update(features={})
    out, err = io.StringIO(), io.StringIO()
    call_command("recompute_products", "--ids", str(demo[0]), str(demo[1]), "--chunk", "1", stdout=out, stderr=err)
    assert "products_recomputed=1" in out.getvalue() and "products_unchanged=1" in out.getvalue()
    assert "recompute_products [" in err.getvalue() and "2/2" in err.getvalue()  # the progress bar
    assert Candidate.objects.get(pk=demo[1]).features["depth_ppm"] is not None
    with pytest.raises(Exception, match="at least 1"):
        call_command("recompute_products", "--chunk", "0", stdout=out, stderr=err)


def test_recompute_matches_a_real_fits_import(shared_data, table_slice):
    services.import_catalog_file(path=table_slice(KOI, 3))
    services.import_fits_file(path=shared_data / FITS_DIR / "exohunt_example_10797460.fits")
    imported = _snapshot()
    report = services.products_recompute()
    assert report.counts["products_unchanged"] == 2 and report.counts["skipped_no_lightcurve"] == 1
    assert _snapshot() == imported
