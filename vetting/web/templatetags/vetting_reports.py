"""``{% report_unavailable as problem %}``: why vetting reports cannot be printed here (or "")."""
from __future__ import annotations

from django import template

from vetting.core import reports

register = template.Library()


@register.simple_tag
def report_unavailable() -> str:
    return reports.unavailable() or ""
