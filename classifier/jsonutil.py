"""Numbers to JSON: the one place NaN and infinities become ``null`` (JSON has neither).

* :func:`json_number` - one value: a finite ``float`` or ``None``.
* :func:`json_floats` - an array (any shape, flattened) as a list of floats, ``None`` for NaN/inf,
  optionally rounded to a number of significant digits (plot payloads keep 7).
* :func:`jsonable` - nested dicts/lists/tuples/numpy arrays and scalars as plain JSON types,
  non-finite floats as ``None``.

Used by the classifier (plot payloads, artifact metadata) and by the site (stored features,
light-curve API, model metrics). Nothing here imports Django.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def json_number(value) -> float | None:
    """``value`` as a finite float; ``None`` when it is None, not a number or not finite."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def json_floats(values, *, digits: int | None = None) -> list[float | None]:
    """Array-like (flattened) -> list of floats, ``None`` for NaN/inf.

    ``digits``: keep this many significant digits (smaller JSON); None keeps full precision.
    """
    arr = np.asarray(values, dtype=float).ravel()
    if digits is None:
        return [v if math.isfinite(v) else None for v in arr.tolist()]
    fmt = f".{int(digits)}g"
    return [float(format(v, fmt)) if math.isfinite(v) else None for v in arr.tolist()]


def jsonable(value):
    """Nested mappings, lists, tuples, numpy arrays and scalars -> plain JSON types.

    Keys become strings; floats that are NaN or infinite become ``None``; numpy integers and
    booleans become ``int``/``bool``; anything else is returned unchanged.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


__all__ = ["json_number", "json_floats", "jsonable"]
