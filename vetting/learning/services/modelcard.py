"""Model cards, label snapshots and reproduction of classifier versions.

Files kept beside each version's artifact, through the artifact field's Django storage (so a
web process and a worker on another machine read what the other wrote), named after the
artifact's stem ``models/vetting-model-<sha16>``:

* ``<stem>.labels.npz`` -- the label snapshot the version was trained on
  (:mod:`classifier.reproduce`: design matrix, labels, stars, label sources), written once at
  version creation (:func:`version_files_write`, called by ``promotion.create_version`` and
  ``warm_start.base_model_install``); immutable like the artifact;
* ``<stem>.card.json`` / ``<stem>.card.md`` -- the model card as it was at creation (rewritten
  when a reproduction finishes); :func:`version_card` computes the current card on read
  (status, activity and reproduction change after creation; the training data does not);
* ``<stem>.reproduce.json`` -- the state and result of the last "Reproduce this model" job:
  :func:`reproduce_request` (queued, task sent after commit) -> :func:`reproduce_execute`
  (running -> finished | failed), run by the thin task ``vetting.learning.tasks.reproduce_version``.

No migration: nothing here adds a column; the version row already holds the library versions,
code version, seed, label-snapshot hash and feature names a reproduction checks.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from vetting.learning.models import ClassifierVersion

logger = logging.getLogger(__name__)

SNAPSHOT_SUFFIX = ".labels.npz"
CARD_JSON_SUFFIX = ".card.json"
CARD_MD_SUFFIX = ".card.md"
REPRODUCE_SUFFIX = ".reproduce.json"
#: ``reviews.Consensus.method`` -> label source shown on the card.
METHOD_SOURCE = {"curator": "curator", "gold": "gold", "catalog": "catalog"}
REPRODUCE_TASK = "vetting.learning.tasks.reproduce_version"


class SnapshotMissing(FileNotFoundError):
    """The version has no stored label snapshot (made before snapshots were kept, or lost)."""


# -- where the files live ------------------------------------------------------------------------

def _storage_and_stem(version: ClassifierVersion):
    """(storage, name stem) of the files beside ``version``'s artifact.

    An artifact name that is an absolute path (an artifact directory outside ``MEDIA_ROOT``) gets
    a file-system storage rooted at its directory.
    """
    name = str(version.artifact.name)
    stem = name[: -len(".joblib")] if name.endswith(".joblib") else name
    if Path(name).is_absolute():
        return FileSystemStorage(location=str(Path(name).parent)), Path(stem).name
    return version.artifact.storage, str(PurePosixPath(stem))


def _write(storage, name: str, data: bytes, *, overwrite: bool) -> None:
    if storage.exists(name):
        if not overwrite:
            return
        storage.delete(name)
    saved = storage.save(name, ContentFile(data))
    if saved != name:  # a storage that renamed it would break the naming scheme
        raise RuntimeError(f"storage saved {name!r} as {saved!r}")


def _read(storage, name: str) -> bytes | None:
    if not storage.exists(name):
        return None
    with storage.open(name, "rb") as fh:
        return fh.read()


def file_name(version: ClassifierVersion, suffix: str) -> str:
    """Storage name of one of ``version``'s files (``suffix`` one of the ``*_SUFFIX`` constants)."""
    return _storage_and_stem(version)[1] + suffix


def read_file(version: ClassifierVersion, suffix: str) -> bytes | None:
    """Bytes of one of ``version``'s files, or None when it does not exist."""
    storage, stem = _storage_and_stem(version)
    return _read(storage, stem + suffix)


# -- label snapshot ------------------------------------------------------------------------------

def _consensus_sources(candidate_ids: np.ndarray) -> np.ndarray:
    """Label source of each candidate's consensus now: team, curator, gold or catalog (n,)."""
    from vetting.reviews.models import Consensus

    ids = [int(c) for c in np.asarray(candidate_ids).tolist()]
    methods: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        part = ids[start:start + 5000]
        methods.update(Consensus.objects.filter(candidate_id__in=part).values_list("candidate_id", "method"))
    return np.array([METHOD_SOURCE.get(methods.get(i, ""), "team") for i in ids], dtype=str)


def build_snapshot(*, version: ClassifierVersion, candidate_ids, groups, X, y, sources=None, model=None):
    """The :class:`classifier.reproduce.LabelSnapshot` of a version's training data.

    ``X`` (n, d) is the design matrix the fit saw (columns ``version.feature_names``), ``y`` (n,)
    the labels, ``groups`` (n,) the stars, ``candidate_ids`` (n,). ``sources`` default: the
    consensus method of each candidate (team versions); ``public`` for a base model.
    """
    from classifier.reproduce import LabelSnapshot

    if sources is None:
        sources = (np.full(len(y), "public") if version.origin == ClassifierVersion.Origin.BASE
                   else _consensus_sources(candidate_ids))
    params = {}
    if model is not None and hasattr(model, "get_params"):
        params = model.get_params(deep=False)
    return LabelSnapshot(
        candidate_ids=candidate_ids, groups=groups, X=X, y=y, feature_names=list(version.feature_names),
        sources=sources, meta={"version": version.name, "seed": int(version.seed), "origin": version.origin,
                               "hyperparameters": params, "created": timezone.now().isoformat()},
    )


def read_snapshot(version: ClassifierVersion):
    """The stored label snapshot of ``version``; :class:`SnapshotMissing` when there is none."""
    import io

    from classifier.reproduce import read_snapshot as read

    data = read_file(version, SNAPSHOT_SUFFIX)
    if data is None:
        raise SnapshotMissing(f"{version.name} has no stored label snapshot ({file_name(version, SNAPSHOT_SUFFIX)}); "
                              "versions made before snapshots were kept cannot be reproduced: retrain")
    return read(io.BytesIO(data))


def snapshot_meta(version: ClassifierVersion) -> dict | None:
    """The stored snapshot's counts and metadata without loading its matrix, or None."""
    import io
    import zipfile

    data = read_file(version, SNAPSHOT_SUFFIX)
    if data is None:
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open("meta.npy") as fh:
        meta = json.loads(str(np.lib.format.read_array(fh, allow_pickle=False)))
    return meta


def version_files_write(*, version: ClassifierVersion, candidate_ids, groups, X, y, sources=None, model=None,
                        meta: dict | None = None) -> None:
    """At version creation: store the label snapshot and the model card beside the artifact.

    ``meta`` is added to the snapshot's metadata (e.g. ``{"source": ...}``, the public data set
    of a base model).

    Never raises: a version whose files could not be written still exists (its card is computed
    on read; only reproduction needs the snapshot) and the failure is logged with the reason.
    """
    try:
        from classifier.reproduce import snapshot_bytes

        storage, stem = _storage_and_stem(version)
        snap = build_snapshot(version=version, candidate_ids=candidate_ids, groups=groups, X=X, y=y,
                              sources=sources, model=model)
        snap.meta.update({**(meta or {}), **snap.counts()})
        _write(storage, stem + SNAPSHOT_SUFFIX, snapshot_bytes(snap), overwrite=False)
        card_files_write(version=version)
    except Exception:  # a storage outage must not lose the version the run just made
        logger.exception("model card / label snapshot of %s not written", version.name)


# -- the card ------------------------------------------------------------------------------------

def site_thresholds() -> list[dict]:
    """The thresholds the site shows with a model's output: how probabilities become the
    predicted class and P(planet), the promotion tolerance, the retrain trigger, and the
    vetting flags of the candidate page (``classifier.flags``)."""
    from classifier.flags import FLAGS

    rows = [
        {"name": "predicted class", "value": "argmax", "meaning": "the most probable class"},
        {"name": "P(planet)", "value": "P(PC)", "meaning": "planet-vs-rest probability shown in the queue"},
        {"name": "P(astrophysical)", "value": "P(PC)+P(EB)+P(BEB)", "meaning": "triage probability"},
        {"name": "promotion tolerance", "value": float(settings.VETTING_PROMOTION_TOLERANCE),
         "meaning": "a new model is rejected only if a metric's whole interval is worse by more than this"},
        {"name": "retrain every", "value": f"{int(settings.VETTING_RETRAIN_EVERY_N_LABELS)} labels",
         "meaning": "new consensus labels that start an automatic retrain"},
    ]
    rows += [{"name": f"flag {f.name}", "value": f"passes when {f.threshold_text}", "meaning": f.reference}
             for f in FLAGS]
    return rows


def _stored_card(version: ClassifierVersion) -> dict:
    data = read_file(version, CARD_JSON_SUFFIX)
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {}


def reproduce_state(version: ClassifierVersion) -> dict:
    """The last reproduction job of ``version`` (``{}`` if never requested)."""
    data = read_file(version, REPRODUCE_SUFFIX)
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {"state": "failed", "error": "unreadable reproduction record"}


def card_record(version: ClassifierVersion) -> dict:
    """The record :func:`classifier.modelcard.build_card` needs, from the version row, its stored
    snapshot counts (frozen at creation) and its reproduction record."""
    meta = snapshot_meta(version)
    stored = _stored_card(version)
    if meta is not None:
        training = {"per_class": meta.get("per_class") or {}, "per_source": meta.get("per_source") or {}}
        params = meta.get("hyperparameters") or {}
    else:
        training = dict(stored.get("training_data") or {})
        params = (stored.get("model") or {}).get("hyperparameters") or {}
        training.setdefault("note", "no label snapshot stored for this version: counts per class and source are "
                                    "unknown and it cannot be reproduced")
    training.update({"label_snapshot_hash": version.label_snapshot_hash, "n_labels": version.n_labels})
    source = (meta or {}).get("source") or (stored.get("details") or {}).get("source")
    return {
        "name": version.name, "created_at": version.created_at.isoformat() if version.created_at else None,
        "origin": version.origin, "status": version.status, "is_active": version.is_active,
        "decision_reason": version.decision_reason, "source": source,
        "artifact": {"file": PurePosixPath(str(version.artifact.name)).name, "sha256": version.artifact_sha256},
        "training_data": training, "metrics": version.metrics or {}, "comparison": version.comparison or {},
        "hyperparameters": params, "n_features": len(version.feature_names or []),
        "thresholds": site_thresholds(), "library_versions": version.library_versions or {},
        "code_version": version.code_version, "seed": version.seed, "reproduction": reproduce_state(version),
    }


def version_card(version: ClassifierVersion) -> dict:
    """The model card of ``version`` now (JSON-ready dict)."""
    from classifier.modelcard import build_card

    return build_card(card_record(version))


def card_files_write(*, version: ClassifierVersion) -> dict:
    """Write the current card as ``.card.json`` and ``.card.md`` beside the artifact; returns it."""
    from classifier.modelcard import card_json, card_markdown

    card = version_card(version)
    storage, stem = _storage_and_stem(version)
    _write(storage, stem + CARD_JSON_SUFFIX, card_json(card).encode(), overwrite=True)
    _write(storage, stem + CARD_MD_SUFFIX, card_markdown(card).encode(), overwrite=True)
    return card


# -- reproduction job ----------------------------------------------------------------------------

def _write_state(version: ClassifierVersion, state: dict) -> None:
    storage, stem = _storage_and_stem(version)
    _write(storage, stem + REPRODUCE_SUFFIX, json.dumps(state, indent=2, sort_keys=True).encode(), overwrite=True)


def reproduce_request(*, version: ClassifierVersion, requested_by=None) -> dict:
    """Queue a reproduction of ``version`` (curators: site button, admin action); returns the state.

    A job already queued or running is returned as it is (requests coalesce). The task is sent
    after the current transaction commits. :class:`SnapshotMissing` when there is nothing to
    reproduce from.
    """
    from vetting.core import jobs

    if read_file(version, SNAPSHOT_SUFFIX) is None:
        raise SnapshotMissing(f"{version.name} has no stored label snapshot; it cannot be reproduced")
    current = reproduce_state(version)
    if current.get("state") in ("queued", "running"):
        return current
    state = {"state": "queued", "requested_at": timezone.now().isoformat(),
             "requested_by": getattr(requested_by, "username", None)}
    _write_state(version, state)
    jobs.send_on_commit(REPRODUCE_TASK, version.pk)
    return state


def reproduce_execute(*, version_id: int) -> dict:
    """Run the reproduction of version ``version_id``: refit from its stored snapshot with the
    recorded seed and hyperparameters, compare probabilities, store the result and refresh the
    card files. Returns the final state (``finished`` with the result, or ``failed`` with the error)."""
    from classifier.reproduce import SnapshotError, reproduce
    from vetting.learning.services import artifacts

    version = ClassifierVersion.objects.get(pk=version_id)
    state = {**reproduce_state(version), "state": "running", "started_at": timezone.now().isoformat()}
    _write_state(version, state)
    metadata = {"library_versions": version.library_versions, "code_version": version.code_version,
                "label_snapshot_hash": version.label_snapshot_hash, "feature_names": version.feature_names,
                "seed": version.seed}
    try:
        result = reproduce(artifacts.load_model(version), metadata, read_snapshot(version))
    except (SnapshotMissing, SnapshotError, FileNotFoundError, RuntimeError, ValueError) as exc:
        state.update(state="failed", error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now().isoformat())
    else:
        state.update(state="finished", finished_at=timezone.now().isoformat(), summary=result.summary(),
                     **result.as_dict())
    _write_state(version, state)
    card_files_write(version=version)
    logger.info("reproduction of %s: %s", version.name, state.get("summary") or state.get("error"))
    return state
