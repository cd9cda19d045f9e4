"""Radar charts in the style of the Qwen-Audio paper's Figure 1 (PNG and SVG, matplotlib Agg).

Rules: one axis is one measured quantity (the caller never mixes tasks or sources on an axis,
except an average the caller names, such as Figure 1's CoVoST2 mean); every value is mapped so that
higher is better, without clipping (1 - WER stays negative when WER > 1); each axis is scaled
against the best mapped value on it (the best model sits on the outer ring); a model is drawn only
on the axes it ran (no zero spokes for what is missing).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Transform = Literal["identity", "one_minus", "reciprocal"]
TRANSFORMS: tuple[Transform, ...] = ("identity", "one_minus", "reciprocal")
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


@dataclass(frozen=True)
class Axis:
    key: str                        # unique id, e.g. "librispeech/librispeech_test_clean/wer"
    label: str                      # tick label (may hold "\n")
    transform: Transform = "identity"  # how a raw value becomes "higher is better"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(f"radar axis {self.key}: unknown transform {self.transform!r}")


@dataclass(frozen=True)
class Series:
    name: str                                   # legend entry
    values: Mapping[str, float] = field(default_factory=dict)  # axis key -> raw value
    linestyle: str = "-"
    color: str | None = None                    # None: next colour of PALETTE


@dataclass(frozen=True)
class RadarImages:
    png: bytes
    svg: str


def n_label(counts: Collection[int]) -> str:
    """"n = 31" or "n = 4–2620": how many samples a series' plotted values rest on (its legend)."""
    lo, hi = min(counts), max(counts)
    return f"n = {lo}" if lo == hi else f"n = {lo}–{hi}"


def transform_for(metric: str, higher_is_better: bool) -> Transform:
    """Error rates (fractions: wer*, cer) -> 1 - x; other lower-is-better numbers (AAS ms) ->
    1 / x; everything else unchanged."""
    if higher_is_better:
        return "identity"
    if metric.startswith(("wer", "cer")):
        return "one_minus"
    return "reciprocal"


def higher_better(value: float, transform: Transform) -> float:
    """The raw value mapped so that higher is better (no clipping; 1 / 0 is +inf)."""
    if transform == "one_minus":
        return 1.0 - value
    if transform == "reciprocal":
        return math.inf if value == 0 else 1.0 / value
    return value


def relative_to_best(mapped: float, best: float) -> float:
    """1 for the best value of an axis, proportionally less for the others (negative allowed)."""
    if mapped == best:
        return 1.0
    if math.isinf(best):
        return 0.0
    return 1.0 + (mapped - best) / (abs(best) or 1.0)


def scale(axes: Sequence[Axis], series: Sequence[Series]) -> dict[str, dict[str, float]]:
    """series name -> axis key -> value relative to the axis' best (only axes the series ran)."""
    mapped = {s.name: {a.key: higher_better(float(s.values[a.key]), a.transform)
                       for a in axes if s.values.get(a.key) is not None} for s in series}
    out: dict[str, dict[str, float]] = {s.name: {} for s in series}
    for a in axes:
        present = [m[a.key] for m in mapped.values() if a.key in m]
        if not present:
            continue
        best = max(present)
        for name, m in mapped.items():
            if a.key in m:
                out[name][a.key] = relative_to_best(m[a.key], best)
    return out


def render(axes: Sequence[Axis], series: Sequence[Series], title: str = "",
           note: str = "") -> RadarImages | None:
    """PNG and SVG of the radar; None when no series has a value on any axis."""
    from matplotlib import rc_context

    with rc_context({"svg.hashsalt": "qa-eval", "svg.fonttype": "path", "font.size": 9}):
        fig = figure(axes, series, title, note)
        if fig is None:
            return None
        png, svg = io.BytesIO(), io.StringIO()
        fig.savefig(png, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
    return RadarImages(png.getvalue(), svg.getvalue())


def figure(axes: Sequence[Axis], series: Sequence[Series], title: str = "", note: str = ""):
    """The matplotlib Figure (no pyplot state): axes nobody ran are left out, and a series' line
    is broken (NaN) where it has no value. None when there is nothing to draw."""
    import numpy as np
    from matplotlib.figure import Figure

    scaled = scale(axes, series)
    axes = [a for a in axes if any(a.key in v for v in scaled.values())]
    if not axes:
        return None
    angles = np.linspace(0.0, 2 * np.pi, len(axes), endpoint=False)
    closed = np.append(angles, angles[:1])
    fig = Figure(figsize=(7.5, 7.5))
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    low = min([0.0] + [v for vals in scaled.values() for v in vals.values()])
    rmin = 0.0 if low >= 0 else low - 0.1
    colours = iter(PALETTE * (1 + len(series) // len(PALETTE)))
    for s in series:
        vals = scaled[s.name]
        if not vals:
            continue
        pts = np.array([vals.get(a.key, np.nan) for a in axes])
        ring = np.append(pts, pts[:1])
        colour = s.color or next(colours)
        ax.plot(closed, ring, s.linestyle, color=colour, linewidth=1.6, label=s.name)
        ax.plot(angles, pts, "o", color=colour, markersize=4.5)
        if not np.isnan(pts).any():
            ax.fill(closed, ring, color=colour, alpha=0.07)
    if rmin < 0:
        ax.plot(np.linspace(0, 2 * np.pi, 200), np.zeros(200), color="#888888", linewidth=0.8)
    ax.set_ylim(rmin, 1.08)
    ticks = [t for t in (-1.0, -0.5, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if t > rmin]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks], fontsize=7, color="#666666")
    ax.set_xticks(angles)
    ax.set_xticklabels([a.label for a in axes], fontsize=8)
    ax.tick_params(axis="x", pad=12)
    if title:
        ax.set_title(title, fontsize=10, pad=22)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8, frameon=False)
    if note:
        fig.text(0.5, 0.0, textwrap.fill(note, 110), ha="center", va="top", fontsize=7, color="#555555")
    return fig
