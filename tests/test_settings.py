"""Every ``VETTING_*`` setting is declared once in the settings modules, read through
``django.conf.settings`` (never from the environment by the code) and listed in the README."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = [REPO / "vetting" / "settings" / "base.py", REPO / "vetting" / "settings" / "test.py"]
CODE_DIRS = [REPO / "vetting", REPO / "api"]


def _assigned(path: Path) -> list[str]:
    return re.findall(r"^(VETTING_[A-Z0-9_]+)\s*=", path.read_text(), flags=re.M)


def _declared() -> set[str]:
    """Settings of base.py plus the test-only ones of test.py (test.py may also override)."""
    return {name for path in SETTINGS for name in _assigned(path)}


def _code_files():
    for folder in CODE_DIRS:
        for path in folder.rglob("*.py"):
            if "settings" not in path.relative_to(REPO).parts[:2] and "migrations" not in path.parts:
                yield path


def test_each_setting_is_declared_once():
    for path in SETTINGS:
        names = _assigned(path)
        assert names and sorted({n for n in names if names.count(n) > 1}) == [], path


def test_code_reads_settings_not_the_environment():
    pattern = re.compile(r"""(os\.environ(\.get)?|os\.getenv)\s*[\[(]\s*["']VETTING_""")
    offenders = [str(p.relative_to(REPO)) for p in _code_files() if pattern.search(p.read_text())]
    assert offenders == []


def test_every_setting_the_code_uses_is_declared():
    declared = set(_declared())
    used = set()
    for path in _code_files():
        used.update(re.findall(r"settings\.(VETTING_[A-Z0-9_]+)", path.read_text()))
    assert used - declared == set()


def test_every_setting_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("\n## ", readme.index("## Configuration") + 5)]
    assert sorted(name for name in _declared() if f"`{name}`" not in table) == []
