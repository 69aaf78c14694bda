"""The consensus and overlap rules (pure) and their use by the services: ties, Dawid-Skene, overlap."""
from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings

from vetting.reviews import consensus as rule
from vetting.reviews import selectors, services
from vetting.reviews.models import CandidateReview, Consensus, ReliabilityFit


def _v(cls, vetter=None, **kw):
    return rule.Vote(cls, kw.pop("confidence", 1.0), kw.pop("source", "human"), vetter_id=vetter, **kw)


def test_a_tie_is_no_class_never_the_first_of_the_vocabulary():
    for r in rule.RULES:
        decision = rule.decide([_v("EB", 1), _v("PC", 2)], rule=r, tie_margin=0.02)
        assert decision.is_tie and decision.label_class is None and decision.needs_review, r
    clear = rule.decide([_v("EB", 1), _v("EB", 2), _v("PC", 3)], rule="weighted_majority", tie_margin=0.02)
    assert (clear.label_class, clear.is_tie) == ("EB", False)


def test_dawid_skene_trusts_the_reliable_vetter():
    k = len(rule.CLASS_CODES)
    expert = np.full((k, k), 0.01 / (k - 1))
    np.fill_diagonal(expert, 0.99)
    careless = np.full((k, k), 0.5 / (k - 1))
    np.fill_diagonal(careless, 0.5)
    rel = rule.Reliability(rule.CLASS_CODES, np.full(k, 1 / k), {1: expert, 2: careless, 3: careless})
    decision = rule.decide([_v("PC", 1), _v("EB", 2)], rule="dawid_skene", reliability=rel, tie_margin=0.02)
    assert decision.label_class == "PC" and decision.method == "dawid_skene" and decision.agreement > 0.9
    assert sum(decision.posterior.values()) == pytest.approx(1.0)
    # the majority rule on the same votes, with the careless pair agreeing, follows the pair
    majority = rule.decide([_v("PC", 1), _v("EB", 2), _v("EB", 3)], rule="weighted_majority")
    assert majority.label_class == "EB"


def test_curator_and_gold_settle_and_want_no_more_labels():
    curated = rule.decide([_v("PC", 1), _v("EB", source="curator")], rule="dawid_skene")
    assert curated.settled and curated.label_class == "EB"
    assert rule.labels_wanted(curated, n_labels=1, required=3, adaptive=True, max_labels=5, confidence=0.95) == 1


@pytest.mark.parametrize(("n", "agreement", "adaptive", "want"), [
    (0, None, True, 2),      # nothing yet: the minimum
    (1, 1.0, True, 2),       # below the minimum
    (2, 1.0, True, 2),       # minimum reached and sure: done
    (2, 0.6, True, 3),       # unsure: one more
    (5, 0.6, True, 5),       # unsure but at the maximum: done (a curator decides if it is a tie)
    (2, 0.6, False, 2),      # fixed overlap: never more than the minimum
])
def test_labels_wanted(n, agreement, adaptive, want):
    decision = None if agreement is None else rule.Decision("PC", agreement, n, "dawid_skene", False)
    assert rule.labels_wanted(decision, n_labels=n, required=2, adaptive=adaptive, max_labels=5,
                              confidence=0.95) == want


@pytest.mark.django_db
def test_tie_stores_no_consensus_and_waits_for_a_label_or_a_curator(make_candidate, vetter, vetter2, curator,
                                                                     django_user_model):
    candidate = make_candidate()
    services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    services.label_create(candidate=candidate, vetter=vetter2, label_class="EB")
    assert not Consensus.objects.filter(candidate=candidate).exists()
    review = CandidateReview.objects.get(candidate=candidate)
    assert review.needs_review and review.is_open and review.labels_wanted == 3
    assert list(selectors.ties_for_adjudication().values_list("candidate_id", flat=True)) == [candidate.pk]

    services.curator_label_set(candidate=candidate, curator=curator, label_class="EB")
    review.refresh_from_db()
    assert not review.needs_review and not review.is_open
    assert Consensus.objects.get(candidate=candidate).method == "curator"
    assert not selectors.ties_for_adjudication().exists()


@pytest.mark.django_db
@override_settings(VETTING_LABELS_PER_CANDIDATE=2)
def test_agreeing_labels_close_the_candidate_and_a_curator_can_ask_for_more(make_candidate, vetter, vetter2,
                                                                            curator):
    candidate = make_candidate()
    services.label_create(candidate=candidate, vetter=vetter, label_class="EB")
    assert CandidateReview.objects.get(candidate=candidate).is_open
    services.label_create(candidate=candidate, vetter=vetter2, label_class="EB")
    review = CandidateReview.objects.get(candidate=candidate)
    # two agreeing labels from vetters the (unfitted) model trusts equally: sure enough? The
    # prior matrix is modest, so adaptive overlap may still want a third; fixed overlap would not.
    assert review.n_labels == 2
    services.labels_required_set(candidate_ids=[candidate.pk], curator=curator, labels_required=4)
    review.refresh_from_db()
    assert (review.labels_required, review.labels_wanted, review.is_open) == (4, 4, True)
    with pytest.raises(Exception, match="curator"):
        services.labels_required_set(candidate_ids=[candidate.pk], curator=vetter, labels_required=5)


@pytest.mark.django_db
def test_reliability_refit_uses_curator_truth_and_moves_the_consensus(make_candidate, django_user_model, curator):
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="vetter")
    good, bad1, bad2 = (django_user_model.objects.create_user(n, password="x") for n in ("good", "bad1", "bad2"))
    for u in (good, bad1, bad2):
        u.groups.add(group)
    rng = np.random.default_rng(0)
    candidates = [make_candidate() for _ in range(40)]
    truth = {}
    for c in candidates:
        t = str(rng.choice(["PC", "EB", "J"]))
        truth[c.pk] = t
        services.label_create(candidate=c, vetter=good, label_class=t)
        wrong = "J" if t != "J" else "EB"
        services.label_create(candidate=c, vetter=bad1, label_class=wrong)
        services.label_create(candidate=c, vetter=bad2, label_class=wrong)
    for c in candidates[:10]:  # the curator settles a quarter: the anchors
        services.curator_label_set(candidate=c, curator=curator, label_class=truth[c.pk])
    before = dict(Consensus.objects.filter(method="weighted_majority").values_list("candidate_id", "label_class"))
    with override_settings(VETTING_CONSENSUS={"rule": "dawid_skene", "min_labels": 1, "curator_overrides": True,
                                              "tie_margin": 0.02}):
        summary = services.reliability_refit()
        assert summary["n_fixed"] == 10 and summary["n_vetters"] == 3
        fit = ReliabilityFit.objects.get()
        assert fit.vetters[str(good.pk)]["accuracy"] > 0.8 > fit.vetters[str(bad1.pk)]["accuracy"]
        after = dict(Consensus.objects.values_list("candidate_id", "label_class"))
    assert all(after[c.pk] == truth[c.pk] for c in candidates)
    assert not before or any(before.get(pk) != truth[pk] for pk in before)  # majority followed the pair
