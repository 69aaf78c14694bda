"""What the candidate page shows besides the plots: vetting flags and metrics by group, catalog
parameters with sensible precision, links to the archives for real targets.

Plain functions over model instances and ``Candidate.features`` (no queries); the view
(:mod:`vetting.web.views.candidates`) passes their results to the template, which only renders.
Pass/fail comes from :func:`classifier.flags.evaluate`, the one place the thresholds live.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from classifier import flags as flagmod
from classifier.catalogs import CANDIDATE_COLUMNS, STAR_COLUMNS

#: Flag and metric groups, in page order (the groups of ``classifier.flags``; "other" last).
GROUPS = ("signal", "shape", "eclipsing binary", "pixel", "star", "other")
#: A metric's group by its key's prefix (first match); metrics a flag tests go to the flag's group.
_PREFIX_GROUPS = (
    ("eclipsing binary", ("odd_", "even_", "secondary_")),
    ("pixel", ("centroid", "pixel_", "diff_image", "crowding", "flux_fraction")),
    ("star", ("teff_k", "logg_cgs", "radius_rsun", "mass_msun", "magnitude", "stellar_", "a_over_rstar")),
    ("shape", ("trapezoid_", "shape_", "radius_ratio", "planet_radius", "expected_duration", "duration_ratio")),
    ("signal", ("depth", "snr", "noise", "n_transits", "n_points", "catalog_", "period_days", "duration_hours",
                "transit_", "primary_", "red_noise")),
)
#: Unit suffixes of metric keys (``classifier.features`` puts units in key names): the suffix, its
#: symbol, and whether the suffix is dropped from the displayed name (``sigma`` and ``phase``
#: stay: they say what the number is).
_UNIT_SUFFIXES = (
    ("_ppm", "ppm", True), ("_hours", "h", True), ("_days", "d", True), ("_k", "K", True),
    ("_rsun", "R☉", True), ("_msun", "M☉", True), ("_rearth", "R⊕", True), ("_cgs", "dex (cgs)", True),
    ("_solar", "ρ☉", True), ("_arcsec", "″", True), ("_pix", "px", True), ("_sigma", "σ", False),
    ("_phase", "cycles", False),
)


def _finite_float(value) -> float | None:
    """``value`` as a finite float; None for None/NaN/infinities/non-numbers."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def sig(value, digits: int = 3) -> str:
    """``value`` with ``digits`` significant figures, as a person writes it: ``1234.5`` -> ``"1,235"``
    (never fewer digits than the integer part has), ``0.012345`` -> ``"0.0123"``, ``""`` for
    None/NaN/non-numbers (so ``|default:"—"`` works in templates)."""
    v = _finite_float(value)
    if v is None:
        return ""
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if magnitude >= digits - 1:
        return f"{round(v):,}"
    decimals = max(0, digits - 1 - magnitude)
    text = f"{v:,.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def metric_unit(key: str) -> tuple[str, str]:
    """``(display name, unit)`` of a metric key from its unit suffix (``odd_depth_ppm`` ->
    ``("odd depth", "ppm")``)."""
    for suffix, symbol, drop in _UNIT_SUFFIXES:
        if key.endswith(suffix):
            name = key[: -len(suffix)] if drop else key
            return name.replace("_", " "), symbol
    return key.replace("_", " "), ""


def metric_text(key: str, value) -> str:
    """A metric value with the precision its kind deserves: significances to 0.1, phases to
    0.001, counts whole, ppm whole above 100, everything else 3 significant figures."""
    v = _finite_float(value)
    if v is None:
        return ""
    if key.endswith("_sigma"):
        return f"{v:.1f}"
    if key.endswith("_phase"):
        return f"{v:.3f}"
    if key.startswith("n_") or key.endswith("_count"):
        return f"{v:,.0f}"
    if key.endswith("_ppm") and abs(v) >= 100:
        return f"{v:,.0f}"
    if key.endswith("_days"):
        return sig(v, 6)
    return sig(v, 3)


def _group_of(key: str) -> str:
    for group, prefixes in _PREFIX_GROUPS:
        if key.startswith(prefixes):
            return group
    return "other"


@dataclass
class MetricRow:
    key: str
    name: str
    value: str
    unit: str
    description: str = ""


@dataclass
class Group:
    """One group of the vetting sheet: its flags (pass/fail beside their values) and metrics."""

    name: str
    flags: list = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        return sum(1 for f in self.flags if f.passed is False)


def vetting_groups(features: Mapping | None, descriptions: Mapping[str, str] | None = None) -> list[Group]:
    """Flags (:func:`classifier.flags.evaluate`) and metrics of ``features`` by group, in
    :data:`GROUPS` order, empty groups left out. A metric goes to the group of the flag that
    tests it, else by its key (:data:`_PREFIX_GROUPS`)."""
    features = features or {}
    groups = {name: Group(name) for name in GROUPS}
    flag_group: dict[str, str] = {}
    for result in flagmod.evaluate(features):
        group = result.group if result.group in groups else "other"
        groups[group].flags.append(result)
        flag_group.setdefault(result.metric, group)
    for key in sorted(features):
        if key in flag_group:  # shown in its flag's row
            continue
        value = features[key]
        text = metric_text(key, value)
        if not text or isinstance(value, bool):
            continue
        name, unit = metric_unit(key)
        groups[flag_group.get(key) or _group_of(key)].metrics.append(
            MetricRow(key, name, text, unit, (descriptions or {}).get(key, "")))
    return [g for g in groups.values() if g.flags or g.metrics]


def failed_flags(groups: list[Group]) -> list:
    """The failed flags of :func:`vetting_groups`, in page order."""
    return [f for g in groups for f in g.flags if f.passed is False]


# --- catalog parameters ------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    value: str
    unit: str = ""
    note: str = ""


def catalog_params(candidate, target, features: Mapping | None) -> list[Param]:
    """The candidate's and its star's catalog parameters, formatted; a value the catalog lacks but
    the light curve measured (planet radius) is shown with a note saying so."""
    features = features or {}

    def measured(field_name: str, key: str, digits: int) -> tuple[str, str]:
        value = getattr(candidate, field_name)
        if value is not None:
            return sig(value, digits), ""
        text = sig(features.get(key), digits)
        return (text, "from the light curve") if text else ("—", "")

    radius, radius_note = measured("planet_radius_rearth", "planet_radius_rearth", 3)
    params = [
        Param("Period", sig(candidate.period_days, 7) or "—", "d"),
        Param("Epoch", f"{candidate.epoch:.4f}" if candidate.epoch is not None else "—", candidate.epoch_system),
        Param("Duration", sig(candidate.duration_hours, 3) or "—", "h"),
        Param("Depth", sig(candidate.depth_ppm, 3) or "—", "ppm"),
        Param("SNR", sig(candidate.snr, 3) or "—"),
        Param("Impact parameter", f"{candidate.impact:.2f}" if candidate.impact is not None else "—"),
        Param("Planet radius", radius, "R⊕", radius_note),
    ]
    disposition = candidate.catalog_disposition or "—"
    if candidate.catalog_score is not None:
        disposition += f" (score {candidate.catalog_score:.2f})"
    params.append(Param("Catalog disposition", disposition))
    star = [("Teff", sig(target.teff_k, 4), "K"), ("log g", sig(target.logg_cgs, 3), "dex"),
            ("R", sig(target.radius_rsun, 3), "R☉"), ("M", sig(target.mass_msun, 3), "M☉"),
            ("mag", f"{target.magnitude:.2f}" if target.magnitude is not None else "", "")]
    params.append(Param("Star", " · ".join(f"{n} {v} {u}".rstrip() for n, v, u in star if v) or "—"))
    return params


def extra_catalog_columns(candidate) -> list[Param]:
    """The catalog's other numeric columns (``Candidate.catalog_features``), without those already
    shown as parameters above (the table's columns of the model fields, and the fields' own names)."""
    source = candidate.source_catalog
    shown = set(CANDIDATE_COLUMNS.get(source, {}).values()) | set(STAR_COLUMNS.get(source, {}).values())
    shown |= {"period_days", "epoch", "duration_hours", "depth_ppm", "snr", "impact", "planet_radius_rearth"}
    return [Param(key, sig(value, 4) or str(value)) for key, value in sorted((candidate.catalog_features or {}).items())
            if key not in shown]


# --- links to the archives ---------------------------------------------------------------------

_ID = re.compile(r"^\s*(KIC|TIC|EPIC)[\s_-]*(\d+)\s*$", re.IGNORECASE)
_EXOFOP = {"KIC": "https://exofop.ipac.caltech.edu/kepler/edit_target.php?id={n}",
           "EPIC": "https://exofop.ipac.caltech.edu/k2/edit_target.php?id={n}",
           "TIC": "https://exofop.ipac.caltech.edu/tess/target.php?id={n}"}


def target_ids(catalog_id: str) -> tuple[str, str] | None:
    """``("KIC", "11446443")`` from a target id such as ``KIC 11446443``; None for anything else
    (simulated stars, unknown catalogs)."""
    match = _ID.match(catalog_id or "")
    return (match.group(1).upper(), str(int(match.group(2)))) if match else None


def archive_links(target) -> list[tuple[str, str]]:
    """``(name, url)`` of ExoFOP, MAST, SIMBAD and the NASA Exoplanet Archive for a real target
    (a KIC, TIC or EPIC id); none for simulated targets."""
    if target.mission == "simulated":
        return []
    ids = target_ids(target.catalog_id)
    if ids is None:
        return []
    prefix, number = ids
    name = f"{prefix} {number}"
    return [
        ("ExoFOP", _EXOFOP[prefix].format(n=number)),
        ("MAST", "https://mast.stsci.edu/portal/Mashup/Clients/Mast/Portal.html?searchQuery=" + quote(name)),
        ("SIMBAD", "https://simbad.cds.unistra.fr/simbad/sim-id?Ident=" + quote(name)),
        ("NASA Exoplanet Archive", "https://exoplanetarchive.ipac.caltech.edu/overview/" + quote(name)),
    ]
