"""vetting_format: the queue table's number formatting (fixed, the cheap floatformat) and code names (words)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.template.defaultfilters import floatformat

from vetting.web.templatetags.vetting_format import fixed


@pytest.mark.parametrize("value, digits, expected", [
    (1.5, 2, "1.50"), (0.123456, 3, "0.123"), (1234.6, 0, "1235"), (3.14159265, 4, "3.1416"),
    (12, 1, "12.0"), (Decimal("2.25"), 1, "2.2"), ("0.5", 2, "0.50"), (-0.004, 2, "0.00"), (-0.4, 0, "0"),
    (-1.25, 1, "-1.2"), (None, 2, ""), ("", 2, ""), ("abc", 2, ""),
])
def test_fixed(value, digits, expected):
    assert fixed(value, digits) == expected


@pytest.mark.parametrize("value", [0.0, 0.37, 0.999, 1.0, 12.345678, 365.26, 1e5 + 0.3, 7.0])
@pytest.mark.parametrize("digits", [0, 1, 2, 3, 4])
def test_fixed_matches_floatformat_away_from_exact_ties(value, digits):
    assert fixed(value, digits) == floatformat(value, digits)


def test_fixed_in_a_template_with_a_default():
    template = Template('{% load vetting_format %}[{{ a|fixed:2|default:"—" }}][{{ b|fixed:2|default:"—" }}]')
    assert template.render(Context({"a": None, "b": 0.256})) == "[—][0.26]"


def test_words_turns_codes_into_words():
    from vetting.web.templatetags.vetting_format import words

    assert words("likely_planet") == "likely planet"
    assert words("random") == "random"
    assert words(None) == ""
