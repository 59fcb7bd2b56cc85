"""Charts as inline SVG, rendered on the server: no JavaScript, no CDN, no external reference of any kind.

Every text that comes from data (department and resource names) is escaped; links point only to the
portal's own pages. Each chart carries ``role="img"`` and a ``<title>`` for screen readers, and every bar or
point a ``<title>`` with its exact value (a tooltip in every browser).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
FONT = 'font-family="system-ui,sans-serif" font-size="12"'
COLORS = ("#8b1a1a", "#2f6f9f", "#3f8f4f", "#b7791f")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    href: str = ""  # a portal path, or "" for no link


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _nice_max(value: float, ticks: int = 4) -> float:
    """An axis maximum ≥ value that splits into ``ticks`` round whole steps (1, 2 or 5 × 10^k, at least 1):
    17 → 20 (steps of 5), 0 → 4."""
    need = max(value, 0.0) / ticks
    step = 1.0
    while step < need:
        for factor in (2, 2.5, 2):  # 1 → 2 → 5 → 10 → 20 …
            step *= factor
            if step >= need:
                break
    return step * ticks


def _fmt(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value):,}"


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_href(href: str) -> str:
    # Only the portal's own absolute paths ("/…", never "//host"): a chart never points off-site.
    return href if href.startswith("/") and not href.startswith("//") else ""


def bar_chart(bars: Sequence[Bar], *, title: str, unit: str = "") -> SafeString:
    """Horizontal bars, one per row, largest scale first as given."""
    label_w, row_h, pad = 190, 24, 8
    plot_w = WIDTH - label_w - 80
    height = pad * 2 + row_h * max(1, len(bars))
    top = _nice_max(max((b.value for b in bars), default=0))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" {FONT}><title>{escape(title)}</title>']
    if not bars:
        parts.append(f'<text x="{pad}" y="{pad + 16}" fill="#7b8794">暂无数据</text>')
    for i, b in enumerate(bars):
        y = pad + i * row_h
        w = 0 if top <= 0 else max(0.0, b.value) / top * plot_w
        tip = escape(f"{b.label}: {_fmt(b.value)}{unit}")
        label = (f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" fill="#1f2933">'
                 f"{escape(_short(b.label))}</text>")
        href = _safe_href(b.href)
        if href:
            label = f'<a href="{escape(href)}">{label}</a>'
        parts.append(f"<g><title>{tip}</title>{label}"
                     f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{COLORS[0]}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 16}" fill="#52606d">{escape(_fmt(b.value))}</text></g>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every data text above is escaped


def line_chart(days: Sequence[dt.date], series: Sequence[Series], *, title: str) -> SafeString:
    """One line per series over the days, with a y axis from 0 and a date every week on the x axis."""
    height, left, right, top_pad, bottom = 240, 56, 16, 28, 40
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    top = _nice_max(max((v for s in series for v in s.values), default=0))
    n = len(days)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h - (max(0.0, v) / top) * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" {FONT}><title>{escape(title)}</title>']
    for k in range(5):  # horizontal grid and y labels
        v = top * k / 4
        parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e4e7eb"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#52606d">{_fmt(v)}</text>')
    step = max(1, math.ceil(n / 8))
    for i in range(n - 1, -1, -step):  # counted back from the last day, so today is always labelled
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                     f'fill="#52606d">{days[i]:%m-%d}</text>')
    for j, s in enumerate(series):
        color = COLORS[j % len(COLORS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(s.values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                         f"<title>{escape(f'{days[i]:%Y-%m-%d} {s.name}: {_fmt(v)}')}</title></circle>")
        lx = left + j * 160
        parts.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{color}"/>'
                     f'<text x="{lx + 16}" y="16" fill="#1f2933">{escape(s.name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every data text above is escaped
