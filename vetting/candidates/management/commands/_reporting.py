"""Shared output of the import commands (a leading underscore keeps this out of manage.py's list)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.core.management import BaseCommand, CommandError

from vetting.candidates.importers.errors import ImportFailed, ImportReport
from vetting.candidates.models import Candidate


def run_import(command: BaseCommand, do_import: Callable[[], ImportReport]) -> ImportReport:
    """Run one import, print its rejected rows and summary; fail the command if rows were rejected.

    A bad file (``ImportFailed``) becomes a ``CommandError`` with the importer's message.
    """
    try:
        report = do_import()
    except ImportFailed as exc:
        raise CommandError(str(exc)) from exc
    for error in report.errors:
        command.stderr.write(f"rejected: {error}")
    command.stdout.write(report.summary())
    if report.errors:
        raise CommandError(f"{len(report.errors)} row(s) rejected (listed above); all other rows were imported")
    return report


def print_report(command: BaseCommand, report: ImportReport) -> None:
    """Print a report's notes, then its summary line."""
    for warning in report.warnings:
        command.stdout.write(f"  note: {warning}")
    command.stdout.write(report.summary())


def add_file_arguments(parser) -> None:
    """The arguments of the file import commands: paths (files or folders) and ``--mission``."""
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--mission", choices=["kepler", "k2", "tess"], default=None,
                        help="override the mission read from the header")


def import_each_file(command: BaseCommand, raw_paths: list[str], *, pattern: str,
                     import_file: Callable[[Path], ImportReport]) -> None:
    """Import every given file (folders: every file matching ``pattern`` inside), one at a time.

    A rejected file (``ImportFailed``) is reported and skipped; the command fails at the end if
    any was rejected (the others stay imported).
    """
    files: list[Path] = []
    for raw in raw_paths:
        path = Path(raw)
        files.extend(sorted(path.glob(pattern)) if path.is_dir() else [path])
    failed = []
    for path in files:
        try:
            report = import_file(path)
        except ImportFailed as exc:
            failed.append(f"{path.name}: {exc}")
            command.stderr.write(f"rejected: {exc}")
            continue
        print_report(command, report)
    if failed:
        raise CommandError(f"{len(failed)} of {len(files)} file(s) rejected; the others were imported")


def fetch_each_candidate(command: BaseCommand, ids: list[int], *,
                         fetch: Callable[[int], ImportReport]) -> None:
    """Fetch and import for each candidate id, one at a time.

    A failed fetch (``ImportFailed``) is reported and skipped; an unknown id stops the command
    (``fetch`` raises ``Candidate.DoesNotExist``); the command fails at the end if any failed.
    """
    failed = 0
    for pk in ids:
        try:
            report = fetch(pk)
        except ImportFailed as exc:
            failed += 1
            command.stderr.write(f"candidate {pk}: {exc}")
            continue
        except Candidate.DoesNotExist:
            raise CommandError(f"no candidate with id {pk}") from None
        print_report(command, report)
    if failed:
        raise CommandError(f"{failed} of {len(ids)} candidate(s) failed (listed above)")
