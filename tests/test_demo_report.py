"""The demo report's parts on hand-made numbers: findings, chart, oracle metrics, stage times."""

from __future__ import annotations

import json

from vidalign.demo.stages import RUN_LOG, Stage, run_stages


def test_run_stages_log_what_they_ran_and_reused(tmp_path):
    def stages(x: int) -> list[Stage]:
        return [Stage("a", lambda f: {}, {"x": 1}), Stage("b", lambda f: {}, {"x": x}, ["a"])]

    run_stages(stages(1), tmp_path)
    assert json.loads((tmp_path / RUN_LOG).read_text())["stages"] == {"a": "ran", "b": "ran"}
    run_stages(stages(2), tmp_path)  # b's settings changed: it runs again, a is reused
    assert json.loads((tmp_path / RUN_LOG).read_text())["stages"] == {"a": "reused", "b": "ran"}
