"""API URL names live in the ``api`` namespace; the site's names (same entities) stay unprefixed."""
from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse

import api.urls


@pytest.mark.parametrize("name,args,site_path,api_path", [
    ("candidate-detail", [7], "/candidates/7/", "/api/candidates/7/"),
    ("dispute-list", [], "/reviews/disputes/", "/api/disputes/"),
    ("dispute-detail", [3], "/reviews/disputes/3/", "/api/disputes/3/"),
])
def test_shared_entity_names_reverse_to_the_site_and_namespaced_to_the_api(name, args, site_path, api_path):
    assert reverse(name, args=args) == site_path
    assert reverse(f"api:{name}", args=args) == api_path


def test_no_api_name_is_reachable_without_the_namespace():
    assert api.urls.app_name == "api"
    assert "api" in get_resolver().namespace_dict
    names = [p.name for p in api.urls.urlpatterns if isinstance(p, URLPattern) and p.name]
    assert {"api-schema", "api-docs", "candidate-list", "training-run-detail", "queue-list"} <= set(names)
    unprefixed = get_resolver().reverse_dict  # what reverse() finds without a namespace
    leaked = [(name, possibilities[0][0]) for name in names for possibilities, *_ in unprefixed.getlist(name)
              if possibilities[0][0].startswith("api/")]
    assert not leaked, f"API names that reverse without the api: namespace: {leaked}"


def test_docs_page_loads_the_schema_by_its_namespaced_name(anon_client):
    html = anon_client.get(reverse("api:api-docs")).content.decode()
    assert reverse("api:api-schema") == "/api/schema/"
    assert '"/api/schema/"' in html  # Swagger UI's url, built with reverse("api:api-schema")
