"""Catalog dispositions -> label classes: the ONE place these mappings live (Django-free, so the
importers and the classifier's own table loaders agree).

A disposition maps to a class code of :mod:`classifier.vocabulary` or to ``None`` (no catalog
label: undecided, ambiguous or unlabeled rows). Catalog labels are only written when an
import asks for them (``with_catalog_labels``).

Honest by default:

* An unresolved candidate is never a planet label: KOI ``CANDIDATE`` and TOI ``PC`` (planet
  candidate) and ``APC`` (ambiguous) give no label, because a large share of them turn out to be
  false positives (training on them as planets teaches the model the catalog's own mistakes).
  ``candidates_as_planets=True`` opts in to the old behaviour (KOI CANDIDATE and TOI PC -> PC).
  The disposition itself is kept on the candidate (``catalog_disposition``), so nothing is lost.
* A TESS false positive (TOI ``FP``) is not called an eclipsing binary: the TOI table does not
  say which kind of false positive it is (on-target EB, nearby/background EB, or something else),
  and the vocabulary has no generic false-positive class, so it maps to ``J`` ("Other / junk" --
  the vocabulary's "other"). It still counts as "not a planet" for planet-vs-rest; it must not
  be read as non-astrophysical in triage (PC+EB+BEB vs rest) figures on TOI labels.
"""
from __future__ import annotations

from collections.abc import Mapping

from classifier.vocabulary import ASTRONET_TO_CLASS, DR24_TO_CLASS

#: KOI false positives, by Robovetter flag, in priority order. A centroid offset comes first:
#: an eclipse seen off-target is a background/blended EB even when it also looks stellar.
#: Then a stellar eclipse (EB), then not-transit-like (noise, variability, systematics: J) and
#: an ephemeris match (contamination from another star's signal: J).
KOI_FP_FLAGS: tuple[tuple[str, str], ...] = (
    ("koi_fpflag_co", "BEB"),
    ("koi_fpflag_ss", "EB"),
    ("koi_fpflag_nt", "J"),
    ("koi_fpflag_ec", "J"),
)

#: Unresolved dispositions: no label by default, PC with ``candidates_as_planets=True``.
KOI_UNRESOLVED: frozenset[str] = frozenset({"CANDIDATE"})
TOI_UNRESOLVED: frozenset[str] = frozenset({"PC"})

#: TESS TFOPWG dispositions. CP (confirmed) and KP (known planet) are planets; PC (candidate) is
#: unresolved (see :data:`TOI_UNRESOLVED`) and APC (ambiguous) never gets a label. FP -> J, the
#: vocabulary's "other": the table does not say which kind of false positive (see the module
#: docstring). FA (false alarm: no astrophysical signal, usually a systematic) -> IS.
TOI_TO_CLASS: dict[str, str | None] = {
    "CP": "PC", "KP": "PC", "PC": None, "APC": None, "FP": "J", "FA": "IS",
}


def _flag_set(value) -> bool:
    try:
        return float(value) >= 0.5
    except (TypeError, ValueError):
        return False


def koi_class(disposition: str, row: Mapping[str, object], *, candidates_as_planets: bool = False) -> str | None:
    """KOI ``koi_disposition`` (CONFIRMED / CANDIDATE / FALSE POSITIVE) with its FP flags.

    CONFIRMED -> PC; CANDIDATE -> None (PC only with ``candidates_as_planets``); FALSE POSITIVE ->
    the class of its first set flag (:data:`KOI_FP_FLAGS`), None without a flag.
    """
    disposition = (disposition or "").strip().upper()
    if disposition == "CONFIRMED":
        return "PC"
    if disposition in KOI_UNRESOLVED:
        return "PC" if candidates_as_planets else None
    if disposition == "FALSE POSITIVE":
        for column, code in KOI_FP_FLAGS:
            if _flag_set(row.get(column)):
                return code
    return None


def dr24_class(disposition: str) -> str | None:
    """DR24 autovetter training set: PC / AFP / NTP; UNK (unlabeled) gives no label.

    The autovetter's PC training set is vetted (TCERT dispositions of known KOIs), not an
    unresolved candidate list, so it stays a planet label.
    """
    return DR24_TO_CLASS.get((disposition or "").strip().upper())


def toi_class(disposition: str, *, candidates_as_planets: bool = False) -> str | None:
    """TESS TFOPWG disposition (:data:`TOI_TO_CLASS`); PC -> PC only with ``candidates_as_planets``."""
    disposition = (disposition or "").strip().upper()
    if candidates_as_planets and disposition in TOI_UNRESOLVED:
        return "PC"
    return TOI_TO_CLASS.get(disposition)


def astronet_class(label_4class: str, label_orig_6class: str = "") -> str | None:
    """Astronet-Triage labels; the 6-class label (J split into V / IS / J) wins when present."""
    for value in (label_orig_6class, label_4class):
        code = ASTRONET_TO_CLASS.get((value or "").strip().upper())
        if code:
            return code
    return None


def catalog_class(table: str, disposition: str, row: Mapping[str, object] | None = None, *,
                  candidates_as_planets: bool = False) -> str | None:
    """Class for a disposition of ``table`` (koi, dr24_tce, dr25_tce, toi, tess_tce).

    ``candidates_as_planets``: also label unresolved candidates (KOI CANDIDATE, TOI PC) as
    planets; off by default (see the module docstring).
    """
    row = row or {}
    if table == "koi":
        return koi_class(disposition, row, candidates_as_planets=candidates_as_planets)
    if table in {"dr24_tce", "dr25_tce"}:
        return dr24_class(disposition)
    if table == "toi":
        return toi_class(disposition, candidates_as_planets=candidates_as_planets)
    if table == "tess_tce":
        return astronet_class(disposition, str(row.get("label_orig_6class", "")))
    return None
