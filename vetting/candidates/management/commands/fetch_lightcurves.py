"""``manage.py fetch_lightcurves --candidate ID | --all-missing [--limit N] [--source DOTTED.PATH]``."""
from __future__ import annotations

from django.core.management import BaseCommand

from vetting.candidates import selectors, services
from vetting.candidates.management.commands._reporting import fetch_each_candidate
from vetting.candidates.sources import get_source


class Command(BaseCommand):
    help = "Fetch light curves (settings.VETTING_LIGHTCURVE_SOURCE, MAST by default) and import them."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--candidate", type=int, help="candidate id (database pk)")
        which.add_argument("--all-missing", action="store_true", help="every candidate with an ephemeris but no views")
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("--source", default=None, help="dotted path of a LightCurveSource class")
        parser.add_argument("--quarter", type=int, action="append", dest="quarters")
        parser.add_argument("--sector", type=int, action="append", dest="sectors")

    def handle(self, *args, **opts):
        source = get_source(opts["source"])
        if opts["candidate"]:
            ids = [opts["candidate"]]
        else:
            ids = list(selectors.candidates_missing_views().values_list("pk", flat=True)[: opts["limit"]])
        fetch_each_candidate(self, ids, fetch=lambda pk: services.fetch_lightcurves(
            candidate=pk, source=source, quarters=opts["quarters"], sectors=opts["sectors"]))
