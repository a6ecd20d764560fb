"""Charts as inline SVG drawn here rather than by a JavaScript library: a report must open offline, in a mail
client and under a Content-Security-Policy that runs no script, and two chart shapes (stacked bars over time,
horizontal bars) do not justify vendoring and updating a 200 KB library. Every bar carries data-* attributes
with what it counts, so a test in a real browser can read the chart back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from markupsafe import Markup, escape

from ..hunt import utc
from ..rules import SEVERITIES

COLORS = {"critical": "#8e24aa", "high": "#d32f2f", "medium": "#f57c00", "low": "#1976d2", "informational": "#78909c"}


def _nice(top: int) -> int:
    """The axis maximum: 1, 2 or 5 times a power of ten, at least top."""
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale >= top:
                return m * scale
        scale *= 10


def _bucket(at: datetime, start: datetime, step: int) -> int:
    return int((at - start).total_seconds() // step)


def over_time(rows: list[dict[str, Any]], start: datetime, end: datetime, step: int,
              width: int = 960, height: int = 240) -> Markup:
    """Findings per bucket stacked by severity, every bucket of [start, end) drawn so quiet hours show."""
    first = datetime.fromtimestamp(int(utc(start).timestamp()) // step * step, timezone.utc)  # toStartOfInterval's
    n = max(1, _bucket(utc(end) - timedelta(microseconds=1), first, step) + 1)  # end is not in the window
    counts: dict[tuple[int, str], int] = {}
    for row in rows:
        key = (_bucket(utc(row["bucket"]), first, step), row["severity"])
        counts[key] = counts.get(key, 0) + row["findings"]
    totals = [sum(counts.get((i, s), 0) for s in SEVERITIES) for i in range(n)]
    top = _nice(max(totals, default=0) or 1)
    left, bottom, right, head = 44, 26, 8, 8
    plot_w, plot_h = width - left - right, height - bottom - head
    bar_w = plot_w / n
    label = "%Y-%m-%d %H:%M" if step < 86400 else "%Y-%m-%d"
    out = [f'<svg class="chart" role="img" aria-label="findings over time" viewBox="0 0 {width} {height}" '
           f'width="100%" xmlns="http://www.w3.org/2000/svg">']
    for k in range(5):  # grid lines and the y axis
        y = head + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{top * k // 4}</text>')
    for i in range(n):
        x, y = left + i * bar_w, head + plot_h
        when = first + timedelta(seconds=i * step)
        for severity in reversed(SEVERITIES):  # critical at the bottom
            count = counts.get((i, severity), 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            out.append(f'<rect class="bar" data-severity="{severity}" data-count="{count}" x="{x + 0.5:.1f}" '
                       f'y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" fill="{COLORS[severity]}">'
                       f'<title>{when:{label}}: {count} {severity}</title></rect>')
    ticks = min(n, 8)
    for t in range(ticks):
        i = t * n // ticks
        when = first + timedelta(seconds=i * step)
        out.append(f'<text x="{left + (i + 0.5) * bar_w:.1f}" y="{height - 8}" class="axis" '
                   f'text-anchor="middle">{when:{label}}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def bars(items: list[tuple[str, int]], kind: str, width: int = 460, row: int = 22) -> Markup:
    """Horizontal bars, one per (label, count), labels escaped (they come from the data)."""
    top = max((v for _, v in items), default=0) or 1
    label_w = 170
    height = row * max(len(items), 1)
    out = [f'<svg class="chart" role="img" aria-label="findings by {kind}" viewBox="0 0 {width} {height}" '
           f'width="100%" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, value) in enumerate(items):
        y = i * row
        w = (width - label_w - 50) * value / top
        out.append(f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" class="axis" text-anchor="end">{escape(name)}</text>'
                   f'<rect class="hbar" data-{kind}="{escape(name)}" data-count="{value}" x="{label_w}" y="{y + 3}" '
                   f'width="{max(w, 1):.1f}" height="{row - 6}"><title>{escape(name)}: {value}</title></rect>'
                   f'<text x="{label_w + w + 6:.1f}" y="{y + row * 0.7:.1f}" class="axis">{value}</text>')
    out.append("</svg>")
    return Markup("".join(out))
