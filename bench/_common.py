"""What the bench scripts share: import path, shared data, throwaway database, Django, tables, timing.

Every script in ``bench/`` starts with ``from _common import ...`` (the script's own folder is
first on ``sys.path`` when it runs as ``python bench/<script>.py``, which is how ``make bench``
runs it); importing this module puts the repository root on ``sys.path``, so the script can then
import ``classifier`` and ``vetting`` as the site does. Nothing here imports Django or the
classifier at import time.

Environment:

``BENCH_DATABASE_URL``
    A PostgreSQL server (any database on it: the URL's last path part is replaced) on which the
    database benchmarks create and drop their throwaway databases. Default
    ``postgres://postgres@127.0.0.1:5432/postgres``, the server ``make test``/``make bench`` start.
``VETTING_SHARED_DATA``
    The real Kepler/TESS data (default ``<repo>/../shared/data``); a script whose data is absent
    prints ``SKIP <script>: ...`` and exits 0.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: The repository root (the folder of ``manage.py``).
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Server used when ``BENCH_DATABASE_URL`` is not set.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def script_name() -> str:
    """Name of the running bench script (``bench_api``), for messages."""
    return Path(sys.argv[0]).stem or "bench"


# --- command line --------------------------------------------------------------------------------

def bench_parser(doc: str | None, quick: str | None) -> argparse.ArgumentParser:
    """Parser described by the first line of the script's docstring, with ``--quick`` (help ``quick``)
    unless ``quick`` is None."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0] if doc else None)
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=f"smoke run: {quick}")
    return parser


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--profile`` (model families and CV folds; see :func:`model_profile`), ``--n-jobs`` (2)
    and ``--seed`` (0) of a benchmark that fits the ensemble."""
    parser.add_argument("--profile", default=None, choices=["full", "fast"],
                        help="training profile (default: fast with --quick, else full)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)


def model_profile(args: argparse.Namespace) -> str:
    """The ``--profile`` asked for, else ``fast`` for a ``--quick`` run and ``full`` otherwise."""
    return args.profile or ("fast" if args.quick else "full")


# --- shared data ---------------------------------------------------------------------------------

def shared_data() -> Path:
    """The real-data folder: ``VETTING_SHARED_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("VETTING_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_data(path: Path, what: str) -> bool:
    """True if ``path`` exists; otherwise print why the script is skipped and return False."""
    if path.exists():
        return True
    print(f"SKIP {script_name()}: {what} not found at {path} (set VETTING_SHARED_DATA)")
    return False


def astronet_dir() -> Path | None:
    """The Astronet-Triage (TESS) folder of the shared data, or None (after a SKIP line) if absent."""
    src = shared_data() / "tess" / "astronet_triage"
    return src if require_data(src / "candidates.csv", "Astronet-Triage data") else None


def write_split_dirs(src: Path, dest: Path, column: str = "split") -> dict[str, Path]:
    """Write one Astronet-layout directory per value of ``column`` (CSV rows + matching npz)."""
    import numpy as np
    import pandas as pd

    table = pd.read_csv(src / "candidates.csv")
    with np.load(src / "views.npz") as npz:
        views = {k: npz[k] for k in npz.files}
    out = {}
    for value in sorted(table[column].dropna().unique()):
        mask = (table[column] == value).to_numpy()
        d = dest / str(value)
        d.mkdir(parents=True, exist_ok=True)
        table[mask].to_csv(d / "candidates.csv", index=False)
        np.savez(d / "views.npz", **{k: v[mask] for k, v in views.items()})
        out[str(value)] = d
    return out


def astronet_splits(src: Path, *splits: str) -> list:
    """The named splits of an Astronet-Triage folder as ``classifier.dataset.Dataset``s, each read
    from an Astronet-layout directory of its own, exactly as the command line reads them.

    Raises SystemExit naming the splits the folder has when one asked for is absent."""
    from classifier.loaders import load_astronet_dir

    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_split_dirs(src, Path(tmp))
        missing = [name for name in splits if name not in dirs]
        if missing:
            raise SystemExit(f"{script_name()}: no {', '.join(missing)} split in {src / 'candidates.csv'}; "
                             f"it has {', '.join(sorted(dirs)) or 'none'}")
        return [load_astronet_dir(dirs[name]) for name in splits]


def add_report_split_option(parser: argparse.ArgumentParser) -> None:
    """``--report-split`` (default ``val``): the Astronet-Triage split a TESS benchmark reports on,
    e.g. a held-back ``test`` split of the same layout. Choices are made on ``train`` only."""
    parser.add_argument("--report-split", default="val",
                        help="split reported on (default val; e.g. a held-back test split); choices use train only")


def default_hgb(seed: int):
    """The "default HGB" baseline of the TESS benchmarks: ``HistGradientBoostingClassifier`` with
    scikit-learn's defaults (only ``random_state`` set) after dropping all-NaN columns (scikit-learn's
    binning fails on them and they carry nothing). Unfitted."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    from classifier.estimators import DropEmptyColumns

    return make_pipeline(DropEmptyColumns(), HistGradientBoostingClassifier(random_state=seed))


# --- throwaway PostgreSQL database and Django ----------------------------------------------------

def database_server() -> str:
    """``BENCH_DATABASE_URL`` or the local PostgreSQL server."""
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


@contextmanager
def throwaway_database(name: str, *, keep: bool = False) -> Iterator[str]:
    """Create database ``name`` on the bench server (dropping a leftover of that name first), yield
    its URL, and drop it afterwards, also after an error or Ctrl-C (unless ``keep``). Django's
    connections, if this process opened any, are closed first."""
    import psycopg

    server = database_server()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        _close_django_connections()
        if keep:
            print(f'kept database {name} (drop it with: DROP DATABASE "{name}")')
        else:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped database {name}")


def _close_django_connections() -> None:
    if "django.db" not in sys.modules:
        return
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()


def django_env(database_url: str, settings: str) -> dict[str, str]:
    """Environment that points the settings module ``settings`` at ``database_url`` (the dev and
    production settings read ``DATABASE_URL``, the test settings ``TEST_DATABASE_URL``)."""
    return {"DJANGO_SETTINGS_MODULE": settings, "DATABASE_URL": database_url, "TEST_DATABASE_URL": database_url}


@contextmanager
def django_database(name: str, *, settings: str = "vetting.settings.dev", keep: bool = False,
                    media: bool = False, log_level: str = "WARNING") -> Iterator[str]:
    """A throwaway database ``name`` (see :func:`throwaway_database`), Django set up on it with the
    settings module ``settings`` and migrated; with ``media``, media files and model artifacts go
    to a temporary folder, removed at the end. ``VETTING_LOG_LEVEL`` defaults to ``log_level``.
    Yields the database URL."""
    with throwaway_database(name, keep=keep) as url:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-media-")) if media else None
        try:
            os.environ.update(django_env(url, settings))
            if folder is not None:
                os.environ["VETTING_MEDIA_ROOT"] = str(folder)
                os.environ["VETTING_ARTIFACT_DIR"] = str(folder / "models")
            os.environ.setdefault("VETTING_LOG_LEVEL", log_level)
            import django

            django.setup()
            from django.core.management import call_command

            with Stopwatch() as sw:
                call_command("migrate", verbosity=0)
            print(f"database {name}: migrated in {sw.wall:.1f} s", flush=True)
            yield url
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


# --- timing and figures --------------------------------------------------------------------------

class Stopwatch:
    """Wall and CPU (this process) seconds since it started, or of the ``with`` block it timed."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._start = (time.perf_counter(), time.process_time())
        self._stop: tuple[float, float] | None = None

    def __enter__(self) -> Stopwatch:
        self.restart()
        return self

    def __exit__(self, *exc) -> None:
        self._stop = (time.perf_counter(), time.process_time())

    def _now(self) -> tuple[float, float]:
        return self._stop or (time.perf_counter(), time.process_time())

    @property
    def wall(self) -> float:
        return self._now()[0] - self._start[0]

    @property
    def cpu(self) -> float:
        return self._now()[1] - self._start[1]


def percentile(values: Sequence[float], q: int) -> float:
    """The ``q``-th percentile (1..99, linear interpolation between closest ranks; nan if empty)."""
    if len(values) < 2:
        return float(values[0]) if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Table:
    """A fixed-width table on stdout: ``Table(("endpoint", 30), ("p50 ms", 8, ".1f"))``; the first
    column is left-aligned, the others right-aligned; a column's format applies to its values."""

    def __init__(self, *columns: tuple) -> None:
        self.columns = [(c[0], c[1], c[2] if len(c) > 2 else "") for c in columns]

    def _line(self, cells: Sequence[str]) -> str:
        return " ".join(f"{cell:{'<' if i == 0 else '>'}{width}}"
                        for i, (cell, (_, width, _)) in enumerate(zip(cells, self.columns, strict=True)))

    def header(self, note: str = "") -> None:
        print(self._line([title for title, _, _ in self.columns]) + (f"  {note}" if note else ""), flush=True)

    def row(self, *values, note: str = "") -> None:
        cells = [format(v, spec) for v, (_, _, spec) in zip(values, self.columns, strict=True)]
        print(self._line(cells) + (f"  {note}" if note else ""), flush=True)


def metrics_line(name: str, m: dict, width: int = 34) -> str:
    """``name`` and the model figures of ``classifier.evaluation.classification_metrics`` on one line:
    planet-vs-rest and triage AP and AUC, top-label ECE, ECE of P(planet) and per-class recall
    (n/a where undefined)."""
    def f(key: str) -> str:
        return "n/a" if m.get(key) is None else f"{m[key]:.4f}"

    parts = [f"planet AP {f('planet_ap')} AUC {f('planet_auc')}", f"triage AP {f('triage_ap')} AUC {f('triage_auc')}",
             f"ECE {f('ece')} ECE(p_planet) {f('ece_planet')}"]
    recall = m.get("recall") or {}
    parts.append("recall " + " ".join(f"{c}={v:.3f}" for c, v in recall.items() if v is not None))
    return f"{name:<{width}} " + " | ".join(parts)


def stop_process(proc, timeout: float = 30.0) -> None:
    """Stop a subprocess started with ``start_new_session=True``: TERM to its process group,
    then KILL if it has not exited after ``timeout`` seconds."""
    import signal
    import subprocess

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def login_session(user) -> str:
    """A logged-in session for ``user`` in the session store, as a login would make it: its key,
    for the ``sessionid`` cookie of simulated browsers (Django set up by the caller)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key
