"""The one JSON shape of a long job's progress, polled by every progress bar (static/js/progress.js)."""
from __future__ import annotations

from vetting.core.jobs import NOT_SENT_MESSAGE

#: Job states after which a job changes no more.
DONE_STATES = ("finished", "failed")


def progress_body(*, kind: str, pk: int, state: str, progress: float | None, message: str, sent: bool = True,
                  **extra) -> dict:
    """``{"id", "kind", "state", "done", "progress" (0..1), "message", "sent"}`` plus ``extra``.

    ``sent`` False (queued, the broker has not accepted its task yet: see
    :func:`vetting.core.liveness.was_sent`) replaces the message with
    :data:`vetting.core.jobs.NOT_SENT_MESSAGE`, so every progress box says so.
    """
    if not sent:
        message = NOT_SENT_MESSAGE
    return {"id": pk, "kind": kind, "state": state, "done": state in DONE_STATES,
            "progress": max(0.0, min(1.0, float(progress or 0.0))), "message": message, "sent": sent, **extra}
