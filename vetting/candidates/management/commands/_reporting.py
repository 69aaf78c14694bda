"""Shared output of the import commands (a leading underscore keeps this out of manage.py's list)."""
from __future__ import annotations

from collections.abc import Callable

from django.core.management import BaseCommand, CommandError

from vetting.candidates.importers.errors import ImportFailed, ImportReport


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
