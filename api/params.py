"""Strict reading of client-supplied integers (ids, page sizes): one rule for the whole API.

An integer is a JSON integer or a string of ASCII digits, nothing else: ``24900.9`` (a float),
``True`` (a boolean), ``"1e3"``, ``" 12"``, ``"١٢"`` (non-ASCII digits) are not integers, so
none of them can be truncated or coerced into some other row's id.
"""
from __future__ import annotations

from vetting.core.filters import MAX_ID  # the id filters' bound: one number for the whole API

__all__ = ["MAX_ID", "parse_int"]


def parse_int(value, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """``value`` as an int if it is an integer (see the module docstring) within
    ``[minimum, maximum]``, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return None
    return number
