"""Small SVG line plots for the bench summaries (no plotting library needed)."""
def front(points, key="flops_speedup"):
    """The upper envelope: for each point, the best score at that speed-up (`key`) or more."""
    ps = sorted(points, key=lambda p: p[key])
    out = []
    for p in ps:
        best = max(q["score"] for q in ps if q[key] >= p[key])
        out.append((p[key], best))
    return out


def svg(title, curves, path, xlabel, markers=None, hline=None):
    """A small SVG line plot, one curve per entry of `curves` ({name: [(x, y)]});
    `markers` ({name: [(x, y)]}) are drawn as single points; `hline` = (y, label)
    draws a dashed reference line."""
    w, h, m, lw = 900, 400, 60, 260  # lw: legend width, right of the plot
    markers = markers or {}
    xs = [x for c in list(curves.values()) + list(markers.values()) for x, _ in c]
    ys = [y for c in list(curves.values()) + list(markers.values()) for _, y in c]
    x0, x1 = 1.0, max(xs) * 1.05
    y0, y1 = max(min(ys), max(ys) - 12) - 0.5, max(ys) + 0.5
    sx = lambda x: m + (x - x0) / (x1 - x0) * (w - 2 * m - lw)
    sy = lambda y: h - m - (y - y0) / (y1 - y0) * (h - 2 * m)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
              "#7f7f7f", "#393b79", "#637939"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m - lw}" y2="{h - m}" stroke="black"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
             f'<text x="{(w - lw) / 2}" y="{h - 15}" text-anchor="middle">{xlabel}</text>']
    for i in range(6):
        xv = x0 + i * (x1 - x0) / 5
        yv = y0 + i * (y1 - y0) / 5
        parts.append(f'<text x="{sx(xv)}" y="{h - m + 16}" text-anchor="middle">{xv:.1f}x</text>')
        parts.append(f'<text x="{m - 6}" y="{sy(yv) + 4}" text-anchor="end">{yv:.1f}</text>')
    for k, (name, c) in enumerate(curves.items()):
        col = colors[k % len(colors)]
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in c if y >= y0)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"/>')
        parts.append(f'<text x="{w - lw - m + 20}" y="{m + 16 * k}" fill="{col}">{name}</text>')
    if hline and y0 <= hline[0] <= y1:
        parts.append(f'<line x1="{m}" y1="{sy(hline[0]):.1f}" x2="{w - m - lw}" y2="{sy(hline[0]):.1f}" stroke="gray" stroke-dasharray="5,4"/>')
        parts.append(f'<text x="{w - m - lw - 4}" y="{sy(hline[0]) - 4:.1f}" text-anchor="end" fill="gray">{hline[1]}</text>')
    for k, (name, pts) in enumerate(markers.items()):
        col = colors[(len(curves) + k) % len(colors)]
        for x, y in pts:
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{col}"/>')
        parts.append(f'<text x="{w - lw - m + 20}" y="{m + 16 * (len(curves) + k)}" fill="{col}">● {name}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))

