"""Agreement, throughput and drift statistics of vetters. Pure functions: lists in, numbers out.

No database here: :mod:`vetting.reviews.selectors` reads the labels and passes plain tuples.
Classes are the vocabulary codes (``classifier.vocabulary.CLASS_CODES``). Times are
``datetime`` objects (timezone-aware or not, consistently); durations are in seconds or hours
as the names say. A statistic that cannot be computed (too few items, zero variance) is
``None`` -- never a made-up number.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from classifier.vocabulary import CLASS_CODES

#: Labels further apart than this start a new vetting session.
SESSION_GAP = timedelta(minutes=30)
#: Buckets of "position in session" (1-based label index, inclusive bounds).
SESSION_POSITION_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 10), (11, 20), (21, 40), (41, 80), (81, None))
PLANET_CLASS = "PC"


# --- agreement ---------------------------------------------------------------------------------

def cohen_kappa(a: Sequence[str], b: Sequence[str], *, classes: Sequence[str] = CLASS_CODES) -> float | None:
    """Cohen's kappa of two raters over the same items (``a[i]``, ``b[i]`` rate item ``i``).

    ``kappa = (p_o - p_e) / (1 - p_e)`` with observed agreement ``p_o`` and chance agreement
    ``p_e`` from the raters' marginals. None with fewer than 2 items or when ``p_e == 1``
    (both raters always used one and the same class: agreement is undefined, not perfect).
    """
    if len(a) != len(b):
        raise ValueError(f"raters rated different numbers of items: {len(a)} != {len(b)}")
    if len(a) < 2:
        return None
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum((a.count(c) / n) * (b.count(c) / n) for c in set(classes) | set(a) | set(b))
    if math.isclose(p_e, 1.0):
        return None
    return (p_o - p_e) / (1.0 - p_e)


def _count_matrix(items: Iterable[Sequence[str]], classes: Sequence[str]) -> list[list[int]]:
    index = {c: j for j, c in enumerate(classes)}
    rows = []
    for ratings in items:
        if len(ratings) < 2:
            continue  # one rating says nothing about agreement
        row = [0] * len(classes)
        for r in ratings:
            if r not in index:
                raise ValueError(f"unknown class {r!r}; expected one of {', '.join(classes)}")
            row[index[r]] += 1
        rows.append(row)
    return rows


@dataclass(frozen=True)
class FleissResult:
    """Fleiss' kappa overall and per class (None where undefined), and the items used."""

    kappa: float | None
    per_class: dict[str, float | None]
    n_items: int
    observed: float | None  # mean pairwise agreement P-bar
    expected: float | None  # chance agreement P-e


def fleiss_kappa(items: Iterable[Sequence[str]], *, classes: Sequence[str] = CLASS_CODES) -> FleissResult:
    """Fleiss' kappa for many raters; each element of ``items`` is the list of one item's ratings.

    Items may have different numbers of ratings (the usual generalisation: each item's
    agreement ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))``; class shares ``p_j`` pool all
    ratings). Items with fewer than 2 ratings are skipped. Per-class kappa (Fleiss 1971):
    ``kappa_j = 1 - sum_i n_ij (n_i - n_ij) / (n_i (n_i - 1)) / (N p_j (1 - p_j))``, None for a
    class never or always used.
    """
    rows = _count_matrix(items, classes)
    n_items = len(rows)
    if n_items == 0:
        return FleissResult(None, {c: None for c in classes}, 0, None, None)
    totals = [sum(row) for row in rows]
    all_ratings = sum(totals)
    p = [sum(row[j] for row in rows) / all_ratings for j in range(len(classes))]
    p_bar = sum(
        sum(x * (x - 1) for x in row) / (n * (n - 1)) for row, n in zip(rows, totals)
    ) / n_items
    p_e = sum(pj * pj for pj in p)
    kappa = None if math.isclose(p_e, 1.0) else (p_bar - p_e) / (1.0 - p_e)
    per_class: dict[str, float | None] = {}
    for j, code in enumerate(classes):
        pq = p[j] * (1.0 - p[j])
        if pq <= 0:
            per_class[code] = None
            continue
        disagreement = sum(row[j] * (n - row[j]) / (n * (n - 1)) for row, n in zip(rows, totals))
        per_class[code] = 1.0 - disagreement / (n_items * pq)
    return FleissResult(kappa, per_class, n_items, p_bar, p_e)


@dataclass(frozen=True)
class PairAgreement:
    rater_a: Hashable
    rater_b: Hashable
    n_items: int
    kappa: float | None
    percent: float | None  # share of common items with the same class, 0..1


def pairwise_kappa(labels: Mapping[Hashable, Mapping[Hashable, str]], *,
                   classes: Sequence[str] = CLASS_CODES) -> list[PairAgreement]:
    """Cohen's kappa for every pair of raters on the items both rated.

    ``labels[rater][item] = class``. Pairs are ordered by the raters' sort order.
    """
    raters = sorted(labels, key=str)
    out = []
    for i, ra in enumerate(raters):
        for rb in raters[i + 1:]:
            common = sorted(set(labels[ra]) & set(labels[rb]), key=str)
            a = [labels[ra][k] for k in common]
            b = [labels[rb][k] for k in common]
            percent = (sum(x == y for x, y in zip(a, b)) / len(a)) if a else None
            out.append(PairAgreement(ra, rb, len(common), cohen_kappa(a, b, classes=classes), percent))
    return out


@dataclass(frozen=True)
class ReferenceAgreement:
    n_items: int
    percent: float | None
    kappa: float | None


def agreement_with(rater: Mapping[Hashable, str], reference: Mapping[Hashable, str], *,
                   classes: Sequence[str] = CLASS_CODES) -> ReferenceAgreement:
    """How often one rater matches a reference (the consensus, the model) on common items."""
    common = sorted(set(rater) & set(reference), key=str)
    a = [rater[k] for k in common]
    b = [reference[k] for k in common]
    percent = (sum(x == y for x, y in zip(a, b)) / len(a)) if a else None
    return ReferenceAgreement(len(common), percent, cohen_kappa(a, b, classes=classes))


# --- throughput and sessions ---------------------------------------------------------------

def split_sessions(times: Sequence[datetime], *, gap: timedelta = SESSION_GAP) -> list[list[int]]:
    """Group label times into sessions; returns lists of indices into ``times`` in time order.

    A new session starts when the pause since the previous label is ``gap`` or longer
    (a pause of exactly ``gap`` counts as a break; "separated by < 30 min" stays together).
    """
    order = sorted(range(len(times)), key=lambda i: times[i])
    sessions: list[list[int]] = []
    previous: datetime | None = None
    for i in order:
        if previous is None or times[i] - previous >= gap:
            sessions.append([])
        sessions[-1].append(i)
        previous = times[i]
    return sessions


#: Least active time one label can count for, seconds. Labels written faster than this (seed or
#: scripted labels, a double submit) would make "labels per hour" meaningless: 200 seed labels
#: written within milliseconds read as 80,000 labels/hour. With the floor the rate is at most
#: 3600 / MIN_SECONDS_PER_LABEL and is marked as floored.
MIN_SECONDS_PER_LABEL = 10.0


@dataclass(frozen=True)
class Throughput:
    n_labels: int
    n_sessions: int
    active_hours: float
    labels_per_hour: float | None
    median_seconds: float | None  # median of the measured seconds spent per label
    floored: bool = False  # the rate is bounded by MIN_SECONDS_PER_LABEL, not measured


def throughput(times: Sequence[datetime], seconds_spent: Sequence[float | None], *,
               gap: timedelta = SESSION_GAP, floor_s: float = MIN_SECONDS_PER_LABEL) -> Throughput:
    """Labels per hour of active vetting and the median time per label.

    Active time of a session = time from its first to its last label plus the measured time
    spent on its first label (the page was open before the first submit), but at least
    ``floor_s`` seconds per label of the session; labels/hour is the number of labels over the
    summed active time (None without labels). ``floored`` says some session was shorter than
    its floor: the rate is then an upper bound, not a measurement.
    """
    if len(times) != len(seconds_spent):
        raise ValueError("times and seconds_spent must have the same length")
    sessions = split_sessions(times, gap=gap)
    active = 0.0
    floored = False
    for s in sessions:
        first_spent = seconds_spent[s[0]] or 0.0
        measured_s = (times[s[-1]] - times[s[0]]).total_seconds() + max(0.0, float(first_spent))
        floor = floor_s * len(s)
        floored = floored or measured_s < floor
        active += max(measured_s, floor)
    measured = [float(x) for x in seconds_spent if x is not None and x >= 0]
    hours = active / 3600.0
    return Throughput(
        n_labels=len(times),
        n_sessions=len(sessions),
        active_hours=hours,
        labels_per_hour=(len(times) / hours) if hours > 0 else None,
        median_seconds=statistics.median(measured) if measured else None,
        floored=floored,
    )


# --- drift ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RateBins:
    """Planet-flag rate per bin: ``rate[k] = planets[k] / counts[k]`` (None for empty bins)."""

    labels: list[str]
    counts: list[int]
    planets: list[int]
    rate: list[float | None]


def _rates(labels: list[str], counts: list[int], planets: list[int]) -> RateBins:
    return RateBins(labels, counts, planets, [(p / n) if n else None for p, n in zip(planets, counts)])


def planet_rate_by_hour(times: Sequence[datetime], classes: Sequence[str], *,
                        planet_class: str = PLANET_CLASS) -> RateBins:
    """Share of labels that flag a planet, by hour of day (0..23) of ``times`` as given.

    Pass times already converted to the team's time zone; the hour is ``time.hour``.
    """
    counts, planets = [0] * 24, [0] * 24
    for t, c in zip(times, classes, strict=True):
        counts[t.hour] += 1
        planets[t.hour] += c == planet_class
    return _rates([f"{h:02d}" for h in range(24)], counts, planets)


def session_positions(times: Sequence[datetime], *, gap: timedelta = SESSION_GAP) -> list[int]:
    """The 1-based position of each label within its session (same order as ``times``)."""
    positions = [0] * len(times)
    for session in split_sessions(times, gap=gap):
        for k, i in enumerate(session, start=1):
            positions[i] = k
    return positions


def _bucket_name(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def planet_rate_by_session_position(times: Sequence[datetime], classes: Sequence[str], *,
                                    gap: timedelta = SESSION_GAP,
                                    buckets=SESSION_POSITION_BUCKETS,
                                    planet_class: str = PLANET_CLASS) -> RateBins:
    """Share of planet flags by position in the session (1-10th label, 11-20th, ...).

    Fatigue or anchoring shows as a rate that moves with the position.
    """
    if len(times) != len(classes):
        raise ValueError("times and classes must have the same length")
    counts, planets = [0] * len(buckets), [0] * len(buckets)
    for pos, c in zip(session_positions(times, gap=gap), classes):
        for k, (lo, hi) in enumerate(buckets):
            if pos >= lo and (hi is None or pos <= hi):
                counts[k] += 1
                planets[k] += c == planet_class
                break
    return _rates([_bucket_name(lo, hi) for lo, hi in buckets], counts, planets)


def group_by(rows: Iterable[tuple], key_index: int = 0) -> dict[Hashable, list[tuple]]:
    """Group tuples by one of their fields, keeping input order inside each group."""
    out: dict[Hashable, list[tuple]] = defaultdict(list)
    for row in rows:
        out[row[key_index]].append(row)
    return dict(out)


def leave_one_out_majority(labels: Mapping[Hashable, Mapping[Hashable, str]], rater: Hashable) -> dict[Hashable, str]:
    """For each item ``rater`` labeled, the strict majority class of the *other* raters.

    Comparing a vetter with a consensus that contains their own vote flatters them; this
    reference leaves their vote out. Items nobody else rated, or with a tie, are left out.
    """
    out: dict[Hashable, str] = {}
    for item in labels.get(rater, {}):
        counts: dict[str, int] = defaultdict(int)
        for other, theirs in labels.items():
            if other != rater and item in theirs:
                counts[theirs[item]] += 1
        if not counts:
            continue
        best = max(counts.values())
        winners = [c for c, n in counts.items() if n == best]
        if len(winners) == 1:
            out[item] = winners[0]
    return out


def leave_one_out_reference(labels: Mapping[Hashable, Mapping[Hashable, str]], rater: Hashable,
                            decide: Callable[[list[tuple[Hashable, str]]], str | None],
                            fixed: Mapping[Hashable, str] | None = None) -> dict[Hashable, str]:
    """For each item ``rater`` labeled, the team's answer *without* ``rater``'s vote.

    ``fixed[item]`` (a curator's decision, a gold label) is the answer where present; otherwise
    ``decide([(other rater, class), ...])`` on the other raters' labels (the consensus rule, e.g.
    the Dawid-Skene posterior with the fitted matrices), skipped when nobody else labeled the
    item or ``decide`` returns None (a tie). This is "vs consensus" that does not flatter a
    vetter with their own vote.
    """
    fixed = fixed or {}
    out: dict[Hashable, str] = {}
    for item in labels.get(rater, {}):
        if item in fixed:
            out[item] = fixed[item]
            continue
        others = [(other, theirs[item]) for other, theirs in labels.items() if other != rater and item in theirs]
        if others:
            answer = decide(others)
            if answer is not None:
                out[item] = answer
    return out


# --- intervals, known answers, anchoring ------------------------------------------------------

@dataclass(frozen=True)
class Proportion:
    """``k`` of ``n`` with its Wilson score interval (``low``..``high``, 95 % by default)."""

    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None


def wilson(k: int, n: int, *, z: float = 1.959964) -> Proportion:
    """Wilson score interval of a binomial proportion (better than Wald at small n and near 0/1)."""
    if n <= 0:
        return Proportion(k, n, None, None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Proportion(k, n, p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Difference:
    """``a.value - b.value`` with Newcombe's hybrid score interval (method 10, 1998)."""

    a: Proportion
    b: Proportion
    value: float | None
    low: float | None
    high: float | None


def difference(a: Proportion, b: Proportion) -> Difference:
    """Difference of two independent proportions with Newcombe's interval from their Wilson limits."""
    if a.value is None or b.value is None:
        return Difference(a, b, None, None, None)
    d = a.value - b.value
    low = d - math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2)
    high = d + math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2)
    return Difference(a, b, d, max(-1.0, low), min(1.0, high))


@dataclass(frozen=True)
class Anchoring:
    """Agreement with the model when its prediction was shown before labeling vs hidden."""

    shown: Proportion
    hidden: Proportion
    effect: Difference  # shown - hidden: how far the display pulls labels toward the model


def anchoring(rows: Iterable[tuple[bool, str, str]]) -> Anchoring:
    """``rows``: (model shown before the label, the label's class, the model's class)."""
    counts = {True: [0, 0], False: [0, 0]}
    for shown, label, model in rows:
        counts[bool(shown)][0] += label == model
        counts[bool(shown)][1] += 1
    shown_p, hidden_p = wilson(*counts[True]), wilson(*counts[False])
    return Anchoring(shown_p, hidden_p, difference(shown_p, hidden_p))


@dataclass(frozen=True)
class KnownAnswerScore:
    """A vetter's answers on known-answer candidates: planet recall and precision, accuracy."""

    n: int
    accuracy: Proportion
    recall: Proportion  # of true planets, share labeled planet
    precision: Proportion  # of planet labels, share truly planets


def known_answer_score(answers: Mapping[Hashable, str], truth: Mapping[Hashable, str], *,
                       positive: str = PLANET_CLASS) -> KnownAnswerScore:
    """Score ``answers[item]`` against ``truth[item]`` on the items both have."""
    common = [k for k in answers if k in truth]
    right = sum(answers[k] == truth[k] for k in common)
    true_pos = sum(answers[k] == positive and truth[k] == positive for k in common)
    n_true = sum(truth[k] == positive for k in common)
    n_said = sum(answers[k] == positive for k in common)
    return KnownAnswerScore(len(common), wilson(right, len(common)), wilson(true_pos, n_true),
                            wilson(true_pos, n_said))


#: SNR bin edges of "planet recall vs SNR" (the last bin is open).
SNR_EDGES: tuple[float, ...] = (0.0, 7.1, 10.0, 15.0, 25.0, 50.0)


def recall_by_snr(rows: Iterable[tuple[float | None, str, str]], *, edges: Sequence[float] = SNR_EDGES,
                  positive: str = PLANET_CLASS) -> list[tuple[str, Proportion]]:
    """Planet recall per SNR bin: ``rows`` are (SNR, true class, vetter's class) of known answers
    (as Kepler's injection tests and Planet Hunters report recovery against signal strength)."""
    bins = [[0, 0] for _ in edges]
    for snr, truth, said in rows:
        if truth != positive or snr is None:
            continue
        k = max(i for i, e in enumerate(edges) if snr >= e) if snr >= edges[0] else 0
        bins[k][0] += said == positive
        bins[k][1] += 1
    names = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges, edges[1:])] + [f"≥{edges[-1]:g}"]
    return [(name, wilson(k, n)) for name, (k, n) in zip(names, bins)]


def rate_figure(series: Mapping[str, RateBins], *, title: str, xtitle: str) -> dict:
    """Plotly figure dict: one line per vetter of the planet-flag rate over bins.

    Hover shows the counts behind each point, so a rate from 2 labels is not over-read.
    """
    data = []
    for name, bins in series.items():
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": name, "connectgaps": False,
            "x": bins.labels, "y": bins.rate,
            "customdata": [[p, n] for p, n in zip(bins.planets, bins.counts)],
            "hovertemplate": f"{name}<br>%{{x}}: %{{y:.0%}} planet "
                             "(%{customdata[0]}/%{customdata[1]})<extra></extra>",
        })
    layout = {
        "title": {"text": title}, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "xaxis": {"title": {"text": xtitle}, "type": "category"},
        "yaxis": {"title": {"text": "Share of labels = planet candidate"}, "range": [0, 1], "tickformat": ".0%"},
        "legend": {"orientation": "h", "y": -0.25},
    }
    return {"data": data, "layout": layout}


def snr_recall_figure(bins: Sequence[tuple[str, Proportion]], *, title: str = "Planet recall against SNR") -> dict:
    """Plotly figure dict of :func:`recall_by_snr`: recall per SNR bin with its 95 % Wilson
    interval as error bars, the counts in the hover (as Kepler's injection-recovery curves)."""
    shown = [(name, p) for name, p in bins if p.n]
    x = [name for name, _ in shown]
    y = [p.value for _, p in shown]
    return {
        "data": [{
            "type": "scatter", "mode": "lines+markers", "name": "planet recall", "x": x, "y": y,
            "error_y": {"type": "data", "symmetric": False,
                        "array": [p.high - p.value for _, p in shown],
                        "arrayminus": [p.value - p.low for _, p in shown]},
            "customdata": [[p.k, p.n] for _, p in shown],
            "hovertemplate": "SNR %{x}: recall %{y:.0%} (%{customdata[0]}/%{customdata[1]} planets)<extra></extra>",
        }],
        "layout": {
            "title": {"text": title}, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
            "xaxis": {"title": {"text": "Signal-to-noise ratio of the known answer (injected: expected)"},
                      "type": "category", "categoryarray": [name for name, _ in bins]},
            "yaxis": {"title": {"text": "Share of true planets labeled planet"}, "range": [0, 1.05],
                      "tickformat": ".0%"},
            "showlegend": False,
        },
    }
