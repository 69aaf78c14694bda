"""Every URL the project serves refuses people who do not belong there.

The test walks ALL URL patterns (``get_resolver().url_patterns``, recursively: site, admin,
API), fills path parameters with the id of a real object of the model the URL names (or 1),
and checks:

* anonymous: site and admin pages redirect to a login page, the API answers 401/403, except
  the explicit public allow-list;
* a vetter (no staff flag): every admin page redirects to the admin login or is refused, and
  every curator-only view (site: ``CURATOR_ONLY_SITE_URLS``; API: views whose permission
  classes need the curator or admin role) is refused.

New views are covered automatically; a URL the walker cannot fill fails loudly.
"""
from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

#: Paths anyone may open (prefix match). API schema/docs: public or not, they must answer.
PUBLIC = ("/accounts/login/", "/admin/login/", "/health/", "/static/", "/api/schema/", "/api/docs/")
#: Site (non-API, non-admin) views only curators may use, by URL name.
CURATOR_ONLY_SITE_URLS = {"dispute-resolve"}
REFUSED = {401, 403, 405}


# --- Walking the URL tree -----------------------------------------------------------------------

def _fill_route(route: str, id_for) -> str:
    def repl(match):
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "uuid":
            return "00000000-0000-0000-0000-000000000001"
        return str(id_for(route[: match.start()], name))

    return re.sub(r"<(?:(\w+):)?(\w+)>", repl, route)


def _fill_regex(regex: str, id_for) -> str:
    regex = regex.lstrip("^").rstrip("$").replace("\\Z", "")

    def repl(match):
        body = match.group(2)
        if "|" in body and re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]  # e.g. (?P<app_label>auth|reviews): a real app label
        if match.group(1) == "format":
            return "json"  # DRF format suffix
        return str(id_for(regex[: match.start()], match.group(1) or ""))

    filled = re.sub(r"\((?:\?P<(\w+)>)?([^()]*)\)", repl, regex)
    filled = filled.replace(".*", "no-such-page")  # catch-all patterns
    return filled.replace("\\", "").replace("?", "")


def iter_urls(id_for):
    """Yield ``(path, url_name, callback)`` for every pattern, params filled."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            part = pattern.pattern
            if isinstance(part, RoutePattern):
                text = _fill_route(str(part), lambda before, name: id_for(prefix + before, name))
            elif isinstance(part, RegexPattern):
                text = _fill_regex(part._regex, lambda before, name: id_for(prefix + before, name))
            else:  # pragma: no cover - LocalePrefixPattern is not used here
                text = str(part)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + text)
            elif isinstance(pattern, URLPattern):
                yield "/" + prefix + text, pattern.name, pattern.callback

    yield from walk(get_resolver().url_patterns, "")


# --- Real objects for the path parameters ------------------------------------------------------

def _model_for_segment(segment: str):
    segment = segment.lower().replace("-", "").replace("_", "")
    if not segment:
        return None
    stem = segment[:-1] if segment.endswith("s") else segment
    models = [m for m in apps.get_models() if m._meta.app_label in {"candidates", "reviews", "learning", "auth"}]
    for test in (lambda n: n == segment or n == stem, lambda n: n.startswith(stem), lambda n: n.endswith(stem)):
        found = [m for m in models if test(m._meta.model_name)]
        if found:
            return found[0]
    return None


@pytest.fixture
def id_for(make_candidate, vetter, curator):
    """``id_for(path_before_param, param_name)`` -> id of a real object the path names, else 1."""
    from vetting.candidates.models import ImportJob
    from vetting.learning.models import ClassifierVersion, MislabelFlag, Prediction, QueueEntry, TrainingRun
    from vetting.reviews import services

    candidate = make_candidate()
    label = services.label_create(candidate=candidate, vetter=vetter, label_class="PC")
    services.dispute_open(candidate=candidate, opened_by=curator, reason="odd/even depths differ", label=label)
    ImportJob.objects.create(kind="catalog", created_by=curator)
    run = TrainingRun.objects.create(state="finished", trigger="admin")
    version = ClassifierVersion.objects.create(name="v-perm", artifact="models/x.skops", artifact_sha256="0" * 64,
                                               label_snapshot_hash="0" * 64, training_run=run)
    Prediction.objects.create(candidate=candidate, classifier_version=version, probabilities={"PC": 1.0},
                              predicted_class="PC", p_planet=1.0, p_triage=1.0, uncertainty=0.0)
    QueueEntry.objects.create(candidate=candidate, priority=1.0, strategy="random")
    MislabelFlag.objects.create(candidate=candidate, training_run=run, given_class="PC", suggested_class="EB",
                                score=0.1)

    def lookup(before: str, name: str) -> int:
        segments = [s for s in before.split("/") if s and not s.startswith("<")]
        for segment in reversed(segments):
            model = _model_for_segment(segment)
            if model is not None:
                pk = model.objects.order_by("pk").values_list("pk", flat=True).first()
                return pk if pk is not None else 1
        return 1

    return lookup


def _is_api(path: str) -> bool:
    """API and machine endpoints (``/metrics``, scraped with a token): they refuse, never redirect."""
    return path.startswith(("/api/", "/metrics"))


def _is_public(path: str) -> bool:
    return path.startswith(PUBLIC)


def _walk_checked(id_for) -> list[tuple[str, str | None, object]]:
    urls = list(iter_urls(id_for))
    unresolved = []
    for path, _name, _ in urls:
        try:
            resolve(path)
        except Resolver404:
            unresolved.append(path)
    assert not unresolved, f"the walker could not build a resolvable path for: {unresolved}"
    assert len(urls) > 50  # site + admin + API: a near-empty walk means the walker broke
    return urls


# --- The checks --------------------------------------------------------------------------------

def test_anonymous_is_sent_to_login_or_refused_everywhere(client, id_for):
    failures = []
    for path, name, _ in _walk_checked(id_for):
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            code = response.status_code
            if _is_public(path):
                if code >= 500:
                    failures.append((method, path, code, "public page failed"))
            elif _is_api(path) and (name or "").endswith("not-found"):
                if code not in REFUSED | {404}:
                    failures.append((method, path, code, "API catch-all must answer 404 (or refuse)"))
            elif _is_api(path):
                if code not in REFUSED:
                    failures.append((method, path, code, "API must answer 401/403"))
            elif code != 302 or "login" not in response["Location"]:
                failures.append((method, path, code, "must redirect to login"))
    assert not failures, "\n".join(map(str, failures))


def _api_needs_curator(callback, method: str) -> bool:
    """True if a DRF view's permissions for ``method`` include the curator or admin role."""
    from api.permissions import IsAdmin, IsCurator

    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is None or not hasattr(cls, "get_permissions"):
        return False
    initkwargs = getattr(callback, "initkwargs", {}) or {}
    view = cls(**initkwargs)
    actions = getattr(callback, "actions", None) or {}
    view.action = actions.get(method)
    view.action_map = actions
    if actions and method not in actions:
        return False
    try:
        permissions = view.get_permissions()
    except Exception:  # get_permissions may need a request; fall back to the class attribute
        permissions = [p() for p in getattr(cls, "permission_classes", [])]
    return any(isinstance(p, (IsCurator, IsAdmin)) for p in permissions)


def test_vetter_is_kept_out_of_admin_and_curator_only_views(client, vetter, id_for):
    client.force_login(vetter)
    failures, checked_curator_only = [], 0
    for path, name, callback in _walk_checked(id_for):
        if _is_public(path) or path.startswith(("/accounts/logout/", "/admin/logout/")):  # logging out is harmless
            continue
        if path.startswith("/admin/"):
            for method in ("get", "post"):
                response = getattr(client, method)(path)
                redirected = response.status_code == 302 and "/admin/login/" in response["Location"]
                if not (redirected or response.status_code in REFUSED):
                    failures.append((method, path, response.status_code, "admin must refuse a vetter"))
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            curator_only = (_api_needs_curator(callback, method) if _is_api(path)
                            else name in CURATOR_ONLY_SITE_URLS and method in ("get", "post"))
            if not curator_only:
                continue
            checked_curator_only += 1
            response = getattr(client, method)(path, content_type="application/json") if _is_api(path) \
                else getattr(client, method)(path)
            code = response.status_code
            if not (code in REFUSED or (code == 302 and "login" in response["Location"])):
                failures.append((method, path, code, "curator-only view must refuse a vetter"))
    assert checked_curator_only >= 1
    assert not failures, "\n".join(map(str, failures))


def test_vetter_site_pages_do_not_crash(client, vetter, id_for):
    """A vetter opening any site page gets a page, a redirect or a refusal, never a server error."""
    client.force_login(vetter)
    crashes = []
    for path, _name, _ in _walk_checked(id_for):
        if path.startswith(("/admin/", "/api/", "/accounts/logout/")):
            continue
        code = client.get(path).status_code
        if code >= 500:
            crashes.append((path, code))
    assert not crashes
