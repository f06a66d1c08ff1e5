"""The attention chart: follow-ups per day, stacked by source, as server-rendered SVG.

No chart library and no script: a few dozen rectangles are simpler to write than to
vendor. Each day's bar is a link to that day's follow-ups, so clicking filters the list
with JavaScript off; every bar has a <title> (a tooltip, and what a screen reader says).
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from markupsafe import Markup

# Colour-blind-safe (Okabe-Ito), each with a contrast ratio >= 3:1 on white, as WCAG asks
# of graphical objects; sources past the eighth share the last colour.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8F6A00", "#56287A", "#B8003D",
           "#4D4D4D")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 36, 28, 10


def attention_chart(per_day: dict[date, dict[str, int]], *, last_day: date, days: int,
                    day_link: str, label: str) -> Markup:
    """An SVG of `days` days ending on `last_day`. `day_link` has a {day} placeholder."""
    first = last_day - timedelta(days=days - 1)
    sources = sorted({s for counts in per_day.values() for s in counts},
                     key=lambda s: -sum(c.get(s, 0) for c in per_day.values()))
    colour = {source: PALETTE[min(i, len(PALETTE) - 1)] for i, source in enumerate(sources)}
    peak = max([sum(c.values()) for c in per_day.values()] + [1])
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    step = plot_w / days
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             # aria-label, not aria-labelledby: one page draws a chart per topic, and
             # an id would repeat.
             f'class="chart" role="img" aria-label="{escape(label)}">'
             f'<title>{escape(label)}</title>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" '
             'stroke="#595959"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 8}" text-anchor="end" class="axis">{peak}</text>',
             f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" class="axis">0</text>']
    for index in range(days):
        day = first + timedelta(days=index)
        counts = per_day.get(day, {})
        total = sum(counts.values())
        x = LEFT + index * step
        if index % max(1, days // 6) == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="axis">'
                         f'{day:%d %b}</text>')
        if not total:
            continue
        detail = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
        parts.append(f'<a href="{escape(day_link.format(day=day.isoformat()))}">'
                     f'<title>{day.isoformat()}: {total} follow-up{"s" * (total != 1)} '
                     f'({escape(detail)})</title>')
        y: float = TOP + plot_h
        for source in sources:
            count = counts.get(source, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                         f'height="{h:.1f}" fill="{colour[source]}"/>')
        parts.append("</a>")
    parts.append("</svg>")
    legend = "".join(f'<li><svg class="swatch" width="12" height="12" aria-hidden="true">'
                     f'<rect width="12" height="12" fill="{colour[s]}"/></svg>{escape(s)}</li>'
                     for s in sources)
    return Markup("".join(parts) + (f'<ul class="legend">{legend}</ul>' if legend else ""))
