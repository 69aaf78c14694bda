"""Imported by a test worker only (``CELERY_IMPORTS`` in vetting/settings/test.py when
``VETTING_TRAINING_STEP_DELAY_S`` is set): every training step sleeps first, so a fault test
can kill the worker while a run is mid-way. Not a test module; production code has no such knob.
"""
from __future__ import annotations

import time

from django.conf import settings

from vetting.learning.services import progress

_step = progress.step


def _slow_step(run_id: int, fraction: float, message: str) -> None:
    time.sleep(settings.VETTING_TRAINING_STEP_DELAY_S)
    _step(run_id, fraction, message)


progress.step = _slow_step
