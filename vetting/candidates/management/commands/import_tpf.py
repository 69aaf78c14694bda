"""``manage.py import_tpf FILE_OR_FOLDER... [--mission kepler|k2|tess]``."""
from __future__ import annotations

from pathlib import Path

from django.core.management import BaseCommand, CommandError

from vetting.candidates import services
from vetting.candidates.importers.errors import ImportFailed


class Command(BaseCommand):
    help = "Import Kepler/TESS target pixel files (folders: every *.fits inside); computes pixel diagnostics."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--mission", choices=["kepler", "k2", "tess"], default=None,
                            help="override the mission read from the header")

    def handle(self, *args, **opts):
        files: list[Path] = []
        for raw in opts["paths"]:
            path = Path(raw)
            files.extend(sorted(path.glob("*.fits*")) if path.is_dir() else [path])
        failed = []
        for path in files:
            try:
                report = services.import_tpf_file(path=path, mission=opts["mission"])
            except ImportFailed as exc:
                failed.append(f"{path.name}: {exc}")
                self.stderr.write(f"rejected: {exc}")
                continue
            for warning in report.warnings:
                self.stdout.write(f"  note: {warning}")
            self.stdout.write(report.summary())
        if failed:
            raise CommandError(f"{len(failed)} of {len(files)} file(s) rejected; the others were imported")
