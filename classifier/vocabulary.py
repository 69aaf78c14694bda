"""The fixed label vocabulary shared by the classifier, the site and the API.

Codes are short and stable (they are stored in the database, in CSV exports and in
model artifacts); names are what a person reads. Nothing here imports Django.
"""
from __future__ import annotations

#: (code, human name) in display order. Keyboard shortcuts on the site are 1..6 in this order.
CLASSES: tuple[tuple[str, str], ...] = (
    ("PC", "Planet candidate"),
    ("EB", "Eclipsing binary"),
    ("BEB", "Background/blended EB"),
    ("V", "Stellar variability"),
    ("IS", "Instrumental systematic"),
    ("J", "Other / junk"),
)
CLASS_CODES: tuple[str, ...] = tuple(code for code, _ in CLASSES)
CLASS_NAMES: dict[str, str] = dict(CLASSES)

#: Classes whose probability is summed into ``p_planet`` (planet vs rest).
PLANET_CLASSES: frozenset[str] = frozenset({"PC"})
#: Classes summed into ``p_triage``: astrophysical transits/eclipses (planet + EB) vs the rest.
TRIAGE_CLASSES: frozenset[str] = frozenset({"PC", "EB", "BEB"})

#: Astronet-Triage (Yu et al. 2019) labels. ``label_4class``: PC, EB, J (junk), O (other);
#: ``label_orig_6class`` splits J into V, IS and J.
ASTRONET_TO_CLASS: dict[str, str] = {
    "PC": "PC", "EB": "EB", "J": "J", "O": "J", "V": "V", "IS": "IS",
}
#: Kepler DR24 autovetter training set: planet candidate, astrophysical false positive
#: (mostly eclipsing binaries), non-transiting phenomenon (noise, systematics, variability).
DR24_TO_CLASS: dict[str, str] = {"PC": "PC", "AFP": "EB", "NTP": "J"}


def validate_class(code: str) -> str:
    """Return ``code`` if it is in the vocabulary, else raise ``ValueError`` naming the choices."""
    if code not in CLASS_NAMES:
        raise ValueError(f"unknown label class {code!r}; expected one of {', '.join(CLASS_CODES)}")
    return code
