"""Services send tasks by name (vetting.core.jobs): no services <-> tasks import cycle, the same
queues as before, and the message leaves only after commit."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vetting.candidates import services as candidate_services
from vetting.learning.models import TrainingRun
from vetting.learning.services import rescoring, runs

REPO = Path(__file__).resolve().parent.parent.parent
SENT_BY_NAME = [runs.RUN_TRAINING_TASK, rescoring.SCORE_CHUNK_TASK, rescoring.RESCORE_FINISH_TASK,
                candidate_services.IMPORT_JOB_TASK]


@pytest.mark.parametrize("name", SENT_BY_NAME)
def test_a_task_sent_by_name_exists_and_goes_to_the_queue_it_declares(name):
    from vetting.celery import app

    app.loader.import_default_modules()
    task = app.tasks[name]
    assert app.amqp.router.route({}, name, (), {})["queue"].name == task.queue


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("app_name", ["candidates", "learning"])
def test_services_never_import_tasks_and_tasks_import_services_only_inside(app_name):
    app = REPO / "vetting" / app_name
    service_files = [app / "services.py"] if (app / "services.py").exists() else sorted((app / "services").glob("*.py"))
    assert service_files
    for path in service_files:
        assert not any(m.endswith(".tasks") or ".tasks." in m for m in _imports(path, module_level_only=False)), path
    assert not any(".services" in m for m in _imports(app / "tasks.py", module_level_only=True))


@pytest.mark.django_db
def test_training_request_publishes_run_training_after_commit(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    def publish(name, args, **options):
        sent.append((name, args, options))
        return type("R", (), {"id": "t-9"})()

    monkeypatch.setattr("vetting.core.jobs.publish", publish)
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.training_run_request(trigger="manual")
        assert sent == []
    assert sent == [("vetting.learning.tasks.run_training", [run.pk], {"retry": False})]
    assert TrainingRun.objects.get(pk=run.pk).task_id == "t-9"


def test_rescore_async_sends_a_chord_of_named_tasks(monkeypatch):
    from celery import canvas

    calls = []
    monkeypatch.setattr(canvas._chord, "__call__", lambda self, body=None, **kw: calls.append((self, body)))
    monkeypatch.setattr(rescoring, "_candidate_id_chunks", lambda: [[1, 2], [3]])
    rescoring.rescore_async(version_id=7, run_id=5)
    (header, body), = calls
    assert [s["task"] for s in header.tasks] == [rescoring.SCORE_CHUNK_TASK] * 2
    assert [len(s["args"][1]) for s in header.tasks] == [2, 1]
    assert body["task"] == rescoring.RESCORE_FINISH_TASK and tuple(body["args"]) == (7, 5)
