"""``manage.py load_demo [--n 2000] [--seed 42] [--labels 200] [--workers N]``."""
from __future__ import annotations

import time

from django.core.management import BaseCommand

from vetting.reviews import demo


class Command(BaseCommand):
    help = "Load simulated demo candidates (light curves, views, features, plots) and seed labels."

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=2000, help="number of simulated candidates")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--labels", type=int, default=200, help="candidates given seed labels by the demo vetters")
        parser.add_argument("--workers", type=int, default=None,
                            help="processes for light-curve processing (default: cores)")

    def handle(self, *args, **opts):
        verbosity = opts.get("verbosity", 1)
        last = {"t": 0.0}

        def progress(done: int, total: int) -> None:
            if verbosity >= 1 and (time.monotonic() - last["t"] > 5 or done == total):
                last["t"] = time.monotonic()
                self.stdout.write(f"  {done}/{total} candidates")

        report = demo.load_demo(n=opts["n"], seed=opts["seed"], labels=opts["labels"], workers=opts["workers"],
                                    progress=progress)
        if verbosity >= 2:
            for warning in report.warnings:
                self.stdout.write(f"  note: {warning}")
        self.stdout.write(report.summary())
