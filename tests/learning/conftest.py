"""Fixtures of the learning tests: small populations of candidates with learnable views."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.dataset import GLOBAL_VIEW_BINS, LOCAL_VIEW_BINS

#: The three classes the tests train on (keeps fits small and fast).
TEST_CLASSES = ("PC", "EB", "J")


def synthetic_views(label: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Global (201,) and local (61,) views plus catalog scalars for one candidate of ``label``.

    PC: shallow U-shaped transit; EB: deep V-shaped eclipse with a secondary at phase 0.5;
    J: noise with a sinusoid and no real transit. Noise makes the classes overlap a little.
    """
    phase = np.linspace(-0.5, 0.5, GLOBAL_VIEW_BINS)
    x = np.linspace(-2.0, 2.0, LOCAL_VIEW_BINS)
    noise = rng.uniform(0.05, 0.4)
    if label == "PC":
        local = -np.clip(1.2 - np.abs(x) ** 4, 0, 1)
        glob = -np.exp(-0.5 * (phase / 0.01) ** 2)
        depth = rng.uniform(100, 3000)
    elif label == "EB":
        local = -np.clip(1.0 - np.abs(x), 0, 1)
        glob = (-np.exp(-0.5 * (phase / 0.015) ** 2)
                - rng.uniform(0.2, 0.6) * np.exp(-0.5 * ((np.abs(phase) - 0.5) / 0.015) ** 2))
        depth = rng.uniform(3000, 50000)
    else:
        k = rng.uniform(1, 4)
        local = 0.5 * np.sin(k * x + rng.uniform(0, 6))
        glob = 0.5 * np.sin(2 * np.pi * k * phase + rng.uniform(0, 6))
        depth = rng.uniform(50, 2000)
    local = local + rng.normal(0, noise, LOCAL_VIEW_BINS)
    glob = glob + rng.normal(0, noise, GLOBAL_VIEW_BINS)
    scalars = {"depth_ppm": depth, "snr": depth / rng.uniform(20, 200), "period_days": rng.uniform(0.5, 50)}
    return glob.astype("<f4"), local.astype("<f4"), scalars


@pytest.fixture
def make_population(db):
    """Factory: ``make_population(n, seed=0)`` -> list of (Candidate, true class).

    Candidates get views and scalars from :func:`synthetic_views`; about one in five shares
    its star with the previous candidate (so grouping by star matters).
    """
    from vetting.candidates.models import Candidate, Mission, SourceCatalog, Target

    counter = {"n": 0}

    def make(n: int, *, seed: int = 0, classes=TEST_CLASSES) -> list[tuple[Candidate, str]]:
        rng = np.random.default_rng(seed)
        out, target = [], None
        candidates = []
        truths = []
        for _ in range(n):
            counter["n"] += 1
            i = counter["n"]
            if target is None or rng.random() > 0.2:
                target = Target.objects.create(
                    mission=Mission.SIMULATED, catalog_id=f"SIM-{seed}-{i:06d}",
                    teff_k=float(rng.uniform(4000, 6500)), radius_rsun=float(rng.uniform(0.7, 1.5)),
                )
            label = classes[int(rng.integers(len(classes)))]
            glob, local, s = synthetic_views(label, rng)
            candidates.append(Candidate(
                target=target, source_catalog=SourceCatalog.SIMULATED, catalog_id=f"SIM-{seed}-{i:06d}.01",
                period_days=s["period_days"], duration_hours=3.0, depth_ppm=s["depth_ppm"], snr=s["snr"],
                global_view=glob.tobytes(), local_view=local.tobytes(), simulated_truth=label,
            ))
            truths.append(label)
        created = Candidate.objects.bulk_create(candidates)
        out = list(zip(created, truths))
        return out

    return make


@pytest.fixture
def fast_training(settings):
    """Small, quick training for tests: 2 CV folds, few flags, short queue."""
    settings.VETTING_TRAINING_CV_FOLDS = 2
    settings.VETTING_TRAINING_PROFILE = "fast"
    settings.VETTING_MISLABEL_FLAGS = 5
    settings.VETTING_QUEUE_SIZE = 30
    # Two cheap families keep a committee (disagreement) while fits take well under a second.
    settings.VETTING_TRAINING_FAMILIES = ("logistic", "extra_trees")
    return settings


def label_all(population, vetter, *, flip_every: int = 0):
    """Label candidates through the reviews service (truth, or a wrong class every ``flip_every``)."""
    from vetting.reviews.services import label_create

    for k, (cand, truth) in enumerate(population):
        label = truth
        if flip_every and k % flip_every == 0:
            label = TEST_CLASSES[(TEST_CLASSES.index(truth) + 1) % len(TEST_CLASSES)]
        label_create(candidate=cand, vetter=vetter, label_class=label, confidence=1.0)


def label_fast(population, vetter, *, flip_every: int = 0):
    """Like :func:`label_all` but in bulk (one insert, then the reviews consensus service)."""
    from vetting.reviews.models import Label
    from vetting.reviews.services import consensus_recompute_many

    rows = []
    for k, (cand, truth) in enumerate(population):
        label = truth
        if flip_every and k % flip_every == 0:
            label = TEST_CLASSES[(TEST_CLASSES.index(truth) + 1) % len(TEST_CLASSES)]
        rows.append(Label(candidate=cand, vetter=vetter, label_class=label, confidence=1.0))
    Label.objects.bulk_create(rows)
    consensus_recompute_many(candidate_ids=[c.pk for c, _ in population])


@pytest.fixture(autouse=True)
def _roles_exist(_django_db_helper):
    """Role groups come from a data migration that a transactional test's flush removes."""
    from django.contrib.auth.models import Group

    from vetting.core.roles import ROLES

    for name in ROLES:
        Group.objects.get_or_create(name=name)
