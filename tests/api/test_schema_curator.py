"""``schemathesis run --checks all`` with a curator's token (a file of its own, so pytest-xdist
runs it beside the vetter's run in tests/api/test_schema.py)."""
from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.timeout(960)
def test_schemathesis_all_checks_pass_for_a_curator(live_server, make_candidate, make_version, predict,
                                                    add_lightcurve, vetter, curator, settings, monkeypatch):
    """Zero schemathesis failures with a curator's token (what only curators may call included)."""
    from tests.api.schemathesis_run import assert_schemathesis_passes, cli_world

    cli_world(make_candidate, make_version, predict, add_lightcurve, vetter, curator)
    assert_schemathesis_passes(live_server, curator, settings, monkeypatch)
