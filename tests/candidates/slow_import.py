"""Imported by a test worker only (``celery worker -I tests.candidates.slow_import``): every
progress report of an import sleeps first, so a fault test can kill the worker mid-import.
The delay (seconds) comes from ``SLOW_IMPORT_DELAY_S`` in the worker's environment. Not a test
module; production code has no such knob.
"""
from __future__ import annotations

import os
import time

from vetting.candidates import services

DELAY_S = float(os.environ.get("SLOW_IMPORT_DELAY_S", "1.0"))
_import_catalog_file = services.import_catalog_file


def _slow_import_catalog_file(*, progress=None, **kwargs):
    def slow_progress(done: int, total: int) -> None:
        time.sleep(DELAY_S)
        if progress is not None:
            progress(done, total)

    return _import_catalog_file(progress=slow_progress, **kwargs)


services.import_catalog_file = _slow_import_catalog_file
