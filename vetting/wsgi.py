"""WSGI entry point (gunicorn vetting.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetting.settings.production")
application = get_wsgi_application()


#: Templates of the pages every vetter opens (compiled once per process by the cached loader).
WARM_TEMPLATES = ("base.html", "candidates/queue.html", "candidates/detail.html", "includes/progress.html")


def _warm_up() -> None:
    """Import the URLconf and every view now, at worker start, not on a vetter's first request.

    Measured: the first queue page of a fresh process took 640 ms (views, DRF, SciPy loading),
    69 ms after this warm-up; under load those cold starts were the queue page's p95. Then the
    templates, the URL reverse map, the translation catalogs and the form widget templates:
    without them the first page of a process still took about 40 ms more than the next (and
    20 vetters arriving at once meet every process cold). No database access here.
    """
    from django.conf import settings
    from django.template.loader import get_template
    from django.urls import get_resolver, reverse
    from django.utils import translation

    get_resolver().url_patterns  # noqa: B018 - resolving the patterns imports the views
    reverse("candidate-detail", args=[1])  # builds the reverse map
    with translation.override(settings.LANGUAGE_CODE):
        translation.gettext("Page")  # loads the catalogs
        from vetting.learning.filters import CandidateFilter
        from vetting.web.forms import LabelForm

        for name in WARM_TEMPLATES:
            get_template(name)
        for form in (CandidateFilter(None).form, LabelForm()):
            for field in form:
                str(field)  # compiles the form widget templates


_warm_up()
