"""``classifier`` is plain Python: importing every module of it must not import Django."""
import pkgutil
import subprocess
import sys

import classifier
from tests.conftest import REPO_ROOT


def test_classifier_package_never_imports_django():
    modules = sorted(m.name for m in pkgutil.iter_modules(classifier.__path__) if m.name != "__main__")
    assert "vocabulary" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module('classifier.' + name)\n"
        "leaked = sorted(m for m in sys.modules\n"
        "                if m == 'django' or m.startswith('django.') or m.startswith('vetting'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"classifier imported Django/site modules: {result.stdout.strip()}"
