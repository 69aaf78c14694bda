"""Plotly figure builders for the pixel-level evidence of a candidate page.

Pure functions: the stored ``Candidate.pixel_payload`` (made at import by
``vetting.candidates.importers.tpf.diagnostics_payload`` from
:class:`classifier.pixels.PixelDiagnostics`) in, plotly figure dicts out, in the style of
:mod:`classifier.plots` (``{"data": [...], "layout": {...}}``, only ``heatmap`` and ``scatter``
traces, which the site's cartesian plotly.js bundle has).

* :func:`mean_image_figure` - the median image with the photometric aperture outlined, the
  target's catalog position and the out-of-transit photocentre;
* :func:`difference_image_figure` - out-of-transit minus in-transit (what dimmed; as the
  Kepler/TESS DV reports show it), with the target and the fitted source of the transit.

Images are drawn in pixel coordinates (column right, row up: the archive's and lightkurve's
orientation), one square per pixel.
"""
from __future__ import annotations

from collections.abc import Mapping

_TARGET = {"symbol": "x", "size": 13, "color": "#d62728", "line": {"width": 2, "color": "white"}}
_OOT = {"symbol": "circle-open", "size": 12, "color": "#17becf", "line": {"width": 2}}
_SOURCE = {"symbol": "star", "size": 15, "color": "#ffdd00", "line": {"width": 1, "color": "black"}}
_APERTURE_COLOR = "#ff7f0e"


def _layout(title: str, n_rows: int, n_cols: int) -> dict:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": "column (pixels)"}, "range": [-0.5, n_cols - 0.5], "constrain": "domain",
                  "showgrid": False, "zeroline": False},
        "yaxis": {"title": {"text": "row (pixels)"}, "range": [-0.5, n_rows - 0.5], "scaleanchor": "x",
                  "scaleratio": 1, "constrain": "domain", "showgrid": False, "zeroline": False},
        "template": "plotly_white", "margin": {"l": 55, "r": 10, "t": 45, "b": 45},
        "legend": {"orientation": "h", "y": -0.2},
    }


def _marker(point, name: str, style: dict) -> list[dict]:
    if not point or point[0] is None:
        return []
    return [{"type": "scatter", "x": [point[0]], "y": [point[1]], "mode": "markers", "name": name,
             "marker": style, "hovertemplate": f"{name}<br>column %{{x:.2f}}, row %{{y:.2f}}<extra></extra>"}]


def aperture_outline(aperture) -> tuple[list, list]:
    """Line segments (x, y lists with None separators) along the edges of the aperture pixels
    ``aperture`` (n_rows, n_cols) of 0/1: where an aperture pixel borders a non-aperture one."""
    if not aperture:
        return [], []
    n_rows, n_cols = len(aperture), len(aperture[0])

    def inside(r, c):
        return 0 <= r < n_rows and 0 <= c < n_cols and bool(aperture[r][c])

    xs, ys = [], []
    for r in range(n_rows):
        for c in range(n_cols):
            if not inside(r, c):
                continue
            left, right, low, high = c - 0.5, c + 0.5, r - 0.5, r + 0.5
            for dr, dc, seg in ((-1, 0, ((left, low), (right, low))), (1, 0, ((left, high), (right, high))),
                                (0, -1, ((left, low), (left, high))), (0, 1, ((right, low), (right, high)))):
                if not inside(r + dr, c + dc):
                    xs += [seg[0][0], seg[1][0], None]
                    ys += [seg[0][1], seg[1][1], None]
    return xs, ys


def mean_image_figure(payload: Mapping) -> dict:
    """The median out-of-transit image (e-/s) with the aperture, target and photocentre."""
    image = payload["mean_image"]
    n_rows, n_cols = len(image), len(image[0]) if image else 0
    xs, ys = aperture_outline(payload.get("aperture"))
    data = [{"type": "heatmap", "z": image, "colorscale": "Viridis", "name": "flux",
             "colorbar": {"title": {"text": "e⁻/s"}, "thickness": 12},
             "hovertemplate": "column %{x}, row %{y}<br>%{z:.4g} e⁻/s<extra></extra>"}]
    if xs:
        data.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": "aperture",
                     "line": {"color": _APERTURE_COLOR, "width": 2}, "hoverinfo": "skip"})
    data += _marker(payload.get("target_px"), "target (catalog position)", _TARGET)
    data += _marker(payload.get("oot_centroid_px"), "photocentre out of transit", _OOT)
    return {"data": data, "layout": _layout("Mean image", n_rows, n_cols)}


def difference_image_figure(payload: Mapping) -> dict:
    """Out-of-transit minus in-transit image (e-/s; positive = light lost in transit) on a
    diverging scale centred on zero, with the target and the fitted transit source."""
    image = payload["diff_image"]
    n_rows, n_cols = len(image), len(image[0]) if image else 0
    values = [abs(v) for row in image for v in row if v is not None]
    limit = max(values) if values else 1.0
    data = [{"type": "heatmap", "z": image, "colorscale": "RdBu", "reversescale": True, "zmid": 0.0,
             "zmin": -limit, "zmax": limit, "name": "out − in",
             "colorbar": {"title": {"text": "e⁻/s lost"}, "thickness": 12},
             "hovertemplate": "column %{x}, row %{y}<br>%{z:.3g} e⁻/s<extra></extra>"}]
    xs, ys = aperture_outline(payload.get("aperture"))
    if xs:
        data.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": "aperture",
                     "line": {"color": "#777777", "width": 1, "dash": "dot"}, "hoverinfo": "skip"})
    data += _marker(payload.get("target_px"), "target (catalog position)", _TARGET)
    data += _marker(payload.get("diff_centroid_px"), "source of the dimming (PSF fit)", _SOURCE)
    return {"data": data, "layout": _layout("Difference image (out of transit − in transit)", n_rows, n_cols)}


def pixel_figures(payload: Mapping | None) -> dict[str, dict]:
    """``{"pixel_mean": ..., "pixel_diff": ...}`` for a stored payload; {} without one."""
    if not payload or not payload.get("mean_image") or not payload.get("diff_image"):
        return {}
    return {"pixel_mean": mean_image_figure(payload), "pixel_diff": difference_image_figure(payload)}


__all__ = ["aperture_outline", "mean_image_figure", "difference_image_figure", "pixel_figures"]
