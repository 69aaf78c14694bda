"""Import errors and the report every importer returns.

Two kinds of failure:

* :class:`BadFileError` - the whole file is unusable (empty, wrong format, missing required
  columns, truncated FITS, NaN-only light curve, unknown mission). Raised before anything is
  written, so nothing partial is stored.
* :class:`RowError` - one row is bad (a non-numeric period, a missing id). The row is skipped,
  the error (line number and column) goes into :attr:`ImportReport.errors`, every good row is
  imported.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


class ImportFailed(Exception):
    """Base class of import errors that a person can act on (shown verbatim)."""


class BadFileError(ImportFailed):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True)
class RowError:
    """A rejected row: ``line`` is the 1-based line number in the file (comments counted)."""

    line: int
    column: str
    message: str
    row_id: str = ""

    def __str__(self) -> str:
        who = f" ({self.row_id})" if self.row_id else ""
        return f"line {self.line}{who}, column {self.column!r}: {self.message}"


class RowValueError(ValueError):
    """Raised by a column converter; caught and turned into a :class:`RowError`."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class ImportReport:
    """What an import did. ``counts`` keys: ``rows``, ``targets_created``, ``targets_updated``,
    ``candidates_created``, ``candidates_updated``, ``lightcurves_created``,
    ``lightcurves_existing``, ``products_computed``, ``labels_created``, ``labels_unchanged``,
    ``rows_rejected`` (only the keys an importer uses appear)."""

    kind: str
    source: str = ""
    counts: Counter = field(default_factory=Counter)
    errors: list[RowError | str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def finish(self) -> ImportReport:
        self.seconds = time.monotonic() - self.started
        if self.errors:
            self.counts["rows_rejected"] = sum(1 for e in self.errors if isinstance(e, RowError))
        return self

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        """JSON-serialisable summary (stored on ``ImportJob.counts``/``errors``)."""
        return {
            "kind": self.kind, "source": self.source, "counts": dict(self.counts),
            "errors": [str(e) for e in self.errors], "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        parts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return f"{self.kind} import of {self.source or 'input'}: {parts} in {self.seconds:.2f} s"


#: Signature of progress callbacks: ``progress(done, total)``, counts of rows or files.
ProgressCallback = "Callable[[int, int], None]"
