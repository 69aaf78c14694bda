"""Catalog dispositions -> label classes: the ONE place these mappings live (Django-free, so the
importers and the classifier's own table loaders agree).

A disposition maps to a class code of :mod:`classifier.vocabulary` or to ``None`` (no catalog
label: undecided, ambiguous or unlabeled rows). Catalog labels are only written when an
import asks for them (``with_catalog_labels``).
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

#: TESS TFOPWG dispositions. FP -> EB: most TOI false positives that TFOPWG settles are
#: eclipsing binaries (on target or nearby, often confirmed by spectroscopy or by a secondary
#: eclipse); without the follow-up notes we cannot tell blends apart, so EB is the honest
#: majority call. FA (false alarm) is usually a systematic. APC (ambiguous) gets no label.
TOI_TO_CLASS: dict[str, str | None] = {
    "PC": "PC", "CP": "PC", "KP": "PC", "FP": "EB", "FA": "IS", "APC": None,
}


def _flag_set(value) -> bool:
    try:
        return float(value) >= 0.5
    except (TypeError, ValueError):
        return False


def koi_class(disposition: str, row: Mapping[str, object]) -> str | None:
    """KOI ``koi_disposition`` (CONFIRMED / CANDIDATE / FALSE POSITIVE) with its FP flags."""
    disposition = (disposition or "").strip().upper()
    if disposition in {"CONFIRMED", "CANDIDATE"}:
        return "PC"
    if disposition == "FALSE POSITIVE":
        for column, code in KOI_FP_FLAGS:
            if _flag_set(row.get(column)):
                return code
    return None


def dr24_class(disposition: str) -> str | None:
    """DR24 autovetter training set: PC / AFP / NTP; UNK (unlabeled) gives no label."""
    return DR24_TO_CLASS.get((disposition or "").strip().upper())


def toi_class(disposition: str) -> str | None:
    return TOI_TO_CLASS.get((disposition or "").strip().upper())


def astronet_class(label_4class: str, label_orig_6class: str = "") -> str | None:
    """Astronet-Triage labels; the 6-class label (J split into V / IS / J) wins when present."""
    for value in (label_orig_6class, label_4class):
        code = ASTRONET_TO_CLASS.get((value or "").strip().upper())
        if code:
            return code
    return None


def catalog_class(table: str, disposition: str, row: Mapping[str, object] | None = None) -> str | None:
    """Class for a disposition of ``table`` (koi, dr24_tce, dr25_tce, toi, tess_tce)."""
    row = row or {}
    if table == "koi":
        return koi_class(disposition, row)
    if table in {"dr24_tce", "dr25_tce"}:
        return dr24_class(disposition)
    if table == "toi":
        return toi_class(disposition)
    if table == "tess_tce":
        return astronet_class(disposition, str(row.get("label_orig_6class", "")))
    return None
