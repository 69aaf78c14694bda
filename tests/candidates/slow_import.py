"""Imported by a test worker only (``celery worker -I tests.candidates.slow_import``): every
progress report of a catalog import (a whole file or one chunk of a job) sleeps first, so a
fault test can kill the worker mid-import and a fan-out test sees chunks overlap in time.
The delay (seconds) comes from ``SLOW_IMPORT_DELAY_S`` in the worker's environment. Not a test
module; production code has no such knob.
"""
from __future__ import annotations

import os
import time

from vetting.candidates.importers import archive

DELAY_S = float(os.environ.get("SLOW_IMPORT_DELAY_S", "1.0"))


def _slowed(function):
    def slow(*, progress=None, **kwargs):
        def slow_progress(done: int, total: int) -> None:
            time.sleep(DELAY_S)
            if progress is not None:
                progress(done, total)

        return function(progress=slow_progress, **kwargs)

    return slow


archive.import_archive_rows = _slowed(archive.import_archive_rows)  # one chunk of a job
