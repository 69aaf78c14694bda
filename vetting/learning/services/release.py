"""A labeled-data release: one zip archive ready to deposit (e.g. on Zenodo).

:func:`release_build` writes, under one top directory ``label-release-<version>/``:

=========================  ========================================================================
file                       content
=========================  ========================================================================
``label_snapshot.npz``     the version's training data exactly as the fit saw it
                           (:mod:`classifier.reproduce`)
``labels.csv``             one row per training label: candidate, star, class, source, weight, and
                           the ``simulated`` / ``known_answer`` / ``injected`` marks
``candidates.csv``         the labeled candidates' catalog columns and design-matrix features
``model_card.md``/``.json``  the version's model card (:mod:`classifier.modelcard`)
``model/<artifact>``       the model file and its JSON sidecar (to reproduce and to compare)
``environment.txt``        every installed distribution, ``name==version`` (what ``pip freeze``
                           lists), Python and platform
``constraints.txt``        the repository's pinned constraints, when present
``README.md``              what is in the archive and the command that reproduces the model
``MANIFEST.sha256``        SHA-256 of every other file, ``sha256sum -c`` format
=========================  ========================================================================

Known-answer candidates (a curator's gold checks or injected synthetic signals) are marked,
never passed off as real: ``known_answer`` is 1 for any known-answer check, ``injected`` for a
signal injected into a light curve, ``simulated`` for a simulated (demo) candidate.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings

from vetting.core.export import csv_safe
from vetting.learning.models import ClassifierVersion
from vetting.learning.services import modelcard

CANDIDATE_COLUMNS = ("candidate_id", "catalog_id", "source_catalog", "mission", "star", "ra_deg", "dec_deg",
                     "period_days", "epoch", "epoch_system", "duration_hours", "depth_ppm", "snr", "impact",
                     "planet_radius_rearth", "catalog_disposition", "catalog_score")
MARK_COLUMNS = ("simulated", "known_answer", "injected")


class ReleaseError(ValueError):
    """The release cannot be built (no version, no stored snapshot)."""


def _version(version: ClassifierVersion | str | int | None) -> ClassifierVersion:
    if isinstance(version, ClassifierVersion):
        return version
    qs = ClassifierVersion.objects.all()
    if version is None:
        found = qs.filter(is_active=True).first()
        if found is None:
            raise ReleaseError("no classifier version is active; name one")
        return found
    text = str(version)
    found = qs.filter(pk=int(text)).first() if text.isdigit() else None
    found = found or qs.filter(name=text).first()
    if found is None:
        raise ReleaseError(f"no classifier version {text!r}")
    return found


def environment_lines() -> list[str]:
    """``name==version`` of every installed distribution (sorted, as ``pip freeze``), after a
    comment with Python and the platform."""
    names = {}
    for dist in importlib_metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            names[name.lower()] = f"{name}=={dist.version}"
    return [f"# python {platform.python_version()} on {platform.platform()}"] + [names[k] for k in sorted(names)]


def _marks(candidate_ids: list[int]) -> dict[int, dict]:
    """``{candidate id: {"simulated", "known_answer", "injected"}}`` for site candidates."""
    from vetting.candidates.models import Candidate, SourceCatalog
    from vetting.reviews import models as review_models

    marks = {i: dict.fromkeys(MARK_COLUMNS, 0) for i in candidate_ids}
    for start in range(0, len(candidate_ids), 5000):
        part = candidate_ids[start:start + 5000]
        for pk, catalog, truth in (Candidate.objects.filter(pk__in=part)
                                   .values_list("pk", "source_catalog", "simulated_truth")):
            marks[pk]["simulated"] = int(catalog == SourceCatalog.SIMULATED or bool(truth))
        for pk in review_models.CandidateReview.objects.filter(candidate_id__in=part, is_known_answer=True) \
                .values_list("candidate_id", flat=True):
            marks[pk]["known_answer"] = 1
        known = getattr(review_models, "KnownAnswer", None)  # injected signals, when that model exists
        if known is not None and hasattr(known, "source"):
            for pk, source in known.objects.filter(candidate_id__in=part).values_list("candidate_id", "source"):
                marks[pk]["known_answer"] = 1
                marks[pk]["injected"] = int(marks[pk]["injected"] or source == "injected")
    return marks


def _catalog_rows(candidate_ids: list[int]) -> dict[int, tuple]:
    from vetting.candidates.models import Candidate

    rows = {}
    fields = ("pk", "catalog_id", "source_catalog", "target__mission", "target__catalog_id", "target__ra_deg",
              "target__dec_deg", "period_days", "epoch", "epoch_system", "duration_hours", "depth_ppm", "snr",
              "impact", "planet_radius_rearth", "catalog_disposition", "catalog_score")
    for start in range(0, len(candidate_ids), 5000):
        part = candidate_ids[start:start + 5000]
        for row in Candidate.objects.filter(pk__in=part).values_list(*fields):
            rows[row[0]] = row[1:]
    return rows


def _csv(header, rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_safe(v) for v in row] for row in rows)  # formulas neutralised, as every site CSV
    return buffer.getvalue().encode()


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return "" if value != value else repr(float(value))
    return str(value)


def _readme(version: ClassifierVersion, top: str, artifact_file: str, n: int) -> bytes:
    return f"""# Label release {top}

Labels the vetting team's classifier version **{version.name}** was trained on ({n} labels,
label-snapshot sha256 `{version.label_snapshot_hash}`), with the candidates, the model card, the
model itself and the software environment.

- `labels.csv`, `candidates.csv`: the labels and the candidates' catalog columns and features.
  Rows marked `known_answer`, `injected` or `simulated` are checks or simulations, not real
  astrophysical classifications.
- `label_snapshot.npz`: the training data exactly as the fit saw it (numpy, no pickles).
- `model/{artifact_file}`: the model; reproduce it with
  `python -m classifier reproduce model/{artifact_file} --labels label_snapshot.npz`
  (from the vetting site's repository, code version `{version.code_version}`, in an environment
  built from `environment.txt` / `constraints.txt`; loading the model file unpickles it, so only
  load an archive whose `MANIFEST.sha256` you have verified: `sha256sum -c MANIFEST.sha256`).
- `model_card.md`: what the model is, its metrics with intervals, its known limits.
""".encode()


def release_build(*, out, version: ClassifierVersion | str | int | None = None) -> dict:
    """Write the release zip of ``version`` (default: the active one) to ``out`` (path or binary file).

    Returns ``{"version", "top", "files": {relative name: sha256}}``. :class:`ReleaseError` when
    the version does not exist or has no stored label snapshot.
    """
    version = _version(version)
    try:
        snap = modelcard.read_snapshot(version)
    except modelcard.SnapshotMissing as exc:
        raise ReleaseError(str(exc)) from None
    top = f"label-release-{version.name}"
    site_ids = [int(c) for c in snap.candidate_ids.tolist() if c.isdigit()] if version.origin == "team" else []
    marks, catalog = _marks(site_ids), _catalog_rows(site_ids)
    empty_marks = dict.fromkeys(MARK_COLUMNS, 0)
    label_rows, candidate_rows = [], []
    for i, cid in enumerate(snap.candidate_ids.tolist()):
        key = int(cid) if cid.isdigit() and version.origin == "team" else None
        mark = marks.get(key, empty_marks)
        label_rows.append((cid, snap.groups[i], snap.y[i], snap.sources[i], _fmt(snap.weights[i]),
                           *(mark[m] for m in MARK_COLUMNS)))
        cat = catalog.get(key) or ("",) * (len(CANDIDATE_COLUMNS) - 1)
        candidate_rows.append((cid, *(_fmt(v) for v in cat), *(mark[m] for m in MARK_COLUMNS),
                               *(_fmt(v) for v in snap.X[i].tolist())))
    card = modelcard.version_card(version)
    from classifier.modelcard import card_json, card_markdown

    art_name = PurePosixPath(str(version.artifact.name)).name
    art_bytes = modelcard.read_file(version, ".joblib")
    if art_bytes is None or hashlib.sha256(art_bytes).hexdigest() != version.artifact_sha256:
        raise ReleaseError(f"the artifact of {version.name} does not match its recorded sha256; not released")
    files: dict[str, bytes] = {
        "label_snapshot.npz": modelcard.read_file(version, modelcard.SNAPSHOT_SUFFIX),
        "labels.csv": _csv(("candidate_id", "star", "label_class", "source", "weight", *MARK_COLUMNS), label_rows),
        "candidates.csv": _csv((*CANDIDATE_COLUMNS, *MARK_COLUMNS, *snap.feature_names), candidate_rows),
        "model_card.md": card_markdown(card).encode(),
        "model_card.json": card_json(card).encode(),
        f"model/{art_name}": art_bytes,
        "environment.txt": ("\n".join(environment_lines()) + "\n").encode(),
        "README.md": _readme(version, top, art_name, len(snap.y)),
    }
    sidecar = modelcard.read_file(version, ".json")
    if sidecar is not None:
        files[f"model/{PurePosixPath(art_name).stem}.json"] = sidecar
    constraints = Path(settings.BASE_DIR) / "constraints.txt"
    if constraints.exists():
        files["constraints.txt"] = constraints.read_bytes()
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    manifest = "".join(f"{digest}  {name}\n" for name, digest in digests.items())
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(f"{top}/{name}", data)
        zf.writestr(f"{top}/MANIFEST.sha256", manifest)
    return {"version": version.name, "top": top, "files": digests,
            "counts": json.loads(json.dumps(snap.counts()))}


def verify_manifest(zf: zipfile.ZipFile) -> list[str]:
    """Names whose SHA-256 differs from the archive's ``MANIFEST.sha256`` (empty: all verify)."""
    manifest = next(n for n in zf.namelist() if n.endswith("/MANIFEST.sha256"))
    top = manifest.rsplit("/", 1)[0]
    bad = []
    for line in zf.read(manifest).decode().splitlines():
        digest, name = line.split("  ", 1)
        if hashlib.sha256(zf.read(f"{top}/{name}")).hexdigest() != digest:
            bad.append(name)
    return bad
