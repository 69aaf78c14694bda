"""Active learning: which candidates to show vetters next, and which labels look wrong.

:func:`select_batch` mixes strategies (uncertainty, query by committee, likely planets,
random) in a configurable share, with an optional diversity step (:func:`spread_by_score` on an
embedding of the design matrix) so a batch does not hold near-copies. :func:`rank_suspected_mislabels`
implements confident learning's self-confidence and normalized-margin rankings.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from classifier.evaluation import model_disagreement, normalized_entropy, planet_probability, top_class_disagreement

#: Default share of each strategy in a batch (values are normalised to sum to 1): six tenths to
#: planet-vs-rest uncertainty, a fifth to the model's likeliest planets, a tenth to committee
#: disagreement and a tenth random for unbiased estimates. Chosen by bench/bench_query_mix.py at
#: the site's retrain cadence (a batch of 50 labels, ``VETTING_RETRAIN_EVERY_N_LABELS``) on the
#: Astronet-Triage train split alone (two halves by star: pool and test), among four mixes (a tie
#: at 850 labels with the former confirm-heavy default, broken by the larger mean AP over the
#: rounds), then reported on the validation split (pool = train, 13,201): 1,050 and 1,250 labels
#: (8.0 % and 9.5 % of the pool) to reach the whole-pool planet AP on seeds 100 and 101; the
#: confirm-heavy mix (likely_planet 0.6, planet 0.2, committee 0.1, random 0.1) needed 1,350 and
#: 1,200. At batches of 100 the same bench had chosen likely_planet 0.1, planet 0.5, committee
#: 0.3, random 0.1 (1,400 labels, 10.6 %). Random sampling: see docs/curators-guide.md.
#: Change it (and ``VETTING_QUERY_MIX``) only from a completed run of that benchmark.
DEFAULT_MIX: dict[str, float] = {"likely_planet": 0.2, "planet": 0.6, "committee": 0.1, "random": 0.1}
STRATEGIES = (
    "uncertainty", "least_confidence", "margin", "entropy", "committee", "planet", "likely_planet", "random",
)
#: Candidate pool for the diversity step, as a multiple of the number of picks.
DIVERSITY_POOL_FACTOR = 5


@dataclass(frozen=True)
class Query:
    """One candidate chosen for labeling.

    Attributes
    ----------
    index : int
        Row of the scored pool.
    strategy : str
        Strategy that chose it (for unbiased estimates, ``random`` picks can be singled out).
    priority : float
        Order within the batch, 1 down to 1/len(batch): larger is shown first. Strategies are
        interleaved in their mix shares; within a strategy, its most informative pick first.
    """

    index: int
    strategy: str
    priority: float


def informativeness(scores, strategy: str) -> np.ndarray:
    """Score (n,) where larger means more worth labeling.

    Parameters
    ----------
    scores : classifier.training.Scores or mapping
        Needs ``proba`` (n, k); ``committee`` also needs ``committee_proba`` (else ``family_proba``,
        else ``disagreement``).
    strategy : {"uncertainty", "entropy", "least_confidence", "margin", "committee", "planet"}
        ``uncertainty`` is an alias of ``entropy`` (normalised entropy). ``planet`` is the
        uncertainty of planet vs not planet only, ``1 - |2 p_planet - 1|`` (what vetters care
        about most; it needs ``p_planet``, or ``proba`` with ``classes``). ``likely_planet`` is
        ``p_planet`` itself: the most probable planets first. Planets are rare (3 % of TESS
        TCEs), so confirming or refuting the model's best planets finds the positives, and
        the look-alikes that fool it, much faster than uncertainty sampling.
    """
    if strategy == "planet":
        return 1.0 - np.abs(2.0 * _planet_probability(scores) - 1.0)
    if strategy == "likely_planet":
        return _planet_probability(scores)
    proba = np.asarray(_get(scores, "proba"), dtype=float)
    if strategy in ("uncertainty", "entropy"):
        return normalized_entropy(proba)
    if strategy == "least_confidence":
        return 1.0 - proba.max(axis=1)
    if strategy == "margin":
        srt = np.sort(proba, axis=1)
        second = srt[:, -2] if proba.shape[1] > 1 else 0.0
        return 1.0 - (srt[:, -1] - second)
    if strategy == "committee":
        fam = _committee(scores)
        if fam:
            # Top-class votes first; the soft divergence (< 1e-3 of a vote) only breaks ties.
            return top_class_disagreement(fam) + 1e-3 * model_disagreement(fam)
        dis = _get(scores, "disagreement", None)
        if dis is None:
            raise ValueError("committee strategy needs committee_proba, family_proba or disagreement in scores")
        # Stored top-class disagreement takes few values: the ensemble's entropy breaks ties.
        return np.asarray(dis, dtype=float) + 1e-3 * normalized_entropy(proba)
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")


def _committee(scores) -> dict:
    """The members' probabilities the ``committee`` strategy compares: ``committee_proba`` (the
    families, or a one-family model's fold models), else ``family_proba``; {} when neither is given."""
    return dict(_get(scores, "committee_proba", None) or _get(scores, "family_proba", None) or {})


def _planet_probability(scores) -> np.ndarray:
    p = _get(scores, "p_planet", None)
    if p is not None:
        return np.asarray(p, dtype=float)
    classes = _get(scores, "classes", None)
    if classes is None:
        raise ValueError("planet strategy needs p_planet, or proba with classes, in scores")
    return planet_probability(np.asarray(_get(scores, "proba"), dtype=float), list(classes))


def _get(obj, name, *default):
    if isinstance(obj, Mapping):
        return obj.get(name, *default) if default else obj[name]
    return getattr(obj, name, *default)


def embed(X: np.ndarray, n_components: int = 10, random_state: int = 0) -> np.ndarray:
    """Low-dimensional embedding (n, <= n_components) of a design matrix for diversity.

    Median imputation, standardisation, then PCA; the diversity step measures Euclidean
    distances in this space.
    """
    X = np.asarray(X, dtype=float)
    Z = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(X)
    Z = StandardScaler().fit_transform(Z)
    k = int(min(n_components, Z.shape[0], Z.shape[1]))
    if k < 1:
        return Z
    return PCA(n_components=k, random_state=random_state).fit_transform(Z)


def spread_by_score(
    embedding: np.ndarray, candidates: np.ndarray, k: int, selected: Sequence[int] = (), separation: float = 0.2,
) -> list[int]:
    """Take candidates in order of preference, skipping near-copies of rows already taken.

    A candidate closer than ``separation`` x the median distance between two candidates to a
    row already in the batch is skipped; if that leaves fewer than ``k``, the
    skipped ones fill up the batch in order. Unlike k-center (farthest point first), this keeps
    the most informative rows and only thins out clumps, so it does not trade informativeness
    for outliers.

    Parameters
    ----------
    embedding : ndarray (n, m)
    candidates : ndarray of int
        Rows eligible, most preferred first.
    k : int
        Number to pick.
    selected : sequence of int
        Rows already in the batch (near-copies of them are skipped too).
    separation : float
        Minimum distance, in units of the median distance between two candidates.

    Returns
    -------
    list of int
        At most ``k`` rows of ``candidates``, in the order taken.
    """
    candidates = np.asarray(candidates, dtype=int)
    if k <= 0 or len(candidates) == 0:
        return []
    E = np.asarray(embedding, dtype=float)[candidates]
    d2 = ((E[:, None, :] - E[None, :, :]) ** 2).sum(-1)
    pairs = np.sqrt(d2[np.triu_indices(len(candidates), 1)])
    min_d2 = (separation * float(np.median(pairs))) ** 2 if len(pairs) else 0.0
    if len(selected):
        S = np.asarray(embedding, dtype=float)[np.asarray(selected, dtype=int)]
        nearest = ((E[:, None, :] - S[None, :, :]) ** 2).sum(-1).min(axis=1)
    else:
        nearest = np.full(len(candidates), np.inf)
    taken: list[int] = []
    skipped: list[int] = []
    for i in range(len(candidates)):
        if len(taken) == k:
            break
        if nearest[i] < min_d2:
            skipped.append(i)
            continue
        taken.append(i)
        nearest = np.minimum(nearest, d2[i])
    taken += skipped[: k - len(taken)]
    return [int(candidates[i]) for i in taken]


def select_batch(
    scores,
    embedding: np.ndarray | None = None,
    *,
    batch_size: int,
    mix: Mapping[str, float] | None = None,
    seed: int = 0,
    exclude: Sequence[int] | np.ndarray | None = None,
    diversity: bool = True,
) -> list[Query]:
    """Choose a batch of candidates to label.

    Parameters
    ----------
    scores : classifier.training.Scores or mapping with ``proba`` (n, k) and optionally
        ``committee_proba`` / ``family_proba`` / ``disagreement``
        Scores of the unlabeled pool.
    embedding : ndarray (n, m), optional
        Coordinates for the diversity step (e.g. :func:`embed` of the design matrix). Without
        it, diversity is off.
    batch_size : int
    mix : mapping strategy -> share, optional
        Default :data:`DEFAULT_MIX`. Shares are normalised; counts are rounded by largest
        remainder. ``committee`` with a committee of one (one family's probabilities and no fold
        members) falls back to ``uncertainty``.
    seed : int
        Seed of the random picks.
    exclude : sequence of int, optional
        Rows never to pick (already labeled, queued elsewhere).
    diversity : bool
        For each informative strategy, walk the top ``DIVERSITY_POOL_FACTOR`` x its count in
        order of score and skip near-copies of rows already in the batch
        (:func:`spread_by_score`), so a batch is not twenty copies of one look-alike.

    Returns
    -------
    list of Query
        At most ``batch_size`` distinct rows, sorted by decreasing priority.
    """
    if batch_size < 0:
        raise ValueError("batch_size must be >= 0")
    mix = dict(DEFAULT_MIX if mix is None else mix)
    for name, share in mix.items():
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r} in mix; expected some of {', '.join(STRATEGIES)}")
        if share < 0:
            raise ValueError(f"share of {name!r} must be >= 0")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("mix shares must sum to a positive number")
    proba = np.asarray(_get(scores, "proba"))
    n = len(proba)
    rng = np.random.default_rng(seed)
    available = np.ones(n, dtype=bool)
    if exclude is not None and len(exclude):
        available[np.asarray(exclude, dtype=int)] = False
    batch_size = int(min(batch_size, available.sum()))
    counts = _allocate(mix, total, batch_size)
    # A committee of one cannot disagree: uncertainty instead. (A stored ``disagreement`` alone was
    # measured on a committee when the scores were made.)
    members = _committee(scores)
    has_committee = len(members) > 1 if members else _get(scores, "disagreement", None) is not None

    chosen: list[Query] = []
    # Informative strategies first (larger shares first), random last so it samples what is left.
    order = sorted((s for s in counts if s != "random"), key=lambda s: -counts[s])
    order += ["random"] if "random" in counts else []
    for strategy in order:
        k = counts[strategy]
        if k == 0:
            continue
        if strategy == "random":
            idx = rng.choice(np.flatnonzero(available), size=min(k, int(available.sum())), replace=False)
        else:
            used = strategy if (strategy != "committee" or has_committee) else "uncertainty"
            info = informativeness(scores, used)
            cand = np.flatnonzero(available)
            # Stable sort with a random tie-break so equal scores do not favour low indices.
            cand = cand[np.lexsort((rng.random(len(cand)), -info[cand]))]
            if diversity and embedding is not None:
                pool = cand[: max(k, DIVERSITY_POOL_FACTOR * k)]
                idx = np.array(spread_by_score(embedding, pool, k, [q.index for q in chosen]), dtype=int)
            else:
                idx = cand[:k]
        available[idx] = False
        chosen.extend(Query(int(i), strategy, 0.0) for i in idx)  # best first; priority set below
    return _interleave(chosen)


def _interleave(chosen: list[Query]) -> list[Query]:
    """Order a batch so that every prefix holds the strategies in about their mix shares.

    Vetters work from the top of the queue and rarely finish it: sorting by raw scores would
    put one strategy's picks first (their scales differ: p_planet near 1 beats a committee's
    disagreement of 0.1). The j-th of a strategy's n picks (best first) is placed at
    (j + 0.5) / n of the batch; priorities run from 1 down to 1/len(batch).
    """
    groups: dict[str, list[Query]] = {}
    for q in chosen:
        groups.setdefault(q.strategy, []).append(q)
    keyed = [((j + 0.5) / len(qs), rank, q) for rank, qs in enumerate(groups.values()) for j, q in enumerate(qs)]
    keyed.sort(key=lambda t: (t[0], t[1]))
    n = len(keyed)
    return [Query(q.index, q.strategy, (n - r) / n) for r, (_, _, q) in enumerate(keyed)]


def _allocate(mix: Mapping[str, float], total: float, batch_size: int) -> dict[str, int]:
    """Largest-remainder rounding of ``batch_size * share``."""
    raw = {s: batch_size * v / total for s, v in mix.items()}
    counts = {s: int(np.floor(r)) for s, r in raw.items()}
    rest = batch_size - sum(counts.values())
    for s in sorted(raw, key=lambda s: -(raw[s] - counts[s]))[:rest]:
        counts[s] += 1
    return counts


def rank_suspected_mislabels(
    y: Sequence[str], cv_probabilities: np.ndarray, classes: Sequence[str], *, method: str = "normalized_margin"
) -> tuple[np.ndarray, np.ndarray]:
    """Rank labeled candidates by how likely their label is wrong (confident learning).

    Parameters
    ----------
    y : sequence of str, length n
        Given labels.
    cv_probabilities : ndarray (n, k)
        Out-of-fold probabilities (e.g. ``TrainResult.oof_proba``), columns ``classes``.
    classes : sequence of str
    method : {"normalized_margin", "self_confidence"}
        As in cleanlab's ``get_label_quality_scores``: self-confidence is p[given label];
        normalized margin is p[given] - max_{j != given} p[j], mapped to [0, 1] by (1 + m) / 2.

    Returns
    -------
    order : ndarray of int (n,)
        Row indices, most suspicious first.
    suspicion : ndarray (n,)
        1 - label quality, in [0, 1], aligned with the input rows (larger = more suspicious).
    """
    classes = list(classes)
    P = np.asarray(cv_probabilities, dtype=float)
    y = list(y)
    if P.ndim != 2 or P.shape != (len(y), len(classes)):
        raise ValueError(f"cv_probabilities must have shape ({len(y)}, {len(classes)}); got {P.shape}")
    unknown = sorted({v for v in y if v not in classes})
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model classes {classes}")
    idx = np.array([classes.index(v) for v in y], dtype=int)
    rows = np.arange(len(y))
    self_conf = P[rows, idx]
    if method == "self_confidence":
        quality = self_conf
    elif method == "normalized_margin":
        others = P.copy()
        others[rows, idx] = -np.inf
        best_other = others.max(axis=1) if P.shape[1] > 1 else np.zeros(len(y))
        quality = (1.0 + self_conf - best_other) / 2.0
    else:
        raise ValueError(f"unknown method {method!r}; expected normalized_margin or self_confidence")
    suspicion = 1.0 - quality
    order = np.argsort(-suspicion, kind="stable")
    return order, suspicion
