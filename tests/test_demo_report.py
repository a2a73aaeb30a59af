"""The demo report's parts on hand-made numbers: findings, chart, oracle metrics, stage times."""

from __future__ import annotations

import json

from vidalign.demo.report import DIVERSITY_HINT, metrics_section
from vidalign.demo.stages import RUN_LOG, Stage, run_stages


def test_metrics_table_drops_diversity_only_when_no_method_has_it():
    none = {"VQ": 0.5, "MQ": 0.4, "TA": 0.3, "diversity": None}
    some = {**none, "diversity": 0.25}
    dropped = metrics_section({"base": {"general": none}, "sft": {"general": none}})
    assert "diversity" not in dropped.splitlines()[0] and DIVERSITY_HINT in dropped
    assert "evaluation.samples_per_prompt: 2" in DIVERSITY_HINT
    kept = metrics_section({"base": {"general": none}, "sft": {"general": some}})
    header, _, base_row, sft_row = kept.splitlines()[:4]
    assert header.endswith("| diversity |") and DIVERSITY_HINT not in kept
    assert base_row.endswith("| – |") and sft_row.endswith("| 0.250 |")


def test_run_stages_log_what_they_ran_and_reused(tmp_path):
    def stages(x: int) -> list[Stage]:
        return [Stage("a", lambda f: {}, {"x": 1}), Stage("b", lambda f: {}, {"x": x}, ["a"])]

    run_stages(stages(1), tmp_path)
    assert json.loads((tmp_path / RUN_LOG).read_text())["stages"] == {"a": "ran", "b": "ran"}
    run_stages(stages(2), tmp_path)  # b's settings changed: it runs again, a is reused
    assert json.loads((tmp_path / RUN_LOG).read_text())["stages"] == {"a": "reused", "b": "ran"}
