"""A real browser (Debian's headless Chromium through Playwright) on the annotator page."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from test_annotate_support import write_clip
from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.app import create_app
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import open_database
from vidalign.annotate.schema import Assignment, Judgment
from vidalign.data import PreferencePair

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
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread of this process."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_browser_plays_in_sync_and_submits_with_keyboard(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    root = tmp_path / "videos"
    root.mkdir()
    for i in range(3):  # 4 s clips, so playback can be watched for a while
        write_clip(root / f"v{i}.mp4", shade=40 * i, frames=32, size=64, fps=8.0)
    pairs = [
        PreferencePair(
            prompt=f"a blue square bounces #{i}",
            path_a=f"v{i}.mp4",
            path_b=f"v{i + 1}.mp4",
            labels={},
        )
        for i in range(2)
    ]
    db, _ = open_database(str(tmp_path / "ann.db"))
    import_batch(db, "b", pairs, videos_root=root, settings=BatchSettings(k=1))
    _, token = add_annotator(db, "alice")

    with ServerThread(create_app(db, root)) as base, playwright.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            bypass_csp=True,  # page.wait_for_function evaluates strings; the app's CSP forbids that
        )
        try:
            page = ctx.new_page()
            page.goto(f"{base}/login")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-state=ready]")
            first_id = page.evaluate("window.vidalignPage.state().item.assignment_id")
            assert page.inner_text("#prompt").startswith("a blue square bounces")
            page.wait_for_function(
                "['left', 'right'].every(s => document.getElementById('video-' + s).readyState >= 3)"
            )
            both = "['left', 'right'].map(s => document.getElementById('video-' + s)).map(v => [v.currentTime, v.paused])"

            page.keyboard.press("Space")  # one play button drives both videos
            page.wait_for_timeout(1200)
            (tl, pl), (tr, pr) = page.evaluate(both)
            assert not pl and not pr
            assert tl > 0.4 and tr > 0.4
            assert abs(tl - tr) < 0.15
            page.keyboard.press("Space")
            (tl, pl), (tr, pr) = page.evaluate(both)
            assert pl and pr and tl == pytest.approx(tr, abs=1e-3)  # pause re-aligns both

            page.locator("#scrub").fill("500")  # one scrub bar moves both
            page.wait_for_timeout(200)
            (tl, _), (tr, _) = page.evaluate(both)
            assert tl == pytest.approx(2.0, abs=0.1) and tr == pytest.approx(tl, abs=1e-3)
            page.keyboard.press(".")  # one frame forward, both
            (tl2, _), (tr2, _) = page.evaluate(both)
            assert tl2 - tl == pytest.approx(1 / 8, abs=0.02) and tr2 == pytest.approx(
                tl2, abs=1e-3
            )
            page.keyboard.press("]")
            assert page.evaluate("document.getElementById('video-right').playbackRate") == 1.5
            page.screenshot(path=str(tmp_path / "page.png"))

            # VQ: left better, MQ: same, TA: right better, then Enter
            for key in ("ArrowLeft", "ArrowDown", "ArrowRight", "Enter"):
                page.keyboard.press(key)
            page.wait_for_function(
                f"document.body.dataset.state === 'ready' && "
                f"window.vidalignPage.state().item.assignment_id !== {first_id}"
            )
            assert "1 done" in page.inner_text("#progress")

            page.keyboard.press("u")  # undo: the first item comes back with its answers
            page.wait_for_function(f"window.vidalignPage.state().item.assignment_id === {first_id}")
            checked = "[...document.querySelectorAll('#dims input:checked')].map(i => i.value)"
            assert page.evaluate(checked) == ["left", "same", "right"]
            assert "0 done" in page.inner_text("#progress")
            page.keyboard.press("Enter")  # submit the restored answers again
            page.wait_for_function(f"window.vidalignPage.state().item.assignment_id !== {first_id}")
        finally:
            ctx.close()
            shutil.copy(tmp_path / "page.png", tmp_path / "page-last.png")

    with db.read() as s:
        retracted, j = s.scalars(select(Judgment).order_by(Judgment.id)).all()
        assert retracted.retracted_at is not None and j.retracted_at is None
        order = s.get(Assignment, first_id).order
        labels = {lab.dim: lab.value for lab in j.labels}
    left = 1 if order == "AB" else -1  # +1 when the left video was A
    assert j.assignment_id == first_id and j.order_shown == order and j.skip_reason is None
    assert labels == {"VQ": left, "MQ": 0, "TA": -left}
    assert retracted.time_spent_ms > 1000  # played and scrubbed before the first submit
    assert retracted.order_shown == order and retracted.assignment_id == first_id
