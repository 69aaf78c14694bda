"""Warm start: a base model trained on public labels, installed before the team has labels.

:func:`base_model_install` trains the site's ensemble on a public labeled set read by
``classifier.loaders`` (an Astronet-Triage-style views bundle: ``candidates.csv`` + ``views.npz``;
or a NASA Exoplanet Archive table: Kepler DR24/DR25 TCEs, KOI cumulative, TESS TOIs), with the
site's design-matrix columns, and records it as a ``ClassifierVersion`` with origin ``base``.

* With no active model (or ``replace_active=True``) it is promoted, every candidate is scored
  and the vetting queue is built from it, so vetters start from its probabilities.
* The team's first own model replaces it when it is not worse **on the team's labels**: the
  promotion of every later run compares both models on the same labels
  (:mod:`vetting.learning.services.promotion`); the base model has never seen the team's labels,
  so its predictions there are out of sample.

Note: the public candidates themselves need not be imported into the site; when they are (the
same TCEs imported with ``import_views``), team labels on them are in-sample for the base model,
which favours keeping it.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from vetting.learning.models import ClassifierVersion
from vetting.learning.services import artifacts, modelcard, progress, rescoring
from vetting.learning.services.training import cv_folds

logger = logging.getLogger(__name__)


def _load_public(path: str | Path, *, split: str | None):
    """Labeled rows of a public data set (classifier.loaders.load_any), optionally one split."""
    import pandas as pd

    from classifier.loaders import load_any

    path = Path(path)
    ds = load_any(path)
    if split:
        table = pd.read_csv(path / "candidates.csv", usecols=["candidate_id", "split"], dtype=str)
        keep_ids = set(table.loc[table["split"] == split, "candidate_id"])
        if not keep_ids:
            raise ValueError(f"no rows of split {split!r} in {path / 'candidates.csv'}")
        ds = ds.subset(np.array([str(c) in keep_ids for c in ds.candidate_ids]))
    if ds.y is None or not ds.labeled_mask.any():
        raise ValueError(f"{path} has no labels to train a base model on")
    return ds.subset(ds.labeled_mask)


def base_model_install(*, path: str | Path, split: str | None = None, replace_active: bool = False,
                       seed: int | None = None, profile: str | None = None) -> ClassifierVersion:
    """Train a base model on the public labels at ``path`` and record it (see the module docstring).

    Parameters
    ----------
    path : path
        Astronet-layout directory or archive CSV table.
    split : str, optional
        Only rows of this ``split`` column value (views bundles), e.g. ``train``.
    replace_active : bool
        Activate it even when a model is active (default: only when none is).
    seed, profile : optional
        Default ``VETTING_TRAINING_SEED`` and ``VETTING_TRAINING_PROFILE``.

    Returns
    -------
    ClassifierVersion
        ``origin="base"``; promoted and active if it was installed as the starting model, else
        kept as rejected with the reason.
    """
    from classifier.dataset import feature_names_for
    from classifier.jsonutil import jsonable
    from classifier.persistence import label_snapshot_hash
    from classifier.training import train
    from vetting.learning.featurize import SCALAR_NAMES

    seed = int(settings.VETTING_TRAINING_SEED if seed is None else seed)
    profile = profile or settings.VETTING_TRAINING_PROFILE
    ds = _load_public(path, split=split)
    site_names = feature_names_for(list(SCALAR_NAMES))
    if list(ds.feature_names) != site_names:
        raise ValueError("the public data set's design matrix does not have the site's columns")
    result = train(ds.X.astype(np.float64), ds.y, ds.groups, seed=seed, profile=profile,
                   n_splits=cv_folds())
    snap = label_snapshot_hash(zip((str(c) for c in ds.candidate_ids), (str(v) for v in ds.y.tolist())))
    name = f"base-{artifacts.next_version_name()}"
    source = f"{Path(path).name}{f' ({split})' if split else ''}"
    artifact, sha256, library_versions, code_version = artifacts.save_version_artifact(
        result, site_names, snap, len(ds.y), seed, name=name, extra={"origin": "base", "source": str(path)},
    )
    with transaction.atomic():
        progress.advisory_lock("promotion")
        active = ClassifierVersion.objects.filter(is_active=True).first()
        install = active is None or replace_active
        reason = (f"base model from public labels ({source}, {len(ds.y)} labels): installed as the starting model"
                  if install else f"base model from public labels ({source}): not installed, {active.name} is active")
        version = ClassifierVersion(
            name=name, artifact=artifact, artifact_sha256=sha256, metrics=jsonable(result.metrics),
            label_snapshot_hash=snap, n_labels=len(ds.y), classes=list(result.classes), feature_names=site_names,
            library_versions=library_versions, code_version=code_version, seed=seed,
            origin=ClassifierVersion.Origin.BASE, decision_reason=reason,
            status=ClassifierVersion.Status.PROMOTED if install else ClassifierVersion.Status.REJECTED,
        )
        version.full_clean()
        version.save()
    modelcard.version_files_write(version=version, candidate_ids=ds.candidate_ids, groups=ds.groups,
                                  X=ds.X.astype(np.float64), y=ds.y, model=result.model, meta={"source": source})
    if install:
        rescoring.rescore_sync(version=version)
    logger.info("base model %s from %s: %s", name, source, reason)
    return version
