"""Model cards: the pure builder, the files beside the artifact, the page and the API."""
from __future__ import annotations

import json

import pytest

from classifier.modelcard import build_card, card_markdown

RECORD = {
    "name": "v3", "origin": "team", "status": "promoted", "is_active": True, "decision_reason": "not worse",
    "artifact": {"file": "vetting-model-abc.joblib", "sha256": "ab" * 32},
    "training_data": {"label_snapshot_hash": "cd" * 32, "n_labels": 130,
                      "per_class": {"EB": 60, "PC": 50, "J": 20},
                      "per_source": {"team": 100, "curator": 20, "gold": 10, "catalog": 0}},
    "metrics": {"planet_ap": 0.91, "ece": 0.04, "families": ["logistic", "hgb"], "calibration": "sigmoid",
                "combine": "mean", "profile": "fast", "n_cv_folds": 3, "dropped_families": {"gp": "too big"},
                "mirrored_views": True, "committee": "families"},
    "comparison": {"against": "v2", "n": 130, "confidence": 0.9, "tolerance": 0.01, "n_boot": 300,
                   "planet_ap": {"new": 0.9, "old": 0.85, "diff": 0.05, "low": 0.01, "high": 0.09, "failed": False}},
    "thresholds": [{"name": "flag snr", "value": "MES >= 7.1", "meaning": "passes when"}],
    "library_versions": {"scikit-learn": "1.5.0"}, "code_version": "abc123", "seed": 7,
}


def test_card_sections_counts_intervals_and_limits():
    card = build_card(RECORD)
    assert list(card["training_data"]["per_class"]) == ["PC", "EB", "J"]  # vocabulary order
    assert card["training_data"]["per_source"]["gold"] == 10
    assert card["metrics"]["cross_validated"] == {"planet_ap": 0.91, "ece": 0.04}
    assert card["metrics"]["comparison"]["metrics"]["planet_ap"] == {
        "new": 0.9, "old": 0.85, "diff": 0.05, "low": 0.01, "high": 0.09, "failed": False}
    limits = " ".join(card["limits"])
    assert "Never predicts BEB" in limits and "J (20)" in limits and "gp: too big" in limits
    assert card["environment"] == {"library_versions": {"scikit-learn": "1.5.0"}, "code_version": "abc123", "seed": 7}
    md = card_markdown(card)
    for text in ("# Model card: v3", "| PC | Planet candidate | 50 |", "| gold | 10 |", "Paired comparison with v2",
                 "| planet_ap | 0.900 | 0.850 | 0.050 | 0.010 | 0.090 | no |", "MES >= 7.1", "scikit-learn: 1.5.0",
                 "Not reproduced yet.", "trained on mirrored views too: yes",
                 "disagreement measured between: families"):
        assert text in md, text
    json.dumps(card, allow_nan=False)  # JSON-ready


def test_card_needs_a_name_and_survives_an_empty_record():
    with pytest.raises(ValueError, match="name"):
        build_card({})
    card = build_card({"name": "base-v1", "origin": "base"})
    assert "Base model" in " ".join(card["limits"]) and card["metrics"]["comparison"] == {}
    assert "# Model card: base-v1" in card_markdown(card)
    assert "trained on mirrored views too: —" in card_markdown(card)  # versions from before the flag


# -- the site ------------------------------------------------------------------------------------

@pytest.fixture
def version(make_population, vetter, curator, fast_training, django_capture_on_commit_callbacks):
    """A promoted version on 70 labels: 60 by a vetter, 5 curator decisions, 5 gold labels."""
    from tests.learning.conftest import label_fast
    from vetting.learning import services
    from vetting.learning.models import ClassifierVersion
    from vetting.reviews.services import curator_label_set, label_create, label_set_gold

    pop = make_population(70, seed=9)
    label_fast(pop[:60], vetter)
    for cand, truth in pop[60:65]:
        curator_label_set(candidate=cand, curator=curator, label_class=truth)
    for cand, truth in pop[65:]:
        label_set_gold(label=label_create(candidate=cand, vetter=curator, label_class=truth), curator=curator)
    run = services.training_run_request(trigger="manual")
    with django_capture_on_commit_callbacks():
        assert services.training_run_execute(run_id=run.pk, rescore="sync") == "finished"
    return ClassifierVersion.objects.get(training_run=run)


@pytest.mark.django_db
def test_card_files_are_written_beside_the_artifact_at_creation(version):
    from vetting.learning.services import modelcard

    stored = json.loads(modelcard.read_file(version, modelcard.CARD_JSON_SUFFIX))
    assert stored["name"] == version.name and stored["training_data"]["n_labels"] == 70
    assert sum(stored["training_data"]["per_class"].values()) == 70
    from collections import Counter

    from vetting.reviews.models import Consensus

    methods = Counter(modelcard.METHOD_SOURCE.get(m, "team")
                      for m in Consensus.objects.values_list("method", flat=True))
    sources = stored["training_data"]["per_source"]
    assert {k: v for k, v in sources.items() if v} == dict(methods)
    assert sources["team"] == 60 and sources["curator"] > 0 and sources["gold"] > 0 and sources["catalog"] == 0
    assert stored["environment"]["library_versions"] == version.library_versions
    assert any(t["name"] == "flag snr" for t in stored["thresholds"])
    md = modelcard.read_file(version, modelcard.CARD_MD_SUFFIX).decode()
    assert md.startswith(f"# Model card: {version.name}")
    name = modelcard.file_name(version, modelcard.CARD_MD_SUFFIX)
    assert name.startswith(str(version.artifact.name).removesuffix(".joblib"))


@pytest.mark.django_db
def test_card_page_for_vetters_reproduce_button_for_curators(version, client, vetter, curator,
                                                              django_capture_on_commit_callbacks):
    client.force_login(vetter)
    curves = client.get("/learning/").content.decode()
    assert f'href="/models/{version.pk}/card/"' in curves
    page = client.get(f"/models/{version.pk}/card/")
    html = page.content.decode()
    assert page.status_code == 200 and f"Model card: {version.name}" in html
    assert 'id="per-source"' in html and ">team</th><td class=\"num\">60<" in html
    assert "Reproduce this model" not in html
    assert client.post(f"/models/{version.pk}/reproduce/").status_code == 403
    md = client.get(f"/models/{version.pk}/card.md")
    assert md["Content-Type"].startswith("text/markdown") and b"## Known limits" in md.content
    assert client.get(f"/models/{version.pk}/card.txt").status_code == 404
    client.force_login(curator)
    assert "Reproduce this model" in client.get(f"/models/{version.pk}/card/").content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        page = client.post(f"/models/{version.pk}/reproduce/", follow=True)
    assert len(callbacks) == 1 and "is queued" in page.content.decode()
    assert "Queued since" in page.content.decode()


@pytest.mark.django_db
def test_card_api_json_and_markdown(version, client, vetter, no_role_user):
    url = f"/api/classifier-versions/{version.pk}/model-card/"
    assert client.get(url).status_code in (401, 403)
    client.force_login(no_role_user)
    assert client.get(url).status_code == 403
    client.force_login(vetter)
    body = client.get(url).json()
    assert body["name"] == version.name and body["training_data"]["per_source"]["team"] == 60
    md = client.get(url + "?format=md")
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert md.content.decode().startswith(f"# Model card: {version.name}")
    download = client.get(f"/api/classifier-versions/{version.pk}/model-card.md")
    assert download.status_code == 200 and download.content == md.content
    assert client.get("/api/classifier-versions/999999/model-card/").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_model_card_page_with_reproduction(make_population, vetter, curator, fast_training, live_server):
    """The card as a curator sees it, after "Reproduce this model" ran; screenshot in test-results/."""
    import os
    from pathlib import Path

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip(f"headless Chromium not found at {chromium}")
    from tests.learning.conftest import label_fast
    from vetting.learning import services
    from vetting.learning.models import ClassifierVersion
    from vetting.learning.services import modelcard

    label_fast(make_population(60, seed=4), vetter)
    run = services.training_run_request(trigger="manual")
    assert services.training_run_execute(run_id=run.pk, rescore="sync") == "finished"
    version = ClassifierVersion.objects.get(training_run=run)
    assert modelcard.reproduce_execute(version_id=version.pk)["state"] == "finished"
    curator.set_password("pw-for-browser")
    curator.save()
    results = Path(__file__).resolve().parents[2] / "test-results"
    results.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(live_server.url + "/accounts/login/")
        page.fill("input[name=username]", curator.username)
        page.fill("input[name=password]", "pw-for-browser")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(live_server.url + "/learning/")
        page.click(f"a[href='/models/{version.pk}/card/']")
        page.wait_for_selector("#reproduction")
        assert "Reproduced" in page.inner_text("#reproduction")
        assert page.is_visible("text=Reproduce this model")
        page.screenshot(path=str(results / "model-card.png"), full_page=True)
        page.goto("about:blank")
        browser.close()
