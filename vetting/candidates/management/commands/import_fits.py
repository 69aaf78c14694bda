"""``manage.py import_fits FILE_OR_FOLDER... [--mission kepler|k2|tess]``."""
from __future__ import annotations

from django.core.management import BaseCommand

from vetting.candidates import services
from vetting.candidates.management.commands._reporting import add_file_arguments, import_each_file


class Command(BaseCommand):
    help = "Import light-curve FITS files (folders: every *.fits inside); computes candidate views once."

    def add_arguments(self, parser):
        add_file_arguments(parser)

    def handle(self, *args, **opts):
        import_each_file(self, opts["paths"], pattern="*.fits",
                         import_file=lambda path: services.import_fits_file(path=path, mission=opts["mission"]))
