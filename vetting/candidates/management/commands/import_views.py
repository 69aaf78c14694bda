"""``manage.py import_views FOLDER_OR_ZIP [--with-catalog-labels]`` (Astronet-Triage layout)."""
from __future__ import annotations

from django.core.management import BaseCommand

from vetting.candidates import services
from vetting.candidates.management.commands._reporting import run_import


class Command(BaseCommand):
    help = "Import pre-folded views (candidates.csv + views.npz, a folder or a .zip); re-imports update."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--with-catalog-labels", action="store_true",
                            help="store label_orig_6class/label_4class as catalog labels")

    def handle(self, *args, **opts):
        run_import(self, lambda: services.import_views_bundle(
            path=opts["path"], with_catalog_labels=opts["with_catalog_labels"]))
