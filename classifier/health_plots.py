"""Plotly figure of a model's health over time (pure: bucket dicts in, figure dict out).

Drawn on the model page (learning curves) from ``vetting.learning.health.health_over_time``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence


def health_figure(buckets: Sequence[Mapping], *, near_band: tuple[float, float] = (0.4, 0.6)) -> dict:
    """Agreement with new consensus labels (with its 95 % Wilson interval) and the near-0.5 share
    of newly scored candidates, per time bucket since promotion.

    Parameters
    ----------
    buckets : sequence of mapping
        Oldest first; each with ``start`` (ISO time), ``n``, ``agree``, ``value``, ``low``,
        ``high`` (agreement, 0..1 or None) and ``n_scored``, ``near``, ``near_share``.
    near_band : (float, float)
        The p_planet band counted as near 0.5 (for the legend).

    Returns
    -------
    dict
        ``{"data": [...], "layout": {...}}``; no traces for no buckets.
    """
    if not buckets:
        return {"data": [], "layout": {"title": {"text": "Model health: no data yet"}}}
    xs = [b["start"] for b in buckets]
    value = [b["value"] for b in buckets]
    plus = [(b["high"] - b["value"]) if b["value"] is not None else None for b in buckets]
    minus = [(b["value"] - b["low"]) if b["value"] is not None else None for b in buckets]
    agreement = {
        "type": "scatter", "mode": "lines+markers", "name": "Agreement with new consensus labels",
        "x": xs, "y": value, "connectgaps": False,
        "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
        "customdata": [[b["agree"], b["n"]] for b in buckets],
        "hovertemplate": "week of %{x|%Y-%m-%d}: %{customdata[0]} of %{customdata[1]} agree (%{y:.2f})"
                         "<extra>agreement</extra>",
    }
    near = {
        "type": "bar", "name": f"Near 0.5 ({near_band[0]} ≤ p_planet ≤ {near_band[1]}), newly scored",
        "x": xs, "y": [b["near_share"] for b in buckets], "opacity": 0.35,
        "customdata": [[b["near"], b["n_scored"]] for b in buckets],
        "hovertemplate": "week of %{x|%Y-%m-%d}: %{customdata[0]} of %{customdata[1]} new predictions "
                         "near 0.5<extra>near 0.5</extra>",
    }
    return {
        "data": [near, agreement],
        "layout": {
            # no x-axis title: the page's horizontal legend sits where it would be
            "title": {"text": "Active model since its promotion, per bucket from promotion (UTC): "
                              "bars share near 0.5, line agreement with 95% interval"},
            "xaxis": {"type": "date"},
            "yaxis": {"title": {"text": "share"}, "range": [0, 1.05]},
            "legend": {"orientation": "h"},
        },
    }
