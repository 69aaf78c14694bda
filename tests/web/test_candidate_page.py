"""The candidate page tells the truth: flags beside their values, grouped metrics, catalog values
with sensible precision, archive links for real stars, the label history under the visibility
rule, the session counter; and the failed-flag filter of the queue and the API (one vocabulary)."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from classifier import flags
from tests.web.pagedata import make_queue_entry
from vetting.candidates.features import FEATURE_FIELDS, features_set
from vetting.reviews import services
from vetting.web.candidate_page import archive_links, metric_text, sig

#: Features of a candidate whose odd and even transits differ (an eclipsing binary at twice the period).
ODD_EVEN_FAIL = {"odd_even_sigma": 12.0, "odd_depth_ppm": 9000.0, "odd_depth_err_ppm": 100.0,
                 "even_depth_ppm": 7000.0, "even_depth_err_ppm": 100.0, "snr_red": 40.0, "n_transits": 9.0}
ODD_EVEN_PASS = {**ODD_EVEN_FAIL, "odd_even_sigma": 0.4, "even_depth_ppm": 8950.0}


def test_flag_examples_agree_with_classifier_flags():
    assert "odd_even" in flags.failed_flags(ODD_EVEN_FAIL)
    assert "odd_even" not in flags.failed_flags(ODD_EVEN_PASS)


@pytest.mark.parametrize("value, digits, text", [
    (1234.5, 3, "1,234"), (0.012345, 3, "0.0123"), (4.0, 7, "4.000000"), (-0.0001, 2, "-0.00010"),
    (None, 3, ""), (float("nan"), 3, ""), ("x", 3, ""), (0, 3, "0"),
])
def test_significant_figures(value, digits, text):
    assert sig(value, digits) == text


def test_metric_values_have_the_precision_of_their_kind():
    assert metric_text("odd_even_sigma", 3.04999) == "3.0"
    assert metric_text("secondary_best_phase", 0.60712) == "0.607"
    assert metric_text("n_transits", 9.0) == "9"
    assert metric_text("depth_ppm", 216506.4) == "216,506"
    assert metric_text("radius_ratio", 0.46512) == "0.465"


def test_archive_links_only_for_real_targets(make_candidate):
    kepler = make_candidate(target_id="KIC 11446443").target
    links = dict(archive_links(kepler))
    assert links["ExoFOP"] == "https://exofop.ipac.caltech.edu/kepler/edit_target.php?id=11446443"
    assert links["SIMBAD"].endswith("Ident=KIC%2011446443")
    assert set(links) == {"ExoFOP", "MAST", "SIMBAD", "NASA Exoplanet Archive"}
    tess = make_candidate(mission="tess", target_id="TIC 261136679", source_catalog="toi").target
    assert dict(archive_links(tess))["ExoFOP"].endswith("/tess/target.php?id=261136679")
    assert archive_links(make_candidate(mission="simulated", target_id="SIM-7").target) == []


def test_page_shows_flags_grouped_values_and_links(client, vetter, make_candidate):
    candidate = make_candidate("K00742.01", target_id="KIC 10000001", planet_radius_rearth=None,
                               features={**ODD_EVEN_FAIL, "planet_radius_rearth": 1.9134, "depth_ppm": 612.345})
    client.force_login(vetter)
    page = client.get(reverse("candidate-detail", args=[candidate.pk])).content.decode()
    sheet = page[page.index('id="metrics-h"'):page.index('id="params-h"')]
    assert re.search(r"odd_even</th><td class=\"num\">12\.0</td><td><span class=\"flag fail\">fail", sheet)
    assert '<span class="flag fail">1 failed</span> odd_even' in sheet  # the summary names it
    for group in ("Signal", "Eclipsing binary", "Star"):
        assert f">{group}" in sheet
    assert sheet.index(">Eclipsing binary") < sheet.index("odd depth")  # odd depth listed in its group
    params = page[page.index('id="params-h"'):]
    assert "1.91 R⊕ <span class=\"muted\">(from the light curve)</span>" in params  # not "Planet radius —"
    assert "exofop.ipac.caltech.edu/kepler/edit_target.php?id=10000001" in page


def test_label_history_follows_the_visibility_rule(client, vetter, vetter2, make_candidate):
    candidate = make_candidate()
    services.label_create(candidate=candidate, vetter=vetter2, label_class="PC", note="looks fine")
    services.label_create(candidate=candidate, vetter=vetter2, label_class="EB", note="secondary after all")
    client.force_login(vetter)
    url = reverse("candidate-detail", args=[candidate.pk])

    def history() -> str:
        page = client.get(url).content.decode()
        return page[page.index('id="history-h"'):page.index('id="disputes-h"')]

    before = history()
    assert "victor" not in before and "secondary after all" not in before  # hidden until you label
    assert "Only your own labels are listed" in before
    assert "<strong>0</strong> labeled this session" in client.get(url).content.decode()
    services.label_create(candidate=candidate, vetter=vetter, label_class="BEB")
    after = history()
    assert "<strong>EB</strong> <span class=\"muted\">changed from PC</span> by victor" in after
    assert "superseded" in after and "by vera" in after
    assert "<strong>1</strong> labeled this session" in client.get(url).content.decode()


def test_page_queries_do_not_grow_with_history(client, vetter, vetter2, make_candidate, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    candidate = make_candidate()
    client.force_login(vetter)
    url = reverse("candidate-detail", args=[candidate.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for cls in ("PC", "EB", "BEB", "V"):  # a long history: every change is a new row
        services.label_create(candidate=candidate, vetter=vetter2, label_class=cls)
    with django_assert_num_queries(len(before.captured_queries)):
        client.get(url)


def _with_features(make_candidate, catalog_id, features):
    """A candidate whose features (and so its stored failed-flag mask) are written the one way
    the importers write them."""
    candidate = make_candidate(catalog_id)
    features_set(candidate, features)
    candidate.save(update_fields=FEATURE_FIELDS)
    return candidate


def test_failed_flag_filters_queue_and_api_alike(client, vetter, make_candidate):
    failing = _with_features(make_candidate, "K00001.01", ODD_EVEN_FAIL)
    passing = _with_features(make_candidate, "K00002.01", ODD_EVEN_PASS)
    no_data = _with_features(make_candidate, "K00003.01", {})
    assert failing.failed_flags == flags.flag_bit("odd_even") and passing.failed_flags == no_data.failed_flags == 0
    for i, c in enumerate((failing, passing, no_data)):
        make_queue_entry(c, 10.0 - i)
    client.force_login(vetter)

    page = client.get(reverse("candidate-queue"), {"failed_flag": "odd_even"}).content.decode()
    assert "K00001.01" in page and "K00002.01" not in page and "K00003.01" not in page
    assert '<option value="odd_even" selected>' in page  # the filter form keeps the choice
    api = client.get("/api/candidates/", {"failed_flag": "odd_even"})
    assert api.status_code == 200
    assert [row["catalog_id"] for row in api.json()["results"]] == ["K00001.01"]
    assert client.get("/api/candidates/", {"failed_flag": "secondary"}).json()["results"] == []
    everything = client.get("/api/candidates/").json()["results"]
    assert {row["catalog_id"] for row in everything} == {"K00001.01", "K00002.01", "K00003.01"}
    bad = client.get("/api/candidates/", {"failed_flag": "no_such_flag"})
    assert bad.status_code == 400 and "failed_flag" in bad.content.decode()


def test_failed_flag_filter_is_one_query_on_the_stored_mask(make_candidate, django_assert_num_queries):
    """The filter reads no features: one SQL query whatever the number of candidates, and a
    candidate fails several flags at once without matching the others."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vetting.candidates.models import Candidate
    from vetting.learning.filters import CandidateFilter

    both = {**ODD_EVEN_FAIL, "impact_plus_radius_ratio": 1.4}  # fails odd_even and v_shape
    for i in range(30):
        _with_features(make_candidate, f"K{i + 1:05d}.01", both if i % 3 == 0 else ODD_EVEN_PASS)

    def matching(flag: str) -> list[str]:
        qs = CandidateFilter({"failed_flag": flag}, queryset=Candidate.objects.with_active_prediction(None)).qs
        return sorted(qs.values_list("catalog_id", flat=True))

    with django_assert_num_queries(1), CaptureQueriesContext(connection) as ctx:
        odd_even = matching("odd_even")
    assert len(odd_even) == 10 and odd_even == matching("v_shape")
    assert matching("radius") == []
    sql = ctx.captured_queries[0]["sql"]
    assert "failed_flags" in sql and "features" not in sql.split("FROM")[1]  # a test on the mask, not the JSON


def test_model_panel_says_when_there_is_no_committee(client, vetter, make_candidate):
    """A one-family model (the ``full`` profile) cannot disagree: the page says so instead of
    showing a disagreement of 0 that reads as "the models agree"."""
    from tests.web.pagedata import make_prediction, make_version
    from vetting.learning.models import Prediction

    candidate = make_candidate("K00743.01")
    prediction = make_prediction(candidate, make_version())
    client.force_login(vetter)
    url = reverse("candidate-detail", args=[candidate.pk])
    page = client.get(url).content.decode()
    assert "disagreement between models 0.10" in page and "no committee" not in page
    Prediction.objects.filter(pk=prediction.pk).update(per_model={"hgb": prediction.per_model["forest"]},
                                                       disagreement=0.0)
    page = client.get(url).content.decode()
    assert "one model family: no committee to disagree" in page and "disagreement between models" not in page
    # A version scored with its fold models as the committee shows their disagreement.
    Prediction.objects.filter(pk=prediction.pk).update(disagreement=0.25)
    prediction.classifier_version.metrics = {"committee": "fold models"}
    prediction.classifier_version.save(update_fields=["metrics"])
    page = client.get(url).content.decode()
    assert "disagreement between its fold models 0.25" in page and "no committee" not in page
