"""``manage.py import_tpf FILE_OR_FOLDER... [--mission kepler|k2|tess]``."""
from __future__ import annotations

from django.core.management import BaseCommand

from vetting.candidates import services
from vetting.candidates.management.commands._reporting import add_file_arguments, import_each_file


class Command(BaseCommand):
    help = "Import Kepler/TESS target pixel files (folders: every *.fits inside); computes pixel diagnostics."

    def add_arguments(self, parser):
        add_file_arguments(parser)

    def handle(self, *args, **opts):
        import_each_file(self, opts["paths"], pattern="*.fits*",
                         import_file=lambda path: services.import_tpf_file(path=path, mission=opts["mission"]))
