"""Demo loader: stored like a real import, reproducible, idempotent, seed labels from the truth."""
from __future__ import annotations

import numpy as np
import pytest

from vetting.candidates.models import Candidate, LightCurve, Target
from vetting.reviews import demo
from vetting.reviews.models import Label

pytestmark = pytest.mark.django_db
N, LABELS = 12, 6


def _snapshot():
    return {c.catalog_id: (c.simulated_truth, c.period_days, bytes(c.global_view or b""), c.features.get("depth_ppm"))
            for c in Candidate.objects.all()}


def test_demo_loader_stores_like_an_import_and_reruns_add_nothing():
    report = demo.load_demo(n=N, seed=5, labels=LABELS, workers=0)
    assert report.counts["candidates_created"] == N and report.counts["lightcurves_created"] == N
    assert Candidate.objects.filter(source_catalog="simulated").count() == N
    with_views = Candidate.objects.exclude(global_view=None)
    assert with_views.count() >= N - 2  # a flat fold (pure noise) may have no normalisable view
    cand = with_views.first()
    assert cand.view_array("global").shape == (201,) and cand.view_array("local").shape == (61,)
    assert cand.plot_payload["kind"] == "lightcurve" and "depth_ppm" in cand.features
    assert cand.simulated_truth in {"PC", "EB", "BEB", "V", "IS", "J"}
    lc = LightCurve.objects.get(candidate=cand)
    arrays = lc.load_arrays()
    assert arrays["time"].size == lc.n_points and np.nanmedian(arrays["flux"]) == pytest.approx(1.0, abs=1e-6)
    # seed labels: vetter labels every chosen candidate, vetter2 some of them
    by = Label.objects.values_list("vetter__username", flat=True)
    assert list(by).count("vetter") == LABELS and list(by).count("vetter2") <= LABELS
    agree = sum(label.label_class == label.candidate.simulated_truth
                for label in Label.objects.select_related("candidate"))
    assert agree >= 0.6 * Label.objects.count()
    counts = (Target.objects.count(), Candidate.objects.count(), LightCurve.objects.count(), Label.objects.count())
    before = _snapshot()
    again = demo.load_demo(n=N, seed=5, labels=LABELS, workers=0)
    assert (Target.objects.count(), Candidate.objects.count(), LightCurve.objects.count(),
            Label.objects.count()) == counts
    assert again.counts["lightcurves_existing"] == N and not again.counts["labels_created"]
    assert _snapshot() == before  # same seed, same arrays, same products


def test_demo_seed_changes_population():
    demo.load_demo(n=4, seed=1, labels=0, workers=0)
    first = _snapshot()
    Candidate.objects.all().delete()
    demo.load_demo(n=4, seed=2, labels=0, workers=0)
    assert _snapshot() != first
