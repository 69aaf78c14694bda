"""The API's JSON parser: any body is a 400 or data, never a server error.

DRF's ``JSONParser`` lets a ``RecursionError`` out of ``json.loads`` (10 KB of ``[`` is
enough: a 500). Here a body nested deeper than :data:`MAX_DEPTH` is a 400, whether the
decoder recursed out or not, so no later code (serializers, ``copy.deepcopy``, JSONField
writes) ever walks a pathological structure either.
"""
from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

#: Deepest nesting of arrays/objects a request body may have (the API's bodies are flat
#: objects; import options are one level).
MAX_DEPTH = 32


def too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """True if ``value`` (parsed JSON) nests lists/dicts more than ``limit`` levels deep
    (iterative: deep input cannot exhaust the stack here)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from None
        if too_deep(data):
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.")
        return data
