"""Tests of the calibrated ensemble and its scoring (tiny synthetic arrays)."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.estimators import PROFILE_FAMILIES
from classifier.training import VettingEnsemble, score, train
from classifier.vocabulary import PLANET_CLASSES, TRIAGE_CLASSES


def toy(n=240, seed=0, classes=("PC", "EB", "J"), d=6):
    """Three separable-ish blobs; two candidates per star."""
    rng = np.random.default_rng(seed)
    y = np.array([classes[i % len(classes)] for i in range(n)], dtype=object)
    centres = {c: rng.normal(scale=2.0, size=d) for c in classes}
    X = np.stack([centres[c] + rng.normal(size=d) for c in y])
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values must be tolerated
    groups = np.arange(n) // 2
    return X, y, groups


def test_fast_ensemble_probabilities_and_derived_sums():
    X, y, g = toy()
    model = VettingEnsemble(profile="fast", random_state=0).fit(X, y, g)
    s = score(model, X[:20])
    assert list(model.classes_) == ["PC", "EB", "J"]
    np.testing.assert_allclose(s.proba.sum(axis=1), 1.0, atol=1e-8)
    planet_cols = [i for i, c in enumerate(s.classes) if c in PLANET_CLASSES]
    triage_cols = [i for i, c in enumerate(s.classes) if c in TRIAGE_CLASSES]
    np.testing.assert_allclose(s.p_planet, s.proba[:, planet_cols].sum(1))
    np.testing.assert_allclose(s.p_triage, s.proba[:, triage_cols].sum(1))
    assert np.all(s.p_triage >= s.p_planet - 1e-12)
    assert set(s.family_proba) == set(model.families_)
    assert np.all((s.uncertainty >= 0) & (s.uncertainty <= 1))
    assert np.all(s.disagreement >= 0)
    assert np.mean(model.predict(X) == y) > 0.8
    rec = s.records([f"c{i}" for i in range(20)])[0]
    assert set(rec["probabilities"]) == {"PC", "EB", "J"} and rec["candidate_id"] == "c0"


def test_train_returns_oof_and_grouped_metrics():
    X, y, g = toy(n=180)
    result = train(X, y, g, seed=1, profile="fast", n_splits=3)
    assert result.oof_proba.shape == (180, 3)
    assert result.metrics["n_cv_folds"] == 3
    assert 0.0 <= result.metrics["planet_ap"] <= 1.0
    assert result.metrics["planet_ap"] > 0.6  # separable toy: far better than the 1/3 base rate
    assert result.classes == ["PC", "EB", "J"]


def test_tiny_label_set_with_singleton_class_does_not_crash():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    y = np.array(["J"] * 18 + ["PC"] * 5 + ["EB"] * 2, dtype=object)
    X[y == "PC"] += 2.0
    g = np.arange(25)
    result = train(X, y, g, seed=0, profile="fast", n_splits=5)
    assert result.model.calibration_method_ == "sigmoid"
    assert result.model.combine_ == "mean"
    s = score(result.model, X)
    np.testing.assert_allclose(s.proba.sum(1), 1.0, atol=1e-8)
    y1 = np.array(["J"] * 10 + ["PC"], dtype=object)
    model = VettingEnsemble(profile="fast").fit(rng.normal(size=(11, 3)), y1, np.arange(11))
    assert model.predict_proba(rng.normal(size=(2, 3))).shape == (2, 2)


def test_full_profile_includes_all_families_on_small_set():
    X, y, g = toy(n=150, d=4)
    model = VettingEnsemble(profile="full", random_state=0).fit(X, y, g)
    assert set(model.families_) | set(model.dropped_families_) == set(PROFILE_FAMILIES["full"])
    # Every tabular family (``rocket`` needs the view columns) still fits a small set.
    tabular = ("hgb", "extra_trees", "logistic", "mlp", "gp")
    model = VettingEnsemble(families=tabular, profile="full", random_state=0, gp_max_samples=60).fit(X, y, g)
    assert set(model.families_) | set(model.dropped_families_) == set(tabular)
    assert len(model.families_) >= 4


@pytest.mark.parametrize("profile", ["fast", "full"])
def test_folds_default_to_the_profiles_and_can_be_set(profile):
    from classifier.estimators import PROFILE_CV_FOLDS

    X, y, g = toy(n=150, d=4)
    model = VettingEnsemble(profile=profile, random_state=0).fit(X, y, g)
    assert model.n_calibration_folds_ == PROFILE_CV_FOLDS[profile]
    assert len(model.families_["hgb"].fold_models) == PROFILE_CV_FOLDS[profile]  # the fold models predict
    assert train(X, y, g, profile=profile, n_splits=2).metrics["n_cv_folds"] == 2


def test_bad_inputs_give_clear_errors():
    X, y, g = toy(n=30)
    with pytest.raises(ValueError, match="at least two classes"):
        VettingEnsemble(profile="fast").fit(X, np.array(["J"] * 30, dtype=object), g)
    y_bad = y.copy()
    y_bad[0] = None
    with pytest.raises(ValueError, match="unlabeled"):
        VettingEnsemble(profile="fast").fit(X, y_bad, g)
    with pytest.raises(ValueError, match="unknown label class"):
        VettingEnsemble(profile="fast").fit(X, np.array(["PC", "XX"] * 15, dtype=object), g)
    with pytest.raises(ValueError, match="profile"):
        VettingEnsemble(profile="huge").fit(X, y, g)
    model = VettingEnsemble(profile="fast").fit(X, y, g)
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(X[:, :3])


def test_train_metrics_come_from_cross_fitted_out_of_fold_probabilities():
    X, y, g = toy(n=150)
    result = train(X, y, g, seed=0, profile="fast", n_splits=3)
    model = result.model
    assert result.oof_proba is model.oof_proba_
    np.testing.assert_allclose(result.oof_proba.sum(axis=1), 1.0, atol=1e-8)
    # every row is held out exactly once, and no star is split between folds
    test_rows = np.concatenate([te for _, te in model.splits_])
    assert sorted(test_rows.tolist()) == list(range(150))
    for tr, te in model.splits_:
        assert not set(g[tr]) & set(g[te])
    assert set(model.oof_family_proba_) == set(model.families_)


def test_one_family_model_is_judged_by_a_committee_of_its_fold_models():
    """A one-family model (the ``full`` profile) has no families to disagree: its fold models, each
    trained on other labels, are the committee (query by bagging). Multi-family models keep theirs."""
    from classifier.active import select_batch
    from classifier.evaluation import top_class_disagreement

    X, y, g = toy(n=150, d=4, seed=2)
    X = X + np.random.default_rng(5).normal(scale=2.0, size=X.shape)  # overlapping blobs: folds disagree
    one = VettingEnsemble(families=("hgb",), profile="full", random_state=0).fit(X, y, g)
    s = score(one, X)
    assert list(s.family_proba) == ["hgb"]
    assert list(s.committee_proba) == [f"hgb fold {i}" for i in range(1, one.n_calibration_folds_ + 1)]
    np.testing.assert_allclose(s.family_proba["hgb"], one.family_proba(X)["hgb"])  # one pass, same probabilities
    np.testing.assert_allclose(s.proba, one.predict_proba(X))
    for member, fold_model in zip(s.committee_proba.values(), one.families_["hgb"].fold_models, strict=True):
        np.testing.assert_allclose(member, one.families_["hgb"].calibrator.predict_proba(fold_model.predict_proba(X)))
    np.testing.assert_allclose(s.disagreement, top_class_disagreement(s.committee_proba))
    assert s.disagreement.max() > 0  # the folds do not all agree on these noisy blobs
    assert one.committee_kind() == "fold models"
    assert train(X, y, g, profile="full", families=("hgb",)).metrics["committee"] == "fold models"
    # The committee share picks the row its fold models dispute most.
    q = select_batch(s, batch_size=1, mix={"committee": 1.0}, seed=0)
    assert s.disagreement[q[0].index] == s.disagreement.max()

    many = VettingEnsemble(profile="fast", random_state=0).fit(X, y, g)
    s = score(many, X)
    assert list(s.committee_proba) == list(s.family_proba) == list(many.families_)
    assert many.committee_kind() == "families"
