"""``manage.py import_views FOLDER_OR_ZIP [--with-catalog-labels]`` (Astronet-Triage layout)."""
from __future__ import annotations

from django.core.management import BaseCommand, CommandError

from vetting.candidates import services
from vetting.candidates.importers.errors import ImportFailed


class Command(BaseCommand):
    help = "Import pre-folded views (candidates.csv + views.npz, a folder or a .zip); re-imports update."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--with-catalog-labels", action="store_true",
                            help="store label_orig_6class/label_4class as catalog labels")

    def handle(self, *args, **opts):
        try:
            report = services.import_views_bundle(path=opts["path"], with_catalog_labels=opts["with_catalog_labels"])
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        for error in report.errors:
            self.stderr.write(f"rejected: {error}")
        self.stdout.write(report.summary())
        if report.errors:
            raise CommandError(f"{len(report.errors)} row(s) rejected (listed above); all other rows were imported")
