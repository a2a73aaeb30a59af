"""The tiny demo's report.html in a real browser (Debian's headless Chromium through
Playwright, via ``benchmarks/report_screenshot.py``), and that tool's blank-image checks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidalign.demo.chart import COLOURS

_TOOL = Path(__file__).resolve().parents[1] / "benchmarks" / "report_screenshot.py"
_spec = importlib.util.spec_from_file_location("report_screenshot", _TOOL)
shots = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = shots  # its dataclass looks its module up there
_spec.loader.exec_module(shots)


def test_blank_and_inked_images_tell_apart(tmp_path):
    blank = np.full((40, 60, 3), 255, dtype=np.uint8)
    Image.fromarray(blank).save(tmp_path / "blank.png")
    bar = blank.copy()
    bar[10:20, 5:45] = [0x1F, 0x4E, 0x79]  # an oracle-coloured bar, 400 pixels
    Image.fromarray(bar).save(tmp_path / "bar.png")
    assert shots.ink(tmp_path / "blank.png") == 0.0
    assert shots.ink(tmp_path / "bar.png") == pytest.approx(400 / (40 * 60))
    assert shots.has_colour(tmp_path / "bar.png", COLOURS["oracle"])
    assert not shots.has_colour(tmp_path / "bar.png", COLOURS["reward model"])
    assert not shots.has_colour(tmp_path / "blank.png", COLOURS["oracle"])


@pytest.mark.slow
@pytest.mark.skipif(not Path(shots.CHROMIUM).exists(), reason="needs Debian's chromium")
def test_tiny_demo_report_renders_its_chart_in_chromium(tmp_path):
    pytest.importorskip("playwright.sync_api")
    from vidalign.cli.main import main

    out = tmp_path / "demo"
    assert main(["demo", "--scale", "tiny", "--out", str(out)]) == 0
    shot = shots.screenshot(out / "report.html", tmp_path / "report.png", width=1200)
    width, height = shot.page_size
    assert width >= 1200 and height > 2000  # the whole page: findings, chart, tables, grid
    assert shots.ink(shot.page_png) > 0.02
    assert shot.chart_box is not None and shot.chart_box["width"] > 600
    assert shot.chart_box["y"] < height / 3  # the chart comes before the tables
    assert shots.ink(shot.chart_png) > 0.05
    for colour in COLOURS.values():  # both judges' bars were drawn
        assert shots.has_colour(shot.chart_png, colour)
