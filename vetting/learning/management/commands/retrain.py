"""``manage.py retrain [--wait] [--sync]``: request a retrain through the same service as the site."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from vetting.learning.models import TrainingRun
from vetting.learning.services import runs


class Command(BaseCommand):
    help = "Request a classifier retrain (coalesces with a queued run); --wait follows it to the end."

    def add_arguments(self, parser):
        parser.add_argument("--wait", action="store_true", help="poll until the run finished or failed")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (with --wait)")
        parser.add_argument("--sync", action="store_true",
                            help="run it in this process instead of the worker (no broker needed)")

    def handle(self, *args, wait: bool, timeout: float, sync: bool, **options):
        run = runs.training_run_request(trigger=TrainingRun.Trigger.MANUAL)
        self.stdout.write(f"training run #{run.pk} {run.state}")
        if sync:
            outcome = runs.training_run_execute(run_id=run.pk, rescore="sync")
            if outcome == runs.BUSY:
                raise CommandError("another training run is running; try again later or use --wait")
        elif not wait:
            return
        deadline = time.monotonic() + timeout
        last = None
        while True:
            run.refresh_from_db()
            line = f"#{run.pk} {run.state} {run.progress:.0%} {run.message}"
            if line != last:
                self.stdout.write(line)
                last = line
            if run.state in (TrainingRun.State.FINISHED, TrainingRun.State.FAILED):
                break
            if time.monotonic() > deadline:
                raise CommandError(f"training run #{run.pk} still {run.state} after {timeout:.0f} s")
            time.sleep(1.0)
        if run.state == TrainingRun.State.FAILED:
            raise CommandError(f"training run #{run.pk} failed: {run.error.splitlines()[0] if run.error else ''}")
        version = getattr(run, "classifier_version", None)
        if version is not None:
            self.stdout.write(self.style.SUCCESS(f"{version.name} {version.status}: {version.decision_reason}"))
