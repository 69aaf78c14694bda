"""The model card shows how the calibration map was chosen and each family's temperature (pure
builder, no database: the card tests of tests/learning need one)."""
from __future__ import annotations

from classifier.modelcard import build_card, card_markdown

METRICS = {"planet_ap": 0.91, "ece": 0.04, "families": ["logistic", "hgb"], "calibration": "temperature",
           "combine": "tempered", "profile": "fast", "n_cv_folds": 3,
           "calibration_temperatures": {"logistic": 1.4, "hgb": 2.25},
           "calibration_scores": {"sigmoid": {"combine": "mean", "log_loss": 0.61, "accuracy": 0.8},
                                  "temperature": {"combine": "tempered", "log_loss": 0.52, "accuracy": 0.8}}}


def test_card_shows_how_the_calibration_was_chosen_and_the_family_temperatures():
    card = build_card({"name": "v3", "metrics": METRICS})
    assert card["model"]["calibration"] == "temperature"
    assert card["model"]["calibration_temperatures"] == {"logistic": 1.4, "hgb": 2.25}
    md = card_markdown(card)
    assert "among: sigmoid (0.610, with mean), temperature (0.520, with tempered)" in md
    assert "Family temperatures (> 1: the family was over-confident): logistic 1.40, hgb 2.25" in md


def test_card_of_an_older_version_without_them_shows_neither_line():
    old = {k: v for k, v in METRICS.items() if not k.startswith("calibration_")}
    md = card_markdown(build_card({"name": "v2", "metrics": old}))
    assert "Family temperatures" not in md and "Calibration chosen" not in md
