"""``manage.py export_release [--model NAME] --out FILE.zip``: the labeled-data release archive."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from vetting.learning.services.release import ReleaseError, release_build


class Command(BaseCommand):
    help = ("Write a classifier version's labeled-data release (label snapshot, candidates, model card, model, "
            "environment, MANIFEST.sha256) as one zip archive, ready to deposit (e.g. on Zenodo).")

    def add_arguments(self, parser):
        parser.add_argument("--model", default=None, help="classifier version id or name (default: the active one)")
        parser.add_argument("--out", required=True, help="zip file to write")

    def handle(self, *args, **options):
        try:
            with open(options["out"], "wb") as fh:
                info = release_build(out=fh, version=options["model"])
        except ReleaseError as exc:
            from pathlib import Path

            Path(options["out"]).unlink(missing_ok=True)
            raise CommandError(str(exc)) from None
        counts = info["counts"]["per_class"]
        self.stdout.write(f"wrote {options['out']}: release of {info['version']}, {len(info['files'])} files, "
                          f"labels per class {counts}")
