"""A self-contained HTML animation of a run's frames: a Plotly figure, one frame per epoch, a slider."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.io
from plotly.colors import qualitative

from backend.arrays import typed_array

Layout = tuple[np.ndarray, np.ndarray]


def _wire(values: np.ndarray) -> dict[str, Any]:
    """A typed array as the plain dict Plotly.js decodes (much smaller than a list of floats)."""
    return typed_array(np.ascontiguousarray(values)).model_dump(exclude_none=True)


def _positions(layout: Layout) -> list[dict[str, Any]]:
    points, centers = layout
    return [{"x": _wire(points[:, 0]), "y": _wire(points[:, 1])},
            {"x": _wire(centers[:, 0]), "y": _wire(centers[:, 1])}]


def _class_colors(count: int) -> dict[str, Any]:
    """Marker colour settings: one distinct colour per class (a stepped scale), Viridis past 24 classes."""
    if count > len(qualitative.Light24):
        return {"colorscale": "Viridis", "cmin": 0, "cmax": max(count - 1, 1)}
    palette = qualitative.Plotly if count <= len(qualitative.Plotly) else qualitative.Light24
    steps = [[edge, palette[k]] for k in range(count) for edge in (k / count, (k + 1) / count)]
    return {"colorscale": steps, "cmin": -0.5, "cmax": count - 0.5}


def _axis_ranges(layouts: Sequence[Layout]) -> tuple[list[float], list[float]]:
    """x and y ranges that hold every frame (so the axes stay still while the points move)."""
    everything = np.concatenate([np.concatenate(layout) for layout in layouts]).astype(np.float64)
    low, high = everything.min(axis=0), everything.max(axis=0)
    margin = 0.05 * np.maximum(high - low, 1e-6)
    return [low[0] - margin[0], high[0] + margin[0]], [low[1] - margin[1], high[1] + margin[1]]


def _slider(epochs: Sequence[int]) -> dict[str, Any]:
    jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}, "transition": {"duration": 300}}
    steps = [{"label": str(epoch), "method": "animate", "args": [[str(epoch)], jump]} for epoch in epochs]
    return {"active": 0, "currentvalue": {"prefix": "epoch "}, "pad": {"t": 40}, "steps": steps}


def _buttons() -> dict[str, Any]:
    play = {"frame": {"duration": 600, "redraw": False}, "fromcurrent": True, "transition": {"duration": 300}}
    pause = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}
    return {
        "type": "buttons", "showactive": False, "direction": "left", "x": 0, "y": 1.08,
        "xanchor": "left", "yanchor": "bottom",
        "buttons": [{"label": "Play", "method": "animate", "args": [None, play]},
                    {"label": "Pause", "method": "animate", "args": [[None], pause]}],
    }


def animation_figure(title: str, epochs: Sequence[int], layouts: Sequence[Layout], labels: np.ndarray,
                     class_names: Sequence[str]) -> dict[str, Any]:
    """The figure as a plain dict: probe points coloured by class, class centers, a frame per epoch."""
    names = [class_names[label] if 0 <= label < len(class_names) else str(label) for label in labels.tolist()]
    first = _positions(layouts[0])
    points = {
        "type": "scatter", "mode": "markers", "name": "probe samples", **first[0], "text": names,
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"color": _wire(labels.astype(np.int16)), **_class_colors(max(len(class_names), 1)),
                   "size": 4, "opacity": 0.7},
    }
    centers = {
        "type": "scatter", "mode": "markers+text", "name": "class centers", **first[1],
        "text": list(class_names), "textposition": "top center",
        "marker": {"symbol": "x", "size": 12, "color": "black"},
    }
    frames = [{"name": str(epoch), "data": _positions(layout), "traces": [0, 1]}
              for epoch, layout in zip(epochs, layouts)]
    x_range, y_range = _axis_ranges(layouts)
    layout = {
        "title": {"text": title}, "showlegend": False, "height": 720,
        "xaxis": {"range": x_range, "scaleanchor": "y", "zeroline": False},
        "yaxis": {"range": y_range, "zeroline": False},
        "sliders": [_slider(epochs)], "updatemenus": [_buttons()],
    }
    return {"data": [points, centers], "layout": layout, "frames": frames}


def animation_html(title: str, epochs: Sequence[int], layouts: Sequence[Layout], labels: np.ndarray,
                   class_names: Sequence[str]) -> str:
    """A full HTML page with Plotly.js inlined, so it opens offline."""
    figure = animation_figure(title, epochs, layouts, labels, class_names)
    return plotly.io.to_html(figure, include_plotlyjs=True, full_html=True, validate=False, auto_play=False)
