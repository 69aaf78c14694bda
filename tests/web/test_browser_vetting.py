"""The vetting workflow in headless Chromium: vet five candidates with the keyboard, dispute,
resolve as a curator, look at the team page. Screenshots go to test-results/ (gitignored)."""
from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls in this test are
# ordinary synchronous ones, so Django's async-safety guard would be a false alarm here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
RESULTS = Path(__file__).resolve().parents[2] / "test-results"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"headless Chromium not found at {CHROMIUM}"),
]


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        yield pg
        pg.goto("about:blank")  # no request (e.g. a prefetch) left running against the live server
        context.close()
        browser.close()
    time.sleep(0.5)  # let the live server's request threads close their database connections


def _seed(make_candidate, vetter2, curator):
    """Six simulated candidates with plots, model predictions and queue entries, and a history
    of two colleagues' sessions at four times of day, so the team page has something to show."""
    import random

    from django.db.models import Case, DateTimeField, Value, When
    from django.utils import timezone

    from tests.web.pagedata import make_prediction, make_queue_entry, make_version, simulated_payload
    from vetting.reviews import services
    from vetting.reviews.models import Label

    version = make_version("v4")
    candidates = []
    for i, cls in enumerate(["PC", "EB", "PC", "EB", "PC", "EB"]):
        payload, fields = simulated_payload(cls)
        c = make_candidate(f"SIM-00000{i}.01", mission="simulated", target_id=f"SIM-{i}",
                           plot_payload=payload, **fields)
        make_prediction(c, version, top=cls, p_top=0.55 + 0.05 * i, uncertainty=0.8 - 0.1 * i)
        make_queue_entry(c, 10.0 - i, "uncertainty" if i % 2 else "committee", version)
        candidates.append(c)

    # History: each colleague vets the same 120 candidates in four 30-label sessions (09, 14, 20
    # and 23 h, one label every 40-80 s). A third are planets; victor flags planets more often
    # late at night and late in a session -- the drift the team page should reveal.
    rng = random.Random(1)
    history = [make_candidate(f"K0{i:04d}.01") for i in range(120)]
    day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    rows, times = [], []
    for user, night_bias in ((vetter2, 0.45), (curator, 0.0)):
        for session, hour in enumerate((9, 14, 20, 23)):
            t = day + timedelta(hours=hour, minutes=rng.randint(0, 20))
            for k in range(30):
                c = history[session * 30 + k]
                truth = "PC" if c.pk % 3 == 0 else rng.choice(["EB", "EB", "BEB", "V", "IS"])
                bias = night_bias * (hour >= 20) + 0.01 * k * (night_bias > 0)
                cls = "PC" if (truth == "PC" or rng.random() < bias) else truth
                spent = rng.uniform(40, 80)
                t += timedelta(seconds=spent)
                rows.append(Label(candidate=c, vetter=user, label_class=cls, seconds_spent=spent, source="human"))
                times.append(t)
    made = Label.objects.bulk_create(rows)
    Label.objects.filter(pk__in=[label.pk for label in made]).update(created_at=Case(
        *[When(pk=label.pk, then=Value(t)) for label, t in zip(made, times)], output_field=DateTimeField()))
    services.consensus_recompute_many(candidate_ids=[c.pk for c in history])
    return candidates


def _login(page, base: str, username: str, password: str):
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/candidates/$"))


# django_db_setup first: the session-scoped live server then stops before the test database is dropped.
def test_vet_with_keyboard_dispute_and_resolve(
    django_db_setup, live_server, vetter, vetter2, curator, make_candidate, page,
):
    from vetting.reviews.models import Consensus, Dispute, Label

    candidates = _seed(make_candidate, vetter2, curator)
    RESULTS.mkdir(exist_ok=True)
    base = live_server.url
    _login(page, base, "vera", "pw-vera")
    assert page.locator("h1").inner_text() == "Vetting queue"
    page.click("text=Start vetting")
    page.wait_for_url(re.compile(rf".*/candidates/{candidates[0].pk}/$"))
    page.wait_for_selector("#fig-folded .main-svg")  # plotly drew the figure
    page.locator("#fig-periodogram").scroll_into_view_if_needed()  # figures below the fold draw when near
    page.wait_for_selector("#fig-periodogram .main-svg")
    page.wait_for_selector("#fig-per_transit .main-svg")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(RESULTS / "candidate_page.png"), full_page=True)
    # the others' labels are hidden before labeling
    assert "hidden until you label" in page.inner_text("#team-h + *")

    page.wait_for_function("document.documentElement.dataset.plotsDrawn")  # every figure, one per task
    assert page.locator("#class-hint").is_hidden()
    page.keyboard.press("Enter")  # no class chosen yet: a visible hint, nothing saved
    assert page.locator("#class-hint").is_visible() and "Choose a class first" in page.inner_text("#class-hint")
    assert page.url.endswith(f"/candidates/{candidates[0].pk}/")
    assert page.locator("table.probs").evaluate("t => t.scrollWidth <= t.parentElement.clientWidth + 1")  # fits

    keys = ["1", "2", "1", "3", "2"]  # PC, EB, PC, BEB, EB
    for i, key in enumerate(keys):
        page.wait_for_selector("#label-form")
        page.keyboard.press(key)
        assert page.locator(f'input[data-key="{key}"]').is_checked()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf".*/candidates/{candidates[i + 1].pk}/$"))
        assert "Saved" in page.inner_text("#notice")
        assert page.inner_text("#session-count").startswith(f"{i + 1} labeled this session")
    mine = dict(Label.objects.filter(vetter=vetter, is_current=True).values_list("candidate_id", "label_class"))
    assert mine == {c.pk: cls for c, cls in zip(candidates, ["PC", "EB", "PC", "BEB", "EB"])}
    assert all(s is not None and s > 0
               for s in Label.objects.filter(vetter=vetter).values_list("seconds_spent", flat=True))

    # back on a candidate already labeled: dispute the model prediction there
    page.goto(base + f"/candidates/{candidates[4].pk}/")
    page.wait_for_selector("#label-form")
    page.keyboard.press("d")
    page.select_option("#id_subject", "prediction")
    page.select_option("#id_proposed_class", "EB")
    page.fill("#id_reason", "Secondary eclipse visible at phase 0.5")
    page.click("#dispute-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/reviews/disputes/\d+/$"))
    dispute = Dispute.objects.get()
    assert f"Dispute #{dispute.pk} opened" in page.inner_text("#notice")
    assert page.locator("#resolve-form").count() == 0  # vetters cannot resolve

    page.click("button:has-text('Log out')")
    _login(page, base, "carla", "pw-carla")
    page.click("nav >> text=Adjudication")
    page.click(f"text=#{dispute.pk}")
    page.select_option("#id_resolved_class", "EB")
    page.fill("#id_resolution", "Clear secondary: eclipsing binary")
    page.click("#resolve-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/reviews/disputes/$"))
    assert "resolved as EB" in page.inner_text("#notice")
    dispute.refresh_from_db()
    assert dispute.status == "resolved"
    assert Consensus.objects.get(candidate=candidates[4]).method == "curator"

    page.click("nav >> text=Team")
    for name in ("hour", "position"):  # figures below the fold draw when scrolled near
        page.locator(f"[data-figure={name}]").scroll_into_view_if_needed()
        page.wait_for_selector(f"[data-figure={name}] .main-svg")
    page.screenshot(path=str(RESULTS / "team_page.png"), full_page=True)
    assert "How consensus works" in page.inner_text("#how-consensus-works")
