"""The demo report's parts on hand-made numbers: findings, chart, oracle metrics, stage times."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from vidalign.demo.chart import DIMS, PANEL_W, _x, row_order, winrate_svg
from vidalign.demo.findings import findings, verdict
from vidalign.demo.report import DIVERSITY_HINT, _md_to_html, metrics_section, stage_times_section
from vidalign.demo.stages import MARKER, RUN_LOG, Stage, run_stages

SVG = "{http://www.w3.org/2000/svg}"


def rate(w: float, lo: float, hi: float) -> dict[str, float]:
    return {"win_rate": w, "low": lo, "high": hi}


def judged(rates: dict[str, dict[str, float]], n: int = 64) -> dict:
    """method → result with the same rate on every dimension."""
    return {m: {"n_samples": n, "rates": {d: r for d in DIMS}} for m, r in rates.items()}


ORACLE = {
    "sft": rate(0.80, 0.70, 0.90),  # clearly above 50 %
    "dpo": rate(0.20, 0.10, 0.30),  # clearly below
    "rwr": rate(0.52, 0.41, 0.63),  # straddles 50 %
    "gold_dpo": rate(0.60, 0.55, 0.65),  # the control, apart from its twin and above 50 %
    "gold_rwr": rate(0.55, 0.45, 0.65),  # the control, overlapping its twin
}
REWARD_MODEL = {**ORACLE, "dpo": rate(0.75, 0.67, 0.83)}  # the proxy calls dpo a winner


@pytest.fixture
def results() -> dict:
    return {
        "winrates": {
            "general / reward model": judged(REWARD_MODEL),
            "general / oracle": judged(ORACLE),
            "hard / oracle": judged(ORACLE, n=16),
        },
        "prompts": {"general": 64, "hard": 16},
    }


def clause(sentence: str, head: str) -> str:
    """The text after ``head`` up to the sentence's next full stop followed by a space."""
    return sentence.split(head, 1)[1].split(". ", 1)[0].rstrip(".")


def test_verdict_needs_the_whole_interval_on_one_side_of_50():
    assert verdict(rate(0.8, 0.51, 0.9)) == "beats"
    assert verdict(rate(0.2, 0.1, 0.49)) == "loses"
    assert verdict(rate(0.6, 0.5, 0.7)) == "noise"  # touching 50 % is not above it


def test_findings_sort_arms_by_where_their_interval_lies(results):
    lines = findings(results)
    oracle = next(s for s in lines if s.startswith("**General prompts (64 pairs), by the oracle"))
    assert clause(oracle, "Beat the base model: ") == (
        "SFT 80.0% [70.0, 90.0]; Flow-DPO (constant β), oracle labels 60.0% [55.0, 65.0]"
    )
    assert clause(oracle, "Lose: ") == "Flow-DPO (constant β) 20.0% [10.0, 30.0]"
    assert clause(oracle, "Inside the noise: ") == "Flow-RWR; Flow-RWR, oracle labels"
    rm = next(s for s in lines if s.startswith("**General prompts (64 pairs), by the reward model"))
    assert "Flow-DPO (constant β) 75.0%" in clause(rm, "Beat the base model")
    assert clause(rm, "Lose: ") == "none"
    hard = [s for s in lines if s.startswith("**Hard prompts (16 pairs), by the oracle")]
    assert len(hard) == 1 and lines.index(hard[0]) > lines.index(oracle)  # general leads


def test_findings_compare_each_gold_control_with_its_twin(results):
    lines = findings(results)
    dpo = next(s for s in lines if s.startswith("**Flow-DPO (constant β), oracle labels vs"))
    assert (
        "by the oracle 60.0% [55.0, 65.0] against 20.0% [10.0, 30.0], the gold control ahead" in dpo
    )
    behind = "by the reward model 60.0% [55.0, 65.0] against 75.0% [67.0, 83.0], the gold control"
    assert f"{behind} behind" in dpo
    rwr = next(s for s in lines if s.startswith("**Flow-RWR, oracle labels vs"))
    assert "the intervals overlap" in rwr and "ahead" not in rwr and "behind" not in rwr
    hacked = [s for s in lines if "reward hacking" in s]
    assert len(hacked) == 1 and hacked[0].startswith("Flow-DPO (constant β) wins by the reward")


def test_findings_follow_the_numbers(results):
    results["winrates"]["general / oracle"]["sft"]["rates"]["Overall"] = rate(0.3, 0.2, 0.4)
    oracle = next(s for s in findings(results) if "by the oracle" in s)
    assert "SFT" not in clause(oracle, "Beat the base model") and "SFT 30.0%" in clause(
        oracle, "Lose"
    )


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


def test_chart_has_a_bar_and_whisker_per_arm_judge_and_dimension(results):
    root = ET.fromstring(winrate_svg(results["winrates"], "general"))
    assert root.tag == f"{SVG}svg"
    methods = list(ORACLE)
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    whiskers = root.findall(f".//{SVG}path[@class='whisker']")
    assert len(bars) == len(whiskers) == len(methods) * 2 * len(DIMS)
    keys = {(b.get("data-method"), b.get("data-judge"), b.get("data-dim")) for b in bars}
    assert keys == {(m, j, d) for m in methods for j in ("oracle", "reward model") for d in DIMS}
    panels = root.findall(f"{SVG}g[@class='panel']")
    assert [p.get("data-dim") for p in panels] == list(DIMS)
    for p, panel in enumerate(panels):  # one dashed 50 % line per panel, at 50 %
        (fifty,) = panel.findall(f"{SVG}line[@class='fifty']")
        assert float(fifty.get("x1")) == pytest.approx(_x(p, 0.5), abs=0.1)
        assert fifty.get("stroke-dasharray")
    bar = next(b for b in bars if b.get("data-method") == "sft" and b.get("data-judge") == "oracle")
    assert float(bar.get("width")) == pytest.approx(0.8 * PANEL_W, abs=0.1)
    whisker = next(
        w for w in whiskers if w.get("data-method") == "sft" and w.get("data-dim") == "VQ"
    )
    assert f"M{_x(0, 0.7):.1f}," in whisker.get("d") and f"H{_x(0, 0.9):.1f}" in whisker.get("d")
    pale = {b.get("data-method") for b in bars if b.get("fill-opacity") != "1"}
    assert pale == {"rwr", "gold_rwr"}  # the bars whose interval crosses 50 %
    labels = [t.text for t in root.findall(f".//{SVG}text[@class='method']")]
    dpo, rwr = "Flow-DPO (constant β)", "Flow-RWR"
    assert labels == ["SFT", dpo, f"{dpo}, oracle labels", rwr, f"{rwr}, oracle labels"]
    assert [t.text for t in root.findall(f".//{SVG}text[@class='dim']")] == list(DIMS)


def test_gold_controls_sit_under_their_twins():
    order = row_order(["sft", "dpo", "grpo", "gold_dpo", "gold_grpo", "nrg"])
    assert order == ["sft", "dpo", "gold_dpo", "grpo", "gold_grpo", "nrg"]


def test_chart_refuses_a_missing_prompt_set(results):
    with pytest.raises(ValueError, match="prompt set 'extra'"):
        winrate_svg(results["winrates"], "extra")


def test_html_inlines_the_chart_and_lists_bullets():
    page = _md_to_html("- one\n- two\n\n![chart](c.svg)\n\n![other](o.png)", {"c.svg": "<svg/>"})
    assert "<ul><li>one</li><li>two</li></ul>" in page
    assert "<svg/>" in page and "c.svg" not in page and "<img src='o.png'" in page


def write_marker(out, name: str, seconds: float) -> None:
    (out / name).mkdir(parents=True)
    (out / name / MARKER).write_text(json.dumps({"fingerprint": "x", "seconds": seconds}))


def table_rows(section: str) -> list[list[str]]:
    lines = [r for r in section.splitlines() if r.startswith("|")][2:]
    return [[c.strip() for c in r.strip("|").split("|")] for r in lines]


def test_stage_times_mark_reused_stages_and_total(tmp_path):
    write_marker(tmp_path, "dataset", 600.0)
    write_marker(tmp_path, "reward", 90.4)
    log = {"dataset": "reused", "reward": "ran", "evaluate": "running"}
    (tmp_path / RUN_LOG).write_text(json.dumps({"stages": log}))
    names = ["dataset", "reward", "pairs", "evaluate"]
    rows = table_rows(stage_times_section(tmp_path, names, {"evaluate": 30.0}))
    assert rows == [
        ["dataset", "10m00s", "reused from an earlier run (the time it took then)"],
        ["reward", "1m30s", "ran"],
        ["pairs", "–", "not finished"],
        ["evaluate", "30s so far", "running: it writes this report"],
        ["**total**", "**12m00s**", "2m00s ran in this run"],
    ]


def test_stage_times_without_a_run_log_say_reuse_is_unknown(tmp_path):
    write_marker(tmp_path, "dataset", 59.6)
    section = stage_times_section(tmp_path, ["dataset"], {})
    assert table_rows(section) == [["dataset", "1m00s"], ["**total**", "**1m00s**"]]
    assert "reused is not known" in section


def test_run_stages_log_what_they_ran_and_reused(tmp_path):
    def stages(x: int) -> list[Stage]:
        return [Stage("a", lambda f: {}, {"x": 1}), Stage("b", lambda f: {}, {"x": x}, ["a"])]

    run_stages(stages(1), tmp_path)
    assert json.loads((tmp_path / RUN_LOG).read_text())["stages"] == {"a": "ran", "b": "ran"}
    run_stages(stages(2), tmp_path)  # b's settings changed: it runs again, a is reused
    assert json.loads((tmp_path / RUN_LOG).read_text())["stages"] == {"a": "reused", "b": "ran"}


def test_the_setting_says_where_each_base_model_came_from(tmp_path):
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.report import setting_section

    shipped = setting_section(load_demo_config("small"), tmp_path)
    assert "The base VLM is `synth-vlm`, shipped in the package" in shipped
    assert "the base generator is `synth-base`, shipped in the package" in shipped
    assert "everything else below was produced by this run" in shipped
    scratch = setting_section(load_demo_config("small", ["base_vlm=", "base_generator="]), tmp_path)
    assert "pre-trained by this run's `vlm` stages" in scratch and "shipped" not in scratch
    assert "everything below was produced by this run" in scratch


def test_stage_times_say_a_shipped_model_was_not_trained(tmp_path):
    (tmp_path / "vlm").mkdir()
    marker = {"fingerprint": "x", "seconds": 0.2, "summary": {"builtin": "synth-vlm"}}
    (tmp_path / "vlm" / MARKER).write_text(json.dumps(marker))
    (tmp_path / RUN_LOG).write_text(json.dumps({"stages": {"vlm": "ran"}}))
    rows = table_rows(stage_times_section(tmp_path, ["vlm"], {}))
    assert rows[0] == ["vlm", "0s", "ran; the shipped `synth-vlm`, not trained"]
