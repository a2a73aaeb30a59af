"""Screenshot a demo report (``report.html``) in headless Chromium, as a reader would see it.

Opens the page from disk in Debian's Chromium through Playwright (as the annotator's browser
test does), saves a full-page PNG and one of the win-rate chart alone, and prints how much
of each is ink (pixels that are not the page's white) and whether both judges' bar colours
made it onto the chart. A blank page or an SVG that did not render shows as no ink or
missing colours.

Needs Playwright (the ``dev`` extra) and ``/usr/bin/chromium`` (``apt-get install chromium``).

Run: ``.venv/bin/python benchmarks/report_screenshot.py runs/demo-small-v3/report.html
[--out report.png] [--width 1200]``
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHART = "svg.winrates"


@dataclass
class Shot:
    """What one screenshot gave: the PNGs, the page size, the chart's box in CSS pixels."""

    page_png: Path
    chart_png: Path | None
    page_size: tuple[int, int]
    chart_box: dict[str, float] | None


def screenshot(html: Path, png: Path, *, width: int = 1200, chromium: str = CHROMIUM) -> Shot:
    """Full-page screenshot of ``html`` into ``png``, and the chart alone beside it
    (``<png stem>_chart.png``) when the page has one."""
    from playwright.sync_api import sync_playwright

    chart_png = png.with_name(f"{png.stem}_chart.png")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": 900},
        )
        try:
            page = ctx.new_page()
            page.goto(html.resolve().as_uri(), wait_until="load")
            chart = page.locator(CHART)
            box = chart.first.bounding_box() if chart.count() else None
            if box:
                chart.first.screenshot(path=str(chart_png))
            page.screenshot(path=str(png), full_page=True)
        finally:
            ctx.close()
    with Image.open(png) as im:
        size = im.size
    return Shot(png, chart_png if box else None, size, box)


def ink(png: Path) -> float:
    """Share of pixels darker than near-white (0: a blank page)."""
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    return float((rgb.min(axis=-1) < 235).mean())


def has_colour(png: Path, hex_colour: str, tol: int = 24, min_pixels: int = 50) -> bool:
    """Whether at least ``min_pixels`` pixels are within ``tol`` of ``hex_colour``."""
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return int((np.abs(rgb - target).max(axis=-1) <= tol).sum()) >= min_pixels


def main() -> None:
    from vidalign.demo.chart import COLOURS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path, help="a demo's report.html")
    ap.add_argument("--out", type=Path, default=Path("report.png"), help="full-page PNG")
    ap.add_argument("--width", type=int, default=1200, help="viewport width, CSS pixels")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium")
    shot = screenshot(args.html, args.out, width=args.width)
    print(
        f"page  {shot.page_png}  {shot.page_size[0]}x{shot.page_size[1]}  ink {ink(shot.page_png):.3f}"
    )
    if shot.chart_png is None:
        print(f"no {CHART} on the page")
        return
    b = shot.chart_box
    colours = {j: has_colour(shot.chart_png, c) for j, c in COLOURS.items()}
    print(f"chart {shot.chart_png}  {b['width']:.0f}x{b['height']:.0f} at ({b['x']:.0f}, "
          f"{b['y']:.0f})  ink {ink(shot.chart_png):.3f}  bar colours seen: {colours}")  # fmt: skip


if __name__ == "__main__":
    main()
