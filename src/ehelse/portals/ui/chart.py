"""A dependency-free SVG line chart, rendered on the server.

Why not a JavaScript chart library: the page stays readable without scripts, the chart obeys
the strict Content-Security-Policy (no inline styles: colours come from ehelse.css classes),
and it costs nothing to load. Accessibility (WCAG 2.1 1.1.1, 1.4.1): the SVG is `role="img"`
with a title and a description that says what it shows; every point has a <title> with its
date and value; series differ in marker shape as well as colour; the page puts the same
values in a table next to the chart, which is the real text alternative.

    line_chart([Series("Klinikk", points), Series("Hjemme", points, "home")],
               title="Vekt", unit="kg", reference=(50, 80), t=t, lang="nb") -> Markup
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Sequence

from markupsafe import Markup, escape

from ehelse.portals.ui.formatting import format_date, format_number, parse_when

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 30, 36  # plot margins for the axis labels (TOP: the unit above the top tick)
MARKERS = ("circle", "square", "diamond")
_ids = itertools.count(1)


@dataclass
class Series:
    name: str
    points: Sequence[tuple[Any, float]]  # (FHIR date/dateTime or date, value)
    kind: str = "clinic"  # css class: chart-series-<kind>


def _day(value: Any) -> float | None:
    when = parse_when(value)
    if when is None:
        return None
    if isinstance(when, datetime):
        return when.timestamp() / 86400.0
    return datetime(when.year, when.month, when.day).timestamp() / 86400.0


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 0.001:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def line_chart(series: Sequence[Series], *, title: str, unit: str, t: Any, lang: str = "nb",
               reference: tuple[float | None, float | None] | None = None) -> Markup:
    plotted = [(s, sorted(((day, float(v), w) for w, v in s.points if v is not None
                           for day in (_day(w),) if day is not None), key=lambda p: p[0])) for s in series]
    plotted = [(s, pts) for s, pts in plotted if pts]
    if not plotted:
        return Markup(f'<p class="chart-empty">{escape(t("chart_no_data"))}</p>')
    uid = next(_ids)
    days = [p[0] for _, pts in plotted for p in pts]
    values = [p[1] for _, pts in plotted for p in pts]
    low_ref, high_ref = reference or (None, None)
    y_values = values + [v for v in (low_ref, high_ref) if v is not None]
    ticks = nice_ticks(min(y_values), max(y_values))
    y0, y1 = ticks[0], ticks[-1]
    d0, d1 = min(days), max(days)
    if d1 - d0 < 1:
        d0, d1 = d0 - 15, d1 + 15
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: float) -> float:
        return round(LEFT + (day - d0) / (d1 - d0) * plot_w, 1)

    def y(value: float) -> float:
        return round(TOP + (y1 - value) / (y1 - y0) * plot_h, 1)

    parts: list[str] = []
    description = [t("chart_series_points", name=s.name, count=len(pts), first=format_date(pts[0][2], lang),
                     last=format_date(pts[-1][2], lang)) for s, pts in plotted]
    if low_ref is not None and high_ref is not None:
        label = t("chart_reference_range", low=format_number(low_ref, lang), high=format_number(high_ref, lang))
        description.append(label)
        parts.append(f'<rect class="chart-reference" x="{LEFT}" y="{y(high_ref)}" width="{plot_w}" '
                     f'height="{round(y(low_ref) - y(high_ref), 1)}"><title>{escape(label)}</title></rect>')
    for tick in ticks:  # horizontal grid with value labels
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick)}" y2="{y(tick)}"/>')
        parts.append(f'<text class="chart-label" x="{LEFT - 6}" y="{y(tick) + 4}" text-anchor="end">'
                     f'{escape(format_number(tick, lang))}</text>')
    for day, anchor in _x_ticks(d0, d1, lang):
        parts.append(f'<text class="chart-label" x="{x(day)}" y="{HEIGHT - 12}" text-anchor="{anchor}">'
                     f'{escape(_x_label(day, d1 - d0, lang))}</text>')
    parts.append(f'<text class="chart-label" x="4" y="12">{escape(unit)}</text>')  # clear of the top tick label
    for index, (s, pts) in enumerate(plotted):
        kind = escape(s.kind)
        path = " ".join(f"{x(d)},{y(v)}" for d, v, _ in pts)
        parts.append(f'<polyline class="chart-line chart-series-{kind}" points="{path}"/>')
        marker = MARKERS[index % len(MARKERS)]
        for d, v, when in pts:
            tip = escape(f"{s.name}, {format_date(when, lang)}: {format_number(v, lang)} {unit}")
            parts.append(_marker(marker, x(d), y(v), f"chart-point chart-series-{kind}", tip))
    legend = "".join(
        f'<li><svg class="chart-key" viewBox="0 0 12 12" aria-hidden="true" focusable="false">'
        f'{_marker(MARKERS[i % len(MARKERS)], 6, 6, f"chart-point chart-series-{escape(s.kind)}", None)}</svg>'
        f'{escape(s.name)}</li>' for i, (s, _) in enumerate(plotted))
    return Markup(
        f'<figure class="chart"><svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{uid}-title chart-{uid}-desc" focusable="false">'
        f'<title id="chart-{uid}-title">{escape(title)}</title>'
        f'<desc id="chart-{uid}-desc">{escape(". ".join(description))}</desc>'
        + "".join(parts) + f'</svg><ul class="chart-legend">{legend}</ul></figure>')


def _marker(shape: str, cx: float, cy: float, css: str, tip: Any) -> str:
    title = f"<title>{tip}</title>" if tip else ""
    if shape == "square":
        return f'<rect class="{css}" x="{cx - 4}" y="{cy - 4}" width="8" height="8">{title}</rect>'
    if shape == "diamond":
        return f'<polygon class="{css}" points="{cx},{cy - 5} {cx + 5},{cy} {cx},{cy + 5} {cx - 5},{cy}">{title}</polygon>'
    return f'<circle class="{css}" cx="{cx}" cy="{cy}" r="4">{title}</circle>'


def _x_ticks(d0: float, d1: float, lang: str) -> list[tuple[float, str]]:
    """Four evenly spaced dates; the outer labels are anchored inwards so they fit."""
    return [(d0 + (d1 - d0) * i / 3, ("start", "middle", "middle", "end")[i]) for i in range(4)]


def _x_label(day: float, span: float, lang: str) -> str:
    when = date.fromtimestamp(day * 86400.0)
    if span > 730:
        return str(when.year)
    return format_date(when, lang, short=True)
