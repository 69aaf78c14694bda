"""The stored failed-flag mask (``Candidate.failed_flags``): written with the features by every
writer (demo loader, recompute, catalog centroids), refilled in bulk by
``recompute_products --flags-only`` for older rows."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classifier.flags import failed_mask, flag_bit
from vetting.candidates import services
from vetting.candidates.features import features_set
from vetting.candidates.models import Candidate

pytestmark = pytest.mark.django_db

EB_FEATURES = {"odd_even_sigma": 12.0, "odd_depth_ppm": 9000.0, "odd_depth_err_ppm": 100.0,
               "even_depth_ppm": 7000.0, "even_depth_err_ppm": 100.0, "planet_radius_rearth": 40.0}


def test_features_set_writes_the_mask_with_the_features(make_candidate):
    candidate = make_candidate()
    assert candidate.failed_flags is None  # not evaluated yet
    features_set(candidate, EB_FEATURES)
    assert candidate.features == EB_FEATURES
    assert candidate.failed_flags == flag_bit("odd_even") | flag_bit("radius")
    features_set(candidate, None)
    assert candidate.features == {} and candidate.failed_flags == 0


def test_demo_loader_and_recompute_store_the_mask_of_the_stored_features():
    services.load_demo(n=4, seed=5, workers=0)
    rows = list(Candidate.objects.order_by("pk"))
    assert rows and all(c.failed_flags == failed_mask(c.features) for c in rows)
    Candidate.objects.update(failed_flags=None)  # a database from before the mask
    report = services.products_recompute()
    assert report.counts["products_recomputed"] == len(rows)  # a missing mask is a stale product
    assert all(c.failed_flags == failed_mask(c.features) for c in Candidate.objects.all())


def test_flags_only_fills_in_chunks_from_the_features_and_is_idempotent(make_candidate):
    eb = [make_candidate(f"K{i:05d}.01", features=EB_FEATURES) for i in range(1, 6)]
    plain = [make_candidate(f"K{i:05d}.01", features={"snr_red": 30.0}) for i in range(6, 9)]
    empty = make_candidate("K00009.01")
    assert set(Candidate.objects.values_list("failed_flags", flat=True)) == {None}
    stamp = Candidate.objects.get(pk=eb[0].pk).updated_at
    out = io.StringIO()
    with CaptureQueriesContext(connection) as ctx:
        call_command("recompute_products", "--flags-only", "--chunk", "2", verbosity=0, stdout=out)
    assert "candidates 9" in out.getvalue() and "flags_updated 9" in out.getvalue()
    # a count, then per chunk of 2: one read and one bulk UPDATE (+ savepoint), plus the empty last read
    reads = [q for q in ctx.captured_queries if q["sql"].startswith("SELECT") and "COUNT" not in q["sql"]]
    assert len(reads) == 6
    assert all(c.failed_flags == flag_bit("odd_even") | flag_bit("radius") for c in Candidate.objects.filter(
        pk__in=[c.pk for c in eb]))
    assert set(Candidate.objects.filter(pk__in=[c.pk for c in [*plain, empty]]).values_list(
        "failed_flags", flat=True)) == {0}
    assert Candidate.objects.get(pk=eb[0].pk).updated_at == stamp  # derived column: no new ETag
    again = services.failed_flags_recompute(candidate_ids=[eb[0].pk, empty.pk])
    assert again == {"candidates": 2, "flags_updated": 0, "flags_unchanged": 2}


def test_flags_only_rejects_a_bad_chunk():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--chunk"):
        call_command("recompute_products", "--flags-only", "--chunk", "0", verbosity=0)
