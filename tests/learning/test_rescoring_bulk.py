"""Predictions written in bulk (issue 16): the PostgreSQL COPY + one-upsert path and the ORM
``bulk_create`` path write the same rows, first as inserts then as updates; ANALYZE after a
rescore; the SQLite path in a fresh interpreter on a SQLite database."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from tests.web.pagedata import make_version
from vetting.core import db
from vetting.learning.models import Prediction, QueueEntry
from vetting.learning.services import queue as queue_services
from vetting.learning.services import rescoring

REPO = Path(__file__).resolve().parents[2]
SCORED = ("probabilities", "per_model", "predicted_class", "p_planet", "p_triage", "uncertainty", "disagreement")


def _rows(candidates, version, *, shift: float = 0.0) -> list[Prediction]:
    rows = []
    for i, c in enumerate(candidates):
        p = round(0.1 + 0.2 * i + shift, 6)
        rows.append(Prediction(
            candidate_id=c.pk, classifier_version_id=version.pk, probabilities={"PC": p, "EB": round(1 - p, 6)},
            per_model={"logistic": {"PC": p, "EB": round(1 - p, 6)}, "extra_trees": {"PC": 0.5, "EB": 0.5}},
            predicted_class="PC" if p >= 0.5 else "EB", p_planet=p, p_triage=min(1.0, p + 0.1),
            uncertainty=0.3 + shift, disagreement=0.01 * i))
    return rows


def _stored(version) -> list[tuple]:
    return [tuple(r) for r in Prediction.objects.filter(classifier_version=version).order_by("candidate_id")
            .values_list("candidate_id", *SCORED)]


@pytest.mark.django_db
def test_copy_and_orm_upserts_write_the_same_rows_then_update_them_in_place(make_candidate):
    assert db.is_postgresql()
    candidates = [make_candidate() for _ in range(4)]
    v_orm, v_copy = make_version("v-orm", active=False), make_version("v-copy", active=False)

    assert rescoring._upsert_predictions(_rows(candidates, v_orm), method="orm") == 4
    assert rescoring._upsert_predictions(_rows(candidates, v_copy), method="copy") == 4
    first = _stored(v_copy)
    assert first == _stored(v_orm) and len(first) == 4
    assert first[1][1] == {"PC": 0.3, "EB": 0.7}  # JSON went through COPY as jsonb, not text
    created = dict(Prediction.objects.filter(classifier_version=v_copy).values_list("candidate_id", "created_at"))
    assert all(created.values())

    # A redelivered chunk with new scores: updated in place, no duplicate, created_at kept.
    assert rescoring._upsert_predictions(_rows(candidates, v_orm, shift=0.05), method="orm") == 4
    assert rescoring._upsert_predictions(_rows(candidates, v_copy, shift=0.05), method="copy") == 4
    second = _stored(v_copy)
    assert second == _stored(v_orm) and second != first
    assert Prediction.objects.count() == 8
    kept = Prediction.objects.filter(classifier_version=v_copy).values_list("candidate_id", "created_at")
    assert dict(kept) == created


@pytest.mark.django_db
def test_the_default_path_on_postgresql_is_copy(make_candidate, monkeypatch):
    candidates = [make_candidate() for _ in range(2)]
    version = make_version("v1", active=False)
    used = []
    monkeypatch.setattr(rescoring, "predictions_bulk_create", lambda rows: used.append("orm"))
    assert rescoring._upsert_predictions(_rows(candidates, version)) == 2
    assert used == [] and Prediction.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_copy_upsert_runs_only_inside_a_transaction_and_twice_in_one(make_candidate):
    version = make_version("v1", active=False)
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):  # its staging table drops at commit
        rescoring.predictions_copy(_rows([make_candidate()], version))
    with transaction.atomic():  # twice in one transaction: the staging table is made afresh
        rescoring.predictions_copy(_rows([make_candidate()], version))
        rescoring.predictions_copy(_rows([make_candidate()], version))
    assert Prediction.objects.filter(classifier_version=version).count() == 2


@pytest.mark.django_db
def test_rescore_finish_refreshes_the_planner_statistics(make_candidate, monkeypatch):
    candidates = [make_candidate() for _ in range(30)]
    version = make_version("v1", active=False)
    type(version).objects.filter(pk=version.pk).update(status="promoted")
    rescoring._upsert_predictions(_rows(candidates, version))
    monkeypatch.setattr(queue_services, "queue_selection", lambda v: {
        c.pk: QueueEntry(candidate_id=c.pk, priority=1.0, strategy="uncertainty", classifier_version=v)
        for c in candidates[:5]})
    analyzed = []
    real = db.analyze
    monkeypatch.setattr(db, "analyze", lambda *models: analyzed.append(models) or real(*models))

    assert rescoring.rescore_finish(version_id=version.pk) == 5
    assert analyzed == [(Prediction, QueueEntry)]
    # ANALYZE counted the rows (this transaction's own rows are live to it): reltuples is current.
    assert db.estimated_count(Prediction) == 30 and db.estimated_count(QueueEntry) == 5


SQLITE_SCRIPT = r"""
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from vetting.candidates.models import Candidate, Target
from vetting.core import db
from vetting.learning.models import ClassifierVersion, Prediction
from vetting.learning.services import rescoring
t = Target.objects.create(mission="kepler", catalog_id="KIC 1")
cs = [Candidate.objects.create(target=t, source_catalog="koi", catalog_id=f"K{i}.01", period_days=3.0, epoch=130.0,
                               duration_hours=3.0, depth_ppm=1000.0, snr=20.0) for i in range(3)]
v = ClassifierVersion.objects.create(name="v1", artifact="m", artifact_sha256="0" * 64, label_snapshot_hash="0" * 64)
def rows(shift):
    return [Prediction(candidate_id=c.pk, classifier_version_id=v.pk, probabilities={"PC": 0.2 + shift},
                       per_model={}, predicted_class="EB", p_planet=0.2 + shift, p_triage=0.5, uncertainty=0.4,
                       disagreement=0.0) for c in cs]
rescoring._upsert_predictions(rows(0.0))
rescoring._upsert_predictions(rows(0.5))
print(json.dumps({"vendor": db.connection.vendor, "analyzed": db.analyze(Prediction),
                  "estimate": db.estimated_count(Prediction),
                  "rows": list(Prediction.objects.order_by("candidate_id").values_list("p_planet", "probabilities"))}))
"""


def test_on_sqlite_the_orm_path_upserts_and_analyze_is_a_no_op(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vetting.settings.dev",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "VETTING_MEDIA_ROOT": str(tmp_path / "media"),
           "VETTING_LOG_LEVEL": "ERROR"}
    done = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["vendor"] == "sqlite" and out["analyzed"] == [] and out["estimate"] is None
    assert out["rows"] == [[0.7, {"PC": 0.7}]] * 3  # updated in place by the second write: 3 rows, not 6


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["copy", "orm"])
def test_scored_tuples_write_the_rows_model_instances_write(make_candidate, method):
    """Rescoring hands the upserts plain ``ScoredRow`` tuples (no model instance per candidate)."""
    candidates = [make_candidate() for _ in range(3)]
    v_obj, v_tuple = make_version("v-obj", active=False), make_version("v-tuple", active=False)
    rescoring._upsert_predictions(_rows(candidates, v_obj), method=method)
    as_tuples = [rescoring.ScoredRow(candidate_id=p.candidate_id, classifier_version_id=v_tuple.pk,
                                     **{f: getattr(p, f) for f in SCORED}) for p in _rows(candidates, v_obj)]
    assert rescoring._upsert_predictions(as_tuples, method=method) == 3
    assert _stored(v_tuple) == _stored(v_obj) and len(_stored(v_obj)) == 3


def test_prediction_fields_are_the_scores_element_by_element():
    import numpy as np

    from classifier.scoring import scores_from_proba

    rng = np.random.default_rng(3)
    families = {name: rng.dirichlet(np.ones(3), size=50) for name in ("hgb", "extra_trees", "logistic")}
    scores = scores_from_proba(rng.dirichlet(np.ones(3), size=50), ["PC", "EB", "J"], families)
    fields = rescoring._prediction_fields(scores)
    assert len(fields) == 50
    for i, row in enumerate(fields):
        assert row == {
            "probabilities": {c: float(np.round(scores.proba[i, j], 6)) for j, c in enumerate(scores.classes)},
            "per_model": {name: {c: float(np.round(p[i, j], 6)) for j, c in enumerate(scores.classes)}
                          for name, p in families.items()},
            "predicted_class": str(scores.predicted[i]), "p_planet": float(scores.p_planet[i]),
            "p_triage": float(scores.p_triage[i]), "uncertainty": float(scores.uncertainty[i]),
            "disagreement": float(scores.disagreement[i]),
        }
        assert all(type(v) is float for v in row["probabilities"].values()) and type(row["p_planet"]) is float
