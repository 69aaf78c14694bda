"""``manage.py recompute_products [--ids ID ...] [--chunk N] [--flags-only]``: rebuild stored
features, views and plot payloads from the stored light curves (after a vetting metric was added
or changed); with ``--flags-only``, only refill the stored failed-flag masks from the stored
features (fast: no light curve is read; after a flag changed, or on a database older than the mask)."""
from __future__ import annotations

import time

from django.core.management import BaseCommand, CommandError

from vetting.candidates import services
from vetting.candidates.features import FILL_CHUNK_SIZE
from vetting.candidates.recompute import CHUNK_SIZE


class ProgressBar:
    """A text progress bar on a stream: redrawn in place on a terminal, else one line at most
    every ``every`` seconds (logs and CI keep a readable record)."""

    def __init__(self, stream, *, label: str, width: int = 30, every: float = 5.0):
        self.stream, self.label, self.width, self.every = stream, label, width, every
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.tty and done < total and now - self.last < self.every:
            return
        self.last = now
        share = done / total if total else 1.0
        filled = int(round(self.width * share))
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
                f"({share:.0%}, {now - self.started:.0f} s)")
        if self.tty:
            self.stream.write("\r" + line, ending="\n" if done >= total else "")
            self.stream.flush()
        else:
            self.stream.write(line)


class Command(BaseCommand):
    help = ("Recompute candidates' vetting metrics (features), views and plot payloads from their stored "
            "light curves, in chunks; idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--ids", type=int, nargs="+", default=None, metavar="ID",
                            help="candidate ids (database pks); default: every candidate")
        parser.add_argument("--chunk", type=int, default=None,
                            help=f"candidates per chunk (default {CHUNK_SIZE}; {FILL_CHUNK_SIZE} with --flags-only)")
        parser.add_argument("--flags-only", action="store_true",
                            help="only recompute the stored failed-flag masks from the stored features")

    def handle(self, *args, **opts):
        if opts["chunk"] is not None and opts["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        progress = ProgressBar(self.stderr, label="recompute_products") if opts["verbosity"] >= 1 else None
        if opts["flags_only"]:
            counts = services.failed_flags_recompute(candidate_ids=opts["ids"], chunk_size=opts["chunk"],
                                                     progress=progress)
            self.stdout.write("failed flags: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            return
        report = services.products_recompute(candidate_ids=opts["ids"], chunk_size=opts["chunk"], progress=progress)
        if opts["verbosity"] >= 2 or report.counts["products_failed"]:
            for warning in report.warnings:
                self.stderr.write(f"  failed: {warning}")
        self.stdout.write(report.summary())
