"""The layers of ../shared/DESIGN.md, checked over the import graph of the source tree.

Every ``import`` and ``from ... import`` counts, at module level or inside a function (a lazy
import is still a dependency). Bottom to top:

1. ``classifier``: plain Python, no Django, nothing of the project.
2. ``vetting.core``: roles, shared admin tools, JSON/CSV helpers; no domain app.
3. ``vetting.candidates`` <- ``vetting.reviews`` <- ``vetting.learning``.
4. ``vetting.web`` (site pages) and ``api`` (REST), side by side: neither imports the other.
5. The project shell: settings, URLconf, Celery app, WSGI/ASGI; nothing below imports it.

An import may only point down (or stay inside its own component), and no two project modules
may import each other, directly or through others (a ``services``/``tasks`` cycle included).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("classifier", "vetting", "api")

#: component -> rank; a module may import components of lower rank and its own component.
RANKS = {
    "classifier": 1,
    "vetting.core": 2,
    "vetting.logging": 2,
    "vetting.candidates": 3,
    "vetting.reviews": 4,
    "vetting.learning": 5,
    "vetting.web": 6,
    "api": 6,
    "vetting": 7,  # settings, urls, celery, wsgi, asgi
}


def component(module: str) -> str:
    """The longest ``RANKS`` key that is ``module`` or a package above it."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in RANKS:
            return name
    raise KeyError(module)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # migrations are history, frozen as they were written
            files[_module_name(path)] = path
    return files


def _resolve(name: str, known: set[str]) -> str | None:
    """The project module an imported name refers to (a module, or the package holding it)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(source: str, module: str, known: set[str], *, is_package: bool = False) -> set[str]:
    """The project modules ``source`` (the text of ``module``) imports, lazily or not."""
    edges: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from pkg import submodule" names the submodule; "from mod import func" the module
            names = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known] or [base]
        for name in names:
            target = _resolve(name, known)
            if target and target != module:
                edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    """``{module: {project modules it imports}}`` over every project source file."""
    files = _source_files()
    known = set(files)
    return {module: imports_of(path.read_text(), module, known, is_package=path.name == "__init__.py")
            for module, path in files.items()}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        src = component(module)
        for target in sorted(targets):
            dst = component(target)
            if dst == src:
                continue
            if RANKS[dst] >= RANKS[src]:
                out.append(f"{module} ({src}) imports {target} ({dst})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_belongs_to_a_layer():
    unknown = []
    for module in _source_files():
        try:
            component(module)
        except KeyError:
            unknown.append(module)
    assert not unknown, f"modules outside every layer: {unknown}"


def test_imports_only_point_down():
    violations = layer_violations(import_graph())
    assert not violations, "imports against the layers (DESIGN.md):\n" + "\n".join(violations)


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(scc) for scc in found)


def test_classifier_never_imports_django():
    offenders = []
    for module, path in _source_files().items():
        if component(module) != "classifier":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in ("django", "rest_framework", "celery")]
    assert not offenders, offenders


@pytest.mark.parametrize(("source", "expected"), [
    ("from vetting.learning.models import Prediction\n", ["vetting.candidates.x (vetting.candidates) imports "
                                                         "vetting.learning.models (vetting.learning)"]),
    ("def f():\n    from vetting.web import views\n", ["vetting.candidates.x (vetting.candidates) imports "
                                                      "vetting.web.views (vetting.web)"]),
    ("from vetting.core import roles\nimport classifier.features\n", []),
])
def test_the_check_catches_a_new_violation(source, expected):
    """The check itself: a module-level or lazy upward import is reported; a downward one is not."""
    known = set(_source_files()) | {"vetting.candidates.x"}
    graph = {"vetting.candidates.x": imports_of(source, "vetting.candidates.x", known)}
    assert layer_violations(graph) == expected


def test_cycle_detection_finds_a_services_tasks_loop():
    graph = {"a.services": {"a.tasks"}, "a.tasks": {"a.services"}, "a.models": set()}
    assert cycles(graph) == [["a.services", "a.tasks"]]
