"""Template filters for long tables: cheap number formatting (``fixed``) and codes shown as
words (``words``).

``floatformat`` goes through ``Decimal`` and the localisation machinery for every cell; a
50-row queue page calls it 300 times (a third of the page's rendering time). The site is
English-only with no thousands separator in table cells, so a format string does the same job.
"""
from __future__ import annotations

from django import template

register = template.Library()


@register.filter(is_safe=True)
def fixed(value, digits=2) -> str:
    """``value`` with exactly ``digits`` decimals (``1.5|fixed:2`` -> ``"1.50"``); ``""`` for
    None, blank or non-numbers, so ``|fixed:2|default:"—"`` works as with ``floatformat``.

    Rounds the binary value as Python's ``format`` does (``floatformat`` rounds its decimal
    repr half up: they differ only on exact ties such as 0.125) and never shows ``-0``.
    """
    if value is None or value == "":
        return ""
    try:
        text = f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError, OverflowError):
        return ""
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]
    return text


@register.filter
def words(value) -> str:
    """A code such as ``likely_planet`` as words (``"likely planet"``); ``""`` for None."""
    return "" if value is None else str(value).replace("_", " ")
