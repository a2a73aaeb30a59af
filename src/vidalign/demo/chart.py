"""The demo report's win-rate chart, as a self-contained SVG (no scripts, no fonts to fetch).

One panel per dimension (VQ, MQ, TA, Overall) of one prompt set. Each arm is a row with two
horizontal bars, the oracle's win rate against the base model above the reward model's,
each with a whisker over its 95 % interval; a dashed line marks 50 %, a tie with the base
model. A bar is pale when its interval crosses 50 % (inside the noise). Every gold-reward
control sits right under its learned-reward twin, its label in italics.

Elements carry classes for readers and tests: ``g.panel[data-dim]``, ``rect.bar`` and
``path.whisker`` (both with ``data-method``, ``data-judge``, ``data-dim``), ``line.fifty``,
``text.method``, ``text.dim``.
"""

from __future__ import annotations

from html import escape
from typing import Any

from vidalign.demo.arms import method_label
from vidalign.demo.findings import JUDGES, gold_twins, pct, verdict

DIMS = ("VQ", "MQ", "TA", "Overall")
COLOURS = {"oracle": "#1f4e79", "reward model": "#d9822b"}
LABEL_W, PANEL_W, GAP, ROW_H, BAR_H = 250, 180, 30, 26, 8
TOP, AXIS_H, LEGEND_H = 44, 22, 40


def row_order(methods: list[str]) -> list[str]:
    """``methods`` with each gold-reward control moved right under its learned twin."""
    twins = dict(gold_twins(methods))
    placed = set(twins.values())
    order = []
    for m in methods:
        if m in placed:
            continue
        order.append(m)
        if m in twins:
            order.append(twins[m])
    return order


def _x(panel: int, rate: float) -> float:
    return LABEL_W + panel * (PANEL_W + GAP) + rate * PANEL_W


def _text(x: float, y: float, s: str, cls: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}"{extra}>{escape(s)}</text>'


def winrate_svg(winrates: dict[str, dict[str, Any]], set_name: str = "general") -> str:
    """The SVG document (a string) of ``set_name``'s win rates under both judges.

    Args:
        winrates: ``results["winrates"]`` of the evaluate stage: ``"<set> / <judge>"`` →
            method → ``{"n_samples", "rates": {dim: {"win_rate", "low", "high"}}}``.
        set_name: the prompt set drawn.
    """
    judged = {j: winrates[f"{set_name} / {j}"] for j in JUDGES if f"{set_name} / {j}" in winrates}
    if not judged:
        raise ValueError(f"no win rates for prompt set {set_name!r}; have {sorted(winrates)}")
    methods = row_order(list(dict.fromkeys(m for by in judged.values() for m in by)))
    width = LABEL_W + len(DIMS) * PANEL_W + (len(DIMS) - 1) * GAP + 12
    plot_h = len(methods) * ROW_H
    height = TOP + plot_h + AXIS_H + LEGEND_H
    n = next(iter(next(iter(judged.values())).values()))["n_samples"]
    el = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="winrates" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        f'font-size="12">',
        f"<title>Win rates against the base model, {escape(set_name)} prompts</title>",
        _text(
            4,
            16,
            f"Win rate % against the base model, {set_name} prompts ({n} same-seed "
            "pairs, ties count half); whiskers: 95% prompt-bootstrap interval",
            "title",
            font_weight="bold",
        ),
    ]
    gold = {g for _, g in gold_twins(methods)}
    for i in range(1, len(methods), 2):  # zebra stripes, so a row reads across the panels
        el.append(f'<rect class="stripe" x="0" y="{TOP + i * ROW_H}" width="{width}" '
                  f'height="{ROW_H}" fill="#f3f3f3"/>')  # fmt: skip
    for i, m in enumerate(methods):
        y = TOP + i * ROW_H + ROW_H / 2 + 4
        style = {"font_style": "italic", "fill": "#555"} if m in gold else {}
        el.append(_text(LABEL_W - 8, y, method_label(m), "method", text_anchor="end", **style))
    for p, dim in enumerate(DIMS):
        x0, x1 = _x(p, 0.0), _x(p, 1.0)
        el.append(f'<g class="panel" data-dim="{dim}">')
        el.append(_text((x0 + x1) / 2, TOP - 8, dim, "dim", text_anchor="middle",
                        font_weight="bold"))  # fmt: skip
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            xt = _x(p, tick)
            if tick != 0.5:
                el.append(f'<line class="grid" x1="{xt:.1f}" x2="{xt:.1f}" y1="{TOP}" '
                          f'y2="{TOP + plot_h}" stroke="#ddd"/>')  # fmt: skip
            el.append(_text(xt, TOP + plot_h + 14, f"{round(100 * tick)}", "tick",
                            text_anchor="middle", fill="#555"))  # fmt: skip
        for i, m in enumerate(methods):
            for k, (judge, by_method) in enumerate(judged.items()):
                r = by_method.get(m, {}).get("rates", {}).get(dim)
                if r is None:
                    continue
                yb = TOP + i * ROW_H + 4 + k * (BAR_H + 2)
                yc = yb + BAR_H / 2
                tag = f'data-method="{escape(m)}" data-judge="{judge}" data-dim="{dim}"'
                tip = (f"{method_label(m)}, {judge}, {dim}: {pct(r['win_rate'])}% "
                       f"[{pct(r['low'])}, {pct(r['high'])}]")  # fmt: skip
                pale = verdict(r) == "noise"
                el.append(
                    f'<rect class="bar" {tag} x="{x0:.1f}" y="{yb:.1f}" '
                    f'width="{r["win_rate"] * PANEL_W:.1f}" height="{BAR_H}" '
                    f'fill="{COLOURS[judge]}" fill-opacity="{0.35 if pale else 1}">'
                    f"<title>{escape(tip)}</title></rect>"
                )
                lo, hi = _x(p, r["low"]), _x(p, r["high"])
                el.append(
                    f'<path class="whisker" {tag} d="M{lo:.1f},{yc - 3:.1f}v6M{lo:.1f},{yc:.1f}'
                    f'H{hi:.1f}M{hi:.1f},{yc - 3:.1f}v6" stroke="#222" fill="none"/>'
                )
        xm = _x(p, 0.5)
        el.append(f'<line class="fifty" x1="{xm:.1f}" x2="{xm:.1f}" y1="{TOP - 4}" '
                  f'y2="{TOP + plot_h}" stroke="#c00" stroke-dasharray="4 3"/>')  # fmt: skip
        el.append("</g>")
    yl = TOP + plot_h + AXIS_H + 12
    x = LABEL_W
    for judge in judged:
        el.append(f'<rect class="key" x="{x}" y="{yl - 9}" width="14" height="{BAR_H + 2}" '
                  f'fill="{COLOURS[judge]}"/>')  # fmt: skip
        el.append(_text(x + 18, yl, f"by the {judge}", "key"))
        x += 150
    el.append(_text(LABEL_W, yl + 18, "pale: the interval crosses 50% (inside the noise); italic: the "
                    "gold-reward control under its learned-reward twin", "key", fill="#555"))  # fmt: skip
    el.append("</svg>")
    return "\n".join(el) + "\n"
