"""Template filters for long tables: cheap number formatting (``fixed``), codes shown as
words (``words``) and metric values with the precision of their kind (``metric``).

``floatformat`` goes through ``Decimal`` and the localisation machinery for every cell; a
50-row queue page calls it 300 times (a third of the page's rendering time). The site is
English-only with no thousands separator in table cells, so a format string does the same job.
"""
from __future__ import annotations

from django import template

from vetting.web.candidate_page import metric_text

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


@register.filter
def metric(value, key: str = "") -> str:
    """A vetting metric's value formatted for its key (``{{ flag.value|metric:flag.metric }}``):
    significances to 0.1, phases to 0.001, counts whole, else 3 significant figures; ``""`` for
    None/NaN (see :func:`vetting.web.candidate_page.metric_text`)."""
    return metric_text(str(key or ""), value)
