"""Model cards: what a classifier version is, what it was trained on, how good it is, where it fails.

Pure functions, no Django: :func:`build_card` turns a plain record (a dict the site fills from a
``ClassifierVersion``, its artifact metadata and its label snapshot) into the card, a JSON-ready
dict with a fixed set of sections; :func:`card_markdown` renders that dict as Markdown (the file
written beside the artifact, ``/model-card.md`` and the release archive all use it). Sections
follow Mitchell et al. 2019, "Model Cards for Model Reporting" (FAT* '19), trimmed to what a
vetting classifier needs: details, training data, model, metrics, thresholds, limits,
environment, reproduction.

Record keys (all optional except ``name``): ``name``, ``created_at``, ``origin`` (``team`` |
``base``), ``status``, ``is_active``, ``decision_reason``, ``artifact`` ``{"file", "sha256"}``,
``training_data`` ``{"label_snapshot_hash", "n_labels", "per_class", "per_source", "note"}``,
``metrics`` (the stored cross-validated metrics: ``planet_ap``, ..., ``families``,
``calibration``, ``calibration_scores``, ``calibration_temperatures``, ``combine``, ``profile``,
``n_cv_folds``, ``dropped_families``),
``comparison`` (``classifier.evaluation.paired_compare`` details), ``hyperparameters``,
``thresholds`` (list of ``{"name", "value", "meaning"}``), ``limits`` (extra sentences),
``library_versions``, ``code_version``, ``seed``, ``source`` (public data set of a base model),
``reproduction`` (a ``classifier.reproduce.ReproduceResult.as_dict()`` plus ``state``/``finished_at``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from classifier.jsonutil import jsonable
from classifier.vocabulary import CLASS_CODES, CLASS_NAMES

CARD_FORMAT = 1
#: Cross-validated metrics shown in the card, with what each measures.
CARD_METRICS: tuple[tuple[str, str], ...] = (
    ("planet_ap", "average precision of P(planet) for planet vs rest"),
    ("triage_ap", "average precision of P(astrophysical) for PC/EB/BEB vs rest"),
    ("planet_auc", "ROC AUC of P(planet)"),
    ("accuracy", "top-class accuracy"),
    ("ece", "expected calibration error of the top class (lower is better)"),
    ("log_loss", "multiclass log loss (lower is better)"),
)
#: Fewer labels of a class than this and its calibration is called thin (the ensemble's own
#: isotonic threshold, ``classifier.training.MIN_PER_CLASS_FOR_ISOTONIC``).
THIN_CLASS_LABELS = 40
ORIGINS = {"team": "trained on the team's consensus labels", "base": "warm start trained on public labels"}


def _num(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None


def _limits(record: Mapping, per_class: Mapping[str, int], metrics: Mapping) -> list[str]:
    """Known limits read off the record: classes it cannot predict, thin classes, what the
    metrics do and do not measure, the origin's caveats."""
    out = []
    missing = [c for c in CLASS_CODES if c not in per_class]
    if per_class and missing:
        out.append("Never predicts " + ", ".join(f"{c} ({CLASS_NAMES[c]})" for c in missing)
                   + ": no training labels of these classes.")
    thin = [f"{c} ({n})" for c, n in per_class.items() if n < THIN_CLASS_LABELS]
    if thin:
        out.append(f"Few labels (< {THIN_CLASS_LABELS}) for {', '.join(thin)}: their probabilities are calibrated "
                   "with a sigmoid on few examples and their metrics are uncertain.")
    out.append("Metrics are cross-validated on the model's own labels, grouped by star; they are not measured on "
               "an independent survey, and consensus labels can be wrong (mislabels are flagged, not removed).")
    if record.get("origin") == "base":
        out.append("Base model: trained on public labels of another data set; its probabilities on this site's "
                   "candidates are only as good as the match between the two data sets.")
    dropped = metrics.get("dropped_families") or {}
    if dropped:
        out.append("Model families dropped while training: " + "; ".join(f"{k}: {v}" for k, v in dropped.items()) + ".")
    out.extend(str(s) for s in record.get("limits") or [])
    return out


def _intervals(comparison: Mapping) -> dict:
    """The paired comparison with the model it was judged against, per metric (new, old, diff
    and its bootstrap interval), or {} when it was not compared."""
    if not comparison:
        return {}
    rows = {k: v for k, v in comparison.items() if isinstance(v, Mapping) and "diff" in v}
    return {
        "against": comparison.get("against"), "n_labels": comparison.get("n"),
        "confidence": comparison.get("confidence"), "tolerance": comparison.get("tolerance"),
        "n_boot": comparison.get("n_boot"), "own_oof": comparison.get("own_oof"),
        "predicted": comparison.get("predicted"),
        "metrics": {k: {**{f: _num(v.get(f)) for f in ("new", "old", "diff", "low", "high")},
                        "failed": bool(v.get("failed"))} for k, v in rows.items()},
    }


def build_card(record: Mapping) -> dict:
    """The model card of one version (JSON-ready dict; see the module docstring for ``record``)."""
    if not record.get("name"):
        raise ValueError("a model card needs the version's name")
    metrics = dict(record.get("metrics") or {})
    training = dict(record.get("training_data") or {})
    per_class = {c: int(n) for c, n in (training.get("per_class") or {}).items()}
    origin = record.get("origin") or "team"
    card = {
        "format": CARD_FORMAT,
        "name": record["name"],
        "details": {
            "created_at": record.get("created_at"), "origin": origin, "origin_text": ORIGINS.get(origin, origin),
            "source": record.get("source"), "status": record.get("status"), "is_active": bool(record.get("is_active")),
            "decision_reason": record.get("decision_reason") or "",
            "artifact": dict(record.get("artifact") or {}),
        },
        "training_data": {
            "label_snapshot_hash": training.get("label_snapshot_hash"), "n_labels": training.get("n_labels"),
            "per_class": {c: per_class[c] for c in CLASS_CODES if c in per_class},
            "per_source": dict(training.get("per_source") or {}), "note": training.get("note") or "",
        },
        "model": {
            "families": list(metrics.get("families") or []), "calibration": metrics.get("calibration"),
            "calibration_scores": dict(metrics.get("calibration_scores") or {}),
            "calibration_temperatures": dict(metrics.get("calibration_temperatures") or {}),
            "combine": metrics.get("combine"), "profile": metrics.get("profile"),
            "n_cv_folds": metrics.get("n_cv_folds"), "n_features": record.get("n_features"),
            "mirrored_views": metrics.get("mirrored_views"), "committee": metrics.get("committee"),
            "hyperparameters": dict(record.get("hyperparameters") or {}),
        },
        "metrics": {
            "cross_validated": {k: _num(metrics.get(k)) for k, _ in CARD_METRICS if k in metrics},
            "comparison": _intervals(record.get("comparison") or {}),
        },
        "thresholds": [dict(t) for t in record.get("thresholds") or []],
        "limits": _limits(record, per_class, metrics),
        "environment": {
            "library_versions": dict(record.get("library_versions") or {}),
            "code_version": record.get("code_version") or "", "seed": record.get("seed"),
        },
        "reproduction": dict(record.get("reproduction") or {}),
    }
    return jsonable(card)


def card_json(card: Mapping) -> str:
    """The card as indented JSON text (stable key order)."""
    return json.dumps(card, indent=2, sort_keys=True) + "\n"


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _yes_no(value) -> str:
    """``yes``/``no`` for a recorded flag, ``—`` for versions that did not record it."""
    return "—" if value is None else ("yes" if value else "no")


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _calibration_lines(model: Mapping) -> list[str]:
    """How the calibration map was chosen (out-of-fold log loss of each map tried) and the
    temperature of each family's calibrator, when the record has them."""
    out = []
    scores = model.get("calibration_scores") or {}
    if scores:
        out.append("- Calibration chosen by out-of-fold log loss among: " + ", ".join(
            f"{c} ({_fmt(s.get('log_loss'))}, with {s.get('combine')})" for c, s in scores.items()))
    temps = model.get("calibration_temperatures") or {}
    if temps:
        out.append("- Family temperatures (> 1: the family was over-confident): "
                   + ", ".join(f"{n} {_fmt(t, 2)}" for n, t in temps.items()))
    return out


def card_markdown(card: Mapping) -> str:
    """The card as Markdown (GitHub-flavoured tables), for people and for a data deposit."""
    d, t, m, e = card["details"], card["training_data"], card["model"], card["environment"]
    out = [f"# Model card: {card['name']}", ""]
    out += [f"- Origin: {d['origin']} ({d['origin_text']})" + (f", source {d['source']}" if d.get("source") else ""),
            f"- Created: {_fmt(d.get('created_at'))}",
            f"- Status: {_fmt(d.get('status'))}{' (active)' if d.get('is_active') else ''}",
            f"- Decision: {d.get('decision_reason') or '—'}"]
    if d.get("artifact"):
        out.append(f"- Artifact: `{d['artifact'].get('file', '')}` sha256 `{d['artifact'].get('sha256', '')}`")
    out += ["", "## Training data", "",
            f"- Labels: {_fmt(t.get('n_labels'))}; label snapshot sha256 `{t.get('label_snapshot_hash') or '—'}`"]
    if t.get("note"):
        out.append(f"- {t['note']}")
    out += [""] + _table(("class", "name", "labels"),
                         [(c, CLASS_NAMES.get(c, c), n) for c, n in t["per_class"].items()])
    if t.get("per_source"):
        out += [""] + _table(("label source", "labels"), list(t["per_source"].items()))
    out += ["", "## Model", "",
            f"- Families: {', '.join(m['families']) or '—'}; calibration {_fmt(m.get('calibration'))}; "
            f"combination {_fmt(m.get('combine'))}; profile {_fmt(m.get('profile'))}",
            *_calibration_lines(m),
            f"- Cross-validation folds (grouped by star): {_fmt(m.get('n_cv_folds'))}; "
            f"features: {_fmt(m.get('n_features'))}; "
            f"trained on mirrored views too: {_yes_no(m.get('mirrored_views'))}; "
            f"disagreement measured between: {_fmt(m.get('committee'))}"]
    if m.get("hyperparameters"):
        out.append("- Hyperparameters: " + ", ".join(f"`{k}={v}`" for k, v in sorted(m["hyperparameters"].items())))
    out += ["", "## Metrics", "", "Cross-validated on the training labels (out-of-fold, grouped by star):", ""]
    cv = card["metrics"]["cross_validated"]
    meaning = dict(CARD_METRICS)
    out += _table(("metric", "value", "meaning"), [(k, v, meaning.get(k, "")) for k, v in cv.items()])
    comp = card["metrics"]["comparison"]
    if comp:
        level = comp.get("confidence")
        out += ["", f"Paired comparison with {comp.get('against')} on the same {comp.get('n_labels')} labels "
                f"(bootstrap over stars, {_fmt(level and 100 * level, 0)}% interval of new − old; "
                f"tolerance {_fmt(comp.get('tolerance'), 3)}):", ""]
        out += _table(("metric", "this model", comp.get("against") or "old", "difference", "interval low",
                       "interval high", "worse beyond tolerance"),
                      [(k, v["new"], v["old"], v["diff"], v["low"], v["high"], "yes" if v["failed"] else "no")
                       for k, v in comp["metrics"].items()])
    if card["thresholds"]:
        out += ["", "## Thresholds shown on the site", ""]
        out += _table(("name", "value", "meaning"), [(x.get("name"), x.get("value"), x.get("meaning", ""))
                                                    for x in card["thresholds"]])
    out += ["", "## Known limits", ""] + [f"- {s}" for s in card["limits"]]
    out += ["", "## Environment", "", f"- Seed: {_fmt(e.get('seed'))}; code version `{e.get('code_version') or '—'}`"]
    out += [f"- {k}: {v}" for k, v in sorted(e["library_versions"].items())]
    r = card.get("reproduction") or {}
    out += ["", "## Reproduction", ""]
    if r.get("summary"):
        out.append(f"- {r.get('state', 'finished')} {_fmt(r.get('finished_at'))}: {r['summary']}")
    elif r.get("state"):
        out.append(f"- {r['state']}{': ' + r['error'] if r.get('error') else ''}")
    else:
        out.append("- Not reproduced yet.")
    out.append("- Command: `python -m classifier reproduce ARTIFACT --labels SNAPSHOT` "
               "(ARTIFACT: the model file; SNAPSHOT: its label snapshot `.npz`).")
    return "\n".join(out) + "\n"


__all__ = ["CARD_FORMAT", "CARD_METRICS", "build_card", "card_json", "card_markdown"]
