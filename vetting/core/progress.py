"""The one JSON shape of a long job's progress, polled by every progress bar (static/js/progress.js)."""
from __future__ import annotations

#: Job states after which a job changes no more.
DONE_STATES = ("finished", "failed")


def progress_body(*, kind: str, pk: int, state: str, progress: float | None, message: str, **extra) -> dict:
    """``{"id", "kind", "state", "done", "progress" (0..1), "message"}`` plus ``extra`` fields."""
    return {"id": pk, "kind": kind, "state": state, "done": state in DONE_STATES,
            "progress": max(0.0, min(1.0, float(progress or 0.0))), "message": message, **extra}
