"""The WSGI module imports every view at start-up, so no vetter pays for a cold first request."""
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_wsgi_module_imports_views_at_start():
    code = (
        "import sys, vetting.wsgi\n"
        "wanted = ['vetting.candidates.views', 'vetting.reviews.views', 'vetting.learning.views', 'api.views']\n"
        "print(','.join(m for m in wanted if m not in sys.modules))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vetting.settings.test"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"not imported at start-up: {result.stdout.strip()}"
