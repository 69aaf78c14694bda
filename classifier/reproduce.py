"""Label snapshots and model reproduction (``python -m classifier reproduce``).

A **label snapshot** is everything a training run fed the ensemble, frozen in one ``.npz`` file
(no pickles: numeric and unicode arrays only, read with ``allow_pickle=False``):

==================  ===============================================================================
array               content
==================  ===============================================================================
``candidate_ids``   (n,) str -- the site's candidate id (or a public catalog id) of each row
``groups``          (n,) int64 or str -- star of each row (cross-validation never splits a star)
``X``               (n, d) float32 when that is lossless, else float64 -- the design matrix
``y``               (n,) str -- class codes (the consensus labels)
``weights``         (n,) float64 -- training weight of each row (the ensemble trains unweighted:
                    all 1; kept so a weighted trainer needs no new format)
``sources``         (n,) str -- who decided the label: team, curator, gold, catalog, public
``feature_names``   (d,) str
``meta``            0-d str -- JSON: format, label-snapshot hash, model hyperparameters, ...
==================  ===============================================================================

:func:`reproduce` refits a copy of an artifact's model (``sklearn.base.clone``: the same
constructor parameters, seed included) on the snapshot and compares both models' probabilities
on the snapshot's candidates. With the recorded library and code versions the fit is the same
computation and the probabilities agree exactly (tolerance :data:`SAME_ENVIRONMENT_TOLERANCE`);
with other versions numerical details of the libraries may move them, and agreement within
:data:`CROSS_VERSION_TOLERANCE` is what is claimed.
"""
from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from classifier.jsonutil import jsonable

SNAPSHOT_FORMAT = 1
#: Largest probability difference accepted when every recorded library and code version equals
#: the installed one: the refit is the same computation, so it must agree to rounding (in
#: practice exactly, 0.0).
SAME_ENVIRONMENT_TOLERANCE = 1e-12
#: Largest probability difference accepted when versions differ: 0.01, the scale on which the
#: site judges models (``VETTING_PROMOTION_TOLERANCE``) and below the two decimals the pages show.
CROSS_VERSION_TOLERANCE = 0.01
#: Label sources a snapshot row may name.
SOURCES = ("team", "curator", "gold", "catalog", "public")

_ARRAYS = ("candidate_ids", "groups", "X", "y", "weights", "sources", "feature_names", "meta")


class SnapshotError(ValueError):
    """A label snapshot file that cannot be read or does not fit the model."""


@dataclass
class LabelSnapshot:
    """The training data of one model (see the module docstring for shapes and units)."""

    candidate_ids: np.ndarray
    groups: np.ndarray
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    weights: np.ndarray | None = None
    sources: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.y)
        self.candidate_ids = np.asarray([str(c) for c in self.candidate_ids], dtype=str).reshape(n)
        groups = np.asarray(self.groups)
        self.groups = groups.astype(np.int64) if groups.dtype.kind in "iu" else groups.astype(str)
        self.X = np.asarray(self.X, dtype=np.float64)
        self.y = np.asarray([str(v) for v in self.y], dtype=str).reshape(n)
        self.weights = np.ones(n) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        self.sources = (np.full(n, "team") if self.sources is None
                        else np.asarray([str(s) for s in self.sources], dtype=str).reshape(n))
        self.feature_names = [str(f) for f in self.feature_names]
        if self.X.ndim != 2 or self.X.shape != (n, len(self.feature_names)):
            raise SnapshotError(f"X has shape {self.X.shape}; expected ({n}, {len(self.feature_names)}) "
                                "(one row per label, one column per feature name)")
        for name in ("candidate_ids", "groups", "weights", "sources"):
            if len(getattr(self, name)) != n:
                raise SnapshotError(f"{name} has {len(getattr(self, name))} rows; expected {n}")
        unknown = sorted(set(self.sources.tolist()) - set(SOURCES))
        if unknown:
            raise SnapshotError(f"unknown label sources {unknown}; expected some of {', '.join(SOURCES)}")

    @property
    def classes(self) -> list[str]:
        """Class codes present, sorted alphabetically."""
        return sorted(set(self.y.tolist()))

    def label_hash(self) -> str:
        """:func:`classifier.persistence.label_snapshot_hash` of the (candidate id, class) pairs."""
        from classifier.persistence import label_snapshot_hash

        return label_snapshot_hash(zip(self.candidate_ids.tolist(), self.y.tolist()))

    def counts(self) -> dict:
        """``{"per_class": {code: n}, "per_source": {source: n}}`` (JSON-ready)."""
        per_class = dict(sorted(_count(self.y).items()))
        per_source = {s: n for s, n in _count(self.sources).items()}
        return {"per_class": per_class, "per_source": {s: per_source.get(s, 0) for s in SOURCES}}


def _count(values: np.ndarray) -> dict[str, int]:
    keys, n = np.unique(values, return_counts=True)
    return {str(k): int(v) for k, v in zip(keys.tolist(), n.tolist())}


def _lossless_float32(X: np.ndarray) -> bool:
    X32 = X.astype(np.float32)
    same = (X32.astype(np.float64) == X) | (np.isnan(X) & np.isnan(X32))
    return bool(same.all())


def write_snapshot(target, snapshot: LabelSnapshot) -> None:
    """Write ``snapshot`` as a compressed ``.npz`` to a path or a binary file object.

    ``X`` is stored as float32 when that loses nothing (the site's design matrix is float32),
    else as float64, so the reproduced fit sees the very numbers the original one saw.
    """
    X = snapshot.X.astype(np.float32) if _lossless_float32(snapshot.X) else snapshot.X
    meta = {"format": SNAPSHOT_FORMAT, "label_snapshot_hash": snapshot.label_hash(), **jsonable(snapshot.meta)}
    np.savez_compressed(
        target, candidate_ids=snapshot.candidate_ids, groups=snapshot.groups, X=X, y=snapshot.y,
        weights=snapshot.weights, sources=snapshot.sources, feature_names=np.asarray(snapshot.feature_names, dtype=str),
        meta=np.asarray(json.dumps(meta, sort_keys=True)),
    )


def snapshot_bytes(snapshot: LabelSnapshot) -> bytes:
    """:func:`write_snapshot` into memory (for storage backends that take bytes)."""
    buffer = io.BytesIO()
    write_snapshot(buffer, snapshot)
    return buffer.getvalue()


def read_snapshot(source) -> LabelSnapshot:
    """Read a snapshot from a path or a binary file object; :class:`SnapshotError` when it is not one."""
    try:
        with np.load(source, allow_pickle=False) as data:
            missing = [a for a in _ARRAYS if a not in data.files]
            if missing:
                raise SnapshotError(f"not a label snapshot: arrays {missing} are missing")
            arrays = {a: data[a] for a in _ARRAYS}
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError(f"cannot read the label snapshot {source}: {exc}") from None
    meta = json.loads(str(arrays["meta"]))
    if int(meta.get("format", 0)) > SNAPSHOT_FORMAT:
        raise SnapshotError(f"label snapshot format {meta.get('format')} is newer than this code ({SNAPSHOT_FORMAT})")
    return LabelSnapshot(
        candidate_ids=arrays["candidate_ids"], groups=arrays["groups"], X=arrays["X"], y=arrays["y"],
        feature_names=arrays["feature_names"].tolist(), weights=arrays["weights"], sources=arrays["sources"],
        meta=meta,
    )


@dataclass
class ReproduceResult:
    """Outcome of :func:`reproduce` (``asdict`` gives the JSON stored beside the artifact)."""

    matches: bool
    max_abs_diff: float
    max_abs_diff_oof: float | None
    tolerance: float
    n_candidates: int
    hash_matches: bool
    recorded_hash: str
    snapshot_hash: str
    differing_versions: dict = field(default_factory=dict)
    hyperparameters: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return jsonable(asdict(self))

    def summary(self) -> str:
        """One paragraph a person reads (the command prints it; the model card shows it)."""
        env = ("same library and code versions as recorded" if not self.differing_versions else
               "versions differ from the recorded ones: " + ", ".join(
                   f"{k} {v['recorded']} -> {v['installed']}" for k, v in self.differing_versions.items()))
        verdict = "reproduced" if self.matches else "NOT reproduced"
        oof = ("" if self.max_abs_diff_oof is None
               else f"; out-of-fold probabilities differ by at most {self.max_abs_diff_oof:.3g}")
        labels = ("label snapshot hash matches the model's" if self.hash_matches else
                  f"label snapshot hash {self.snapshot_hash[:12]} differs from the model's {self.recorded_hash[:12]}")
        return (f"{verdict}: max |p_original - p_refit| = {self.max_abs_diff:.3g} over {self.n_candidates} candidates "
                f"(tolerance {self.tolerance:g}){oof}; {labels}; {env}.")


def differing_versions(recorded: Mapping, installed: Mapping) -> dict[str, dict]:
    """``{name: {"recorded", "installed"}}`` for every recorded version that differs (or is missing)."""
    out = {}
    for name, value in sorted(recorded.items()):
        now = installed.get(name)
        if str(value) != str(now):
            out[name] = {"recorded": value, "installed": now}
    return out


def reproduce(model, metadata: Mapping, snapshot: LabelSnapshot, *, tolerance: float | None = None,
              installed: Mapping | None = None) -> ReproduceResult:
    """Refit ``model``'s estimator on ``snapshot`` and compare probabilities with ``model``.

    Parameters
    ----------
    model : fitted estimator
        The artifact's model (``classifier.training.VettingEnsemble``); its constructor
        parameters (profile, families, calibration folds, ``random_state`` = the recorded seed)
        define the refit.
    metadata : mapping
        The artifact's metadata (:func:`classifier.persistence.read_metadata`): ``library_versions``,
        ``code_version``, ``label_snapshot_hash``, ``feature_names``, ``seed``.
    snapshot : LabelSnapshot
    tolerance : float, optional
        Default :data:`SAME_ENVIRONMENT_TOLERANCE` when no version differs, else
        :data:`CROSS_VERSION_TOLERANCE`.
    installed : mapping, optional
        Installed versions (default: :func:`classifier.persistence.library_versions` plus
        ``code_version``).

    Returns
    -------
    ReproduceResult
        ``max_abs_diff`` is max |p_original - p_refit| over all (candidate, class) cells of the
        snapshot, probabilities in 0..1.

    Raises
    ------
    SnapshotError
        The snapshot's feature columns or classes are not the model's.
    """
    from sklearn.base import clone

    from classifier.persistence import code_version, library_versions

    recorded_names = list(metadata.get("feature_names") or [])
    if recorded_names and recorded_names != snapshot.feature_names:
        raise SnapshotError(f"the snapshot has {len(snapshot.feature_names)} feature columns that are not the model's "
                            f"{len(recorded_names)} (first difference at column "
                            f"{_first_difference(recorded_names, snapshot.feature_names)})")
    model_classes = [str(c) for c in getattr(model, "classes_", [])]
    if model_classes and sorted(model_classes) != snapshot.classes:
        raise SnapshotError(f"the snapshot's classes {snapshot.classes} are not the model's {model_classes}")
    if not np.all(snapshot.weights == 1.0):
        raise SnapshotError("the snapshot has row weights other than 1; this ensemble trains unweighted")
    installed = dict(installed) if installed is not None else {**library_versions(), "code": code_version()}
    recorded = {**dict(metadata.get("library_versions") or {}), "code": metadata.get("code_version") or "unknown"}
    differ = differing_versions(recorded, installed)
    if tolerance is None:
        tolerance = SAME_ENVIRONMENT_TOLERANCE if not differ else CROSS_VERSION_TOLERANCE
    refit = clone(model).fit(snapshot.X, snapshot.y.astype(object), snapshot.groups)
    p_old, p_new = model.predict_proba(snapshot.X), refit.predict_proba(snapshot.X)
    diff = float(np.max(np.abs(p_old - p_new))) if p_old.size else 0.0
    oof_old, oof_new = getattr(model, "oof_proba_", None), getattr(refit, "oof_proba_", None)
    diff_oof = None
    if oof_old is not None and oof_new is not None and np.shape(oof_old) == np.shape(oof_new) and np.size(oof_old):
        diff_oof = float(np.nanmax(np.abs(np.asarray(oof_old) - np.asarray(oof_new))))
    recorded_hash = str(metadata.get("label_snapshot_hash") or "")
    snap_hash = snapshot.label_hash()
    worst = max(diff, diff_oof or 0.0)
    return ReproduceResult(
        matches=bool(worst <= tolerance), max_abs_diff=diff, max_abs_diff_oof=diff_oof, tolerance=float(tolerance),
        n_candidates=int(len(snapshot.y)), hash_matches=recorded_hash == snap_hash, recorded_hash=recorded_hash,
        snapshot_hash=snap_hash, differing_versions=differ,
        hyperparameters=jsonable({k: v for k, v in model.get_params(deep=False).items()}),
    )


def _first_difference(a: list[str], b: list[str]) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"{i}: {x!r} vs {y!r}"
    return f"{min(len(a), len(b))} (lengths differ)"


def reproduce_files(artifact: str | Path, labels: str | Path, *, tolerance: float | None = None) -> ReproduceResult:
    """:func:`reproduce` for an artifact file (sha256 checked) and a snapshot file."""
    from classifier.persistence import load_artifact

    art = load_artifact(artifact)
    return reproduce(art.model, art.metadata, read_snapshot(labels), tolerance=tolerance)


def print_report(result: ReproduceResult, *, json_path: str | Path | None = None) -> None:
    """Print the verdict and each version that differs; also write the result as JSON if asked
    (``python -m classifier reproduce``: exit status 1 when ``result.matches`` is False)."""
    print(result.summary())
    for name, v in result.differing_versions.items():
        print(f"  {name}: recorded {v['recorded']}, installed {v['installed']}")
    if json_path:
        Path(json_path).write_text(json.dumps(result.as_dict(), indent=2, sort_keys=True))


__all__ = ["CROSS_VERSION_TOLERANCE", "LabelSnapshot", "ReproduceResult", "SAME_ENVIRONMENT_TOLERANCE",
           "SnapshotError", "differing_versions", "print_report", "read_snapshot", "reproduce", "reproduce_files",
           "snapshot_bytes", "write_snapshot"]
