"""Charts drawn on the server as SVG: no script, no CDN, readable by a screen reader."""

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 160, 24


def day_chart(rows) -> Markup:
    """Clicks per day as bars and conversions (leads, trials, sales, rebills)
    as dots, for report rows of one day each."""
    if not rows:
        return Markup("")
    top = max([row.clicks for row in rows] + [row.leads + row.trials + row.sales + row.rebills for row in rows] + [1])
    step = (WIDTH - 2 * PAD) / len(rows)
    parts = []
    for index, row in enumerate(rows):
        x = PAD + index * step
        height = (HEIGHT - 2 * PAD) * row.clicks / top
        conversions = row.leads + row.trials + row.sales + row.rebills
        label = escape(f"{row.label}: {row.clicks} clicks, {conversions} conversions")
        parts.append(
            f'<rect class="bar" x="{x + step * 0.15:.1f}" y="{HEIGHT - PAD - height:.1f}" '
            f'width="{step * 0.7:.1f}" height="{height:.1f}"><title>{label}</title></rect>'
        )
        if conversions:
            y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * conversions / top
            parts.append(
                f'<circle class="dot" cx="{x + step / 2:.1f}" cy="{y:.1f}" r="3"><title>{label}</title></circle>'
            )
    first, last = escape(rows[0].label), escape(rows[-1].label)
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}">{first}</text>')
    parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end">{last}</text>')
    parts.append(f'<text x="{PAD}" y="14">{top}</text>')
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{first} – {last}">'
        + "".join(parts)
        + "</svg>"
    )
