"""Catalog dispositions -> label classes (classifier.dispositions): honest by default."""
from __future__ import annotations

import pytest

from classifier.dispositions import catalog_class, koi_class, toi_class
from classifier.vocabulary import CLASS_CODES

NO_FLAGS = {"koi_fpflag_nt": 0, "koi_fpflag_ss": 0, "koi_fpflag_co": 0, "koi_fpflag_ec": 0}


def test_unresolved_koi_candidate_is_not_a_planet_label_by_default():
    assert koi_class("CANDIDATE", NO_FLAGS) is None
    assert koi_class("CONFIRMED", NO_FLAGS) == "PC"
    assert catalog_class("koi", "candidate", NO_FLAGS) is None  # case and spaces do not matter
    # opt-in keeps the old behaviour for a team that wants it
    assert koi_class("CANDIDATE", NO_FLAGS, candidates_as_planets=True) == "PC"
    assert catalog_class("koi", "CANDIDATE", NO_FLAGS, candidates_as_planets=True) == "PC"


@pytest.mark.parametrize("disposition", ["PC", "APC"])
def test_unresolved_toi_is_not_a_planet_label_by_default(disposition):
    assert toi_class(disposition) is None
    assert catalog_class("toi", f" {disposition.lower()} ") is None


def test_toi_planets_and_opt_in():
    assert toi_class("CP") == "PC" and toi_class("KP") == "PC"
    assert toi_class("PC", candidates_as_planets=True) == "PC"
    assert toi_class("APC", candidates_as_planets=True) is None  # ambiguous stays unlabeled


def test_tess_false_positive_does_not_claim_an_eclipsing_binary():
    code = toi_class("FP")
    assert code is not None and code in CLASS_CODES
    assert code not in {"EB", "BEB", "PC"}
    assert catalog_class("toi", "FP") == code
    assert toi_class("FA") == "IS"  # false alarm: no astrophysical signal


def test_koi_false_positive_flags_still_name_the_kind():
    assert koi_class("FALSE POSITIVE", {**NO_FLAGS, "koi_fpflag_ss": 1}) == "EB"
    assert koi_class("FALSE POSITIVE", {**NO_FLAGS, "koi_fpflag_ss": 1, "koi_fpflag_co": 1}) == "BEB"
    assert koi_class("FALSE POSITIVE", {**NO_FLAGS, "koi_fpflag_ec": "1"}) == "J"
    assert koi_class("FALSE POSITIVE", NO_FLAGS) is None  # no flag: the kind is unknown


def test_dr24_training_set_unchanged():
    assert [catalog_class("dr24_tce", d) for d in ("PC", "AFP", "NTP", "UNK", "")] == ["PC", "EB", "J", None, None]
