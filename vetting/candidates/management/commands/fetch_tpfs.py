"""``manage.py fetch_tpfs --candidate ID [--source DOTTED.PATH] [--quarter Q] [--sector S]``."""
from __future__ import annotations

from django.core.management import BaseCommand

from vetting.candidates import services
from vetting.candidates.management.commands._reporting import fetch_each_candidate
from vetting.candidates.sources import get_tpf_source


class Command(BaseCommand):
    help = "Fetch target pixel files (settings.VETTING_TPF_SOURCE, MAST by default) and import them."

    def add_arguments(self, parser):
        parser.add_argument("--candidate", type=int, required=True, action="append", dest="candidates",
                            help="candidate id (database pk); repeat for several")
        parser.add_argument("--source", default=None, help="dotted path of a TargetPixelSource class")
        parser.add_argument("--quarter", type=int, action="append", dest="quarters")
        parser.add_argument("--sector", type=int, action="append", dest="sectors")

    def handle(self, *args, **opts):
        source = get_tpf_source(opts["source"])
        fetch_each_candidate(self, opts["candidates"], fetch=lambda pk: services.fetch_tpfs(
            candidate=pk, source=source, quarters=opts["quarters"], sectors=opts["sectors"]))
