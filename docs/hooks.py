"""MkDocs hooks: fill the documentation's generated parts from the code and the README.

One source for every table that would otherwise be copied and drift (``mkdocs.yml`` names this
file under ``hooks:``). A page writes a marker comment; :func:`on_page_markdown` replaces it:

``<!-- readme: HEADING -->``
    The README section under ``HEADING`` (``## Configuration``, ``### Errors``; a bare title
    means ``## title``), e.g. the settings table.
``<!-- bench-readme: HEADING -->``
    The same for ``bench/README.md``.
``<!-- include: PATH LANG -->``
    The repository file ``PATH`` as a fenced code block in language ``LANG``.
``<!-- metrics-table -->``
    The light-curve metrics of :mod:`classifier.features` (name, unit, what it measures).
``<!-- table-features -->``
    The catalog-table features of :mod:`classifier.table_features` (from its docstring).
``<!-- flags-table -->``
    The vetting flags of :mod:`classifier.flags` (threshold and reference).

A missing section or file fails the build (``mkdocs build --strict`` turns the logged error into
a failure), so a renamed README heading cannot silently empty a page. Other HTML comments are
left alone.
"""
from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

log = logging.getLogger("mkdocs.hooks.vetting")
MARKER = re.compile(r"<!--\s*([a-z-]+)(?::\s*(.*?))?\s*-->")
# [text](target) whose target is a relative path (not http(s), not an anchor)
_RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#|mailto:)([^)]+)\)")


def _section(path: Path, heading: str) -> str:
    """Body of a Markdown file's section under ``heading`` (a whole heading line such as
    ``## Configuration``, or a title, taken as ``## title``), up to the next heading of the same
    or a higher level (its subsections included)."""
    if not heading.startswith("#"):
        heading = f"## {heading}"
    level = len(heading) - len(heading.lstrip("#"))
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        raise ValueError(f"{path.name} has no section '{heading}'") from None

    end, fenced = len(lines), False
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fenced = not fenced  # a "# comment" in a shell block is no heading
        hashes = len(line) - len(line.lstrip("#"))
        if not fenced and 0 < hashes <= level and line[hashes:hashes + 1] == " ":
            end = i
            break
    body = "\n".join(lines[start + 1:end]).strip("\n")
    # Links relative to the repository root mean nothing on the docs site: keep the path as code.
    return _RELATIVE_LINK.sub(_unlink, body)


def _unlink(match: re.Match) -> str:
    text, target = match.group(1), match.group(2)
    return text if text.strip("`") == target else f"{text} (`{target}`)"


def _include(arg: str) -> str:
    parts = arg.split()
    path, lang = parts[0], (parts[1] if len(parts) > 1 else "")
    text = (REPO / path).read_text(encoding="utf-8").rstrip("\n")
    return f"```{lang}\n{text}\n```"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _metrics_table() -> str:
    from classifier.features import METRICS

    rows = ["| metric | unit | needs | what it measures |", "| --- | --- | --- | --- |"]
    for m in METRICS:
        rows.append(f"| `{m.name}` | {_cell(m.unit) or '-'} | {m.needs} | {_cell(m.description)} |")
    return "\n".join(rows)


def _table_features() -> str:
    """Parse the ``name`` / indented description list of the module docstring."""
    import classifier.table_features as tf

    doc = tf.__doc__ or ""
    entries: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        m = re.fullmatch(r"``(tbl_[a-z_]+)``\s*", line)
        if m:
            current = m.group(1)
            entries[current] = []
        elif current and line.startswith("    "):
            entries[current].append(line.strip())
        elif current and line.strip():
            current = None
    missing = [n for n in tf.TABLE_FEATURE_NAMES if n not in entries]
    if missing:
        raise ValueError(f"classifier/table_features.py docstring does not describe {missing}")
    rows = ["| feature | what it measures |", "| --- | --- |"]
    for name in tf.TABLE_FEATURE_NAMES:
        text = re.sub(r":data:`([^`]+)`", r"`\1`", " ".join(entries[name]))
        rows.append(f"| `{name}` | {_cell(text)} |")
    return "\n".join(rows)


def _flags_table() -> str:
    from classifier.flags import FLAGS

    rows = ["| flag | group | metric shown | passes when | reference |", "| --- | --- | --- | --- | --- |"]
    for f in FLAGS:
        rows.append(f"| `{f.name}` | {f.group} | `{f.metric}` | {_cell(f.threshold_text)} | {_cell(f.reference)} |")
    return "\n".join(rows)


def _replace(match: re.Match, page_path: str) -> str:
    if str(REPO) not in sys.path:  # classifier/ is plain Python: importable without Django
        sys.path.insert(0, str(REPO))  # (at call time: MkDocs restores sys.path after loading hooks)
    kind, arg = match.group(1), (match.group(2) or "").strip()
    try:
        if kind == "readme":
            return _section(REPO / "README.md", arg)
        if kind == "bench-readme":
            return _section(REPO / "bench" / "README.md", arg)
        if kind == "include":
            return _include(arg)
        if kind == "metrics-table":
            return _metrics_table()
        if kind == "table-features":
            return _table_features()
        if kind == "flags-table":
            return _flags_table()
    except (OSError, ValueError, ImportError) as exc:
        log.error("%s: cannot fill <!-- %s -->: %s", page_path, kind, exc)
        return f"**(missing: {kind} {arg})**"
    return match.group(0)  # an ordinary HTML comment


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: _replace(m, page.file.src_path), markdown)
