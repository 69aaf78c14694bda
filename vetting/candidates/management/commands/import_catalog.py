"""``manage.py import_catalog FILE [--table koi|dr24_tce|dr25_tce|toi] [--with-catalog-labels]``
(tables: :data:`classifier.catalogs.TABLE_NAMES`)."""
from __future__ import annotations

from django.core.management import BaseCommand

from classifier.catalogs import TABLE_NAMES
from vetting.candidates import services
from vetting.candidates.management.commands._reporting import run_import


class Command(BaseCommand):
    help = "Import a NASA Exoplanet Archive table (KOI cumulative, DR24/DR25 TCE, TOI); re-imports update."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--table", choices=TABLE_NAMES, default=None,
                            help="table kind (default: detected from the columns)")
        parser.add_argument("--with-catalog-labels", action="store_true",
                            help="also store catalog dispositions as catalog labels")

    def handle(self, *args, **opts):
        run_import(self, lambda: services.import_catalog_file(path=opts["path"], table=opts["table"],
                                                  with_catalog_labels=opts["with_catalog_labels"]))
