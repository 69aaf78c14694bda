"""The WSGI module imports every view at start-up, so no vetter pays for a cold first request."""
from tests.conftest import run_python


def test_wsgi_module_imports_views_at_start():
    code = (
        "import sys, vetting.wsgi\n"
        "wanted = ['vetting.web.views.candidates', 'vetting.web.views.reviews',"
        " 'vetting.learning.views', 'api.views']\n"
        "print(','.join(m for m in wanted if m not in sys.modules))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"not imported at start-up: {result.stdout.strip()}"
