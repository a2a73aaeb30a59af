"""The end-to-end smoke test: ``vidalign demo --scale tiny`` runs every stage and reports."""

import json

import pytest

from vidalign.cli.main import main
from vidalign.demo.arms import ALIGN_METHODS
from vidalign.demo.stages import MARKER


@pytest.mark.slow
def test_tiny_demo_runs_every_stage_then_reuses_them(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--scale", "tiny", "--out", str(out)]) == 0
    arms = [
        *ALIGN_METHODS,
        "grpo",
        "gold_dpo",
        "gold_rwr",
        "gold_grpo",
    ]  # tiny gold: dpo, rwr, grpo
    stages = ["dataset", "vlm", "vlm_align", "reward", "reward_eval", "policy", "pairs",
              "pairs_gold", *(f"align_{m}" for m in arms), "latent_rm", "evaluate"]  # fmt: skip
    for name in stages:
        assert (out / name / MARKER).is_file(), name
    reward_cfg = (out / "reward" / "run" / "config.yaml").read_text()
    align_cfg = (out / "vlm_align" / "run" / "config.yaml").read_text()
    assert str(out / "vlm" / "run" / "model") in align_cfg  # the second stage starts from it
    assert str(out / "vlm_align" / "run" / "model") in reward_cfg  # the reward model too
    lrm_cfg = (out / "latent_rm" / "run" / "config.yaml").read_text()
    assert f"train_data: {out / 'dataset' / 'train.csv'}" in lrm_cfg  # the annotators' pairs
    md = (out / "report.md").read_text()
    titles = [part.split("\n", 1)[0] for part in md.split("\n## ")[1:]]
    assert titles[:3] == ["Findings", "Win rates at a glance", "Setting"]  # the answer leads
    lead = md.split("## ")[1]
    assert "by the oracle.** Beat the base model:" in lead and "vs learned reward" in lead
    assert "![Win rates against the base model](report_winrates.svg)" in md
    assert (out / "report_winrates.svg").read_text().count('class="bar"') > 0
    first = md.split("## ")[4]  # after the Setting: the oracle's verdict on every arm
    assert first.startswith("What each arm does to the base model")
    times = md.split("## Time per stage")[1]
    assert "running: it writes this report" in times and "**total**" in times
    assert "evaluation.samples_per_prompt: 2" in md  # one sample per prompt: no diversity
    assert "Flow-DPO (constant β), oracle labels" in first and "gap closed" in first
    assert "Flow-GRPO, oracle reward" in first and "| Flow-GRPO |" in first
    assert "Reward accuracy on the on-policy pairs" in md
    gold = json.loads((out / "pairs_gold" / MARKER).read_text())["summary"]
    assert set(gold["proxy_accuracy"]) == {"VQ", "MQ", "TA", "Overall"}
    assert gold["pairs"] == json.loads((out / "pairs" / MARKER).read_text())["summary"]["pairs"]
    for heading in ("Table 1 analogue", "Table 2 analogue", "Table 4 analogue",
                    "Oracle metrics", "Reward-hacking monitor"):  # fmt: skip
        assert heading in md
    assert "Flow-DPO (constant β)" in md and "Flow-NRG" in md
    assert "No held-out pairs" not in md  # the latent reward model is scored on held-out pairs
    assert "Table 6 and 7 analogues" in md
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 1 and "report_winrates.svg" not in html  # the chart, inline
    assert html.count("<video") >= 2 * 6  # a grid row per prompt, one video per method
    results = json.loads((out / "evaluate" / "results.json").read_text())
    for key in ("general / oracle", "general / reward model", "hard / oracle"):
        assert set(results["winrates"][key]) == {*arms, "nrg"}
    assert set(results["metrics"]) == {"base", *arms, "nrg", "clean"}
    assert (
        results["metrics"]["clean"]["general"]["VQ"] > results["metrics"]["base"]["general"]["VQ"]
    )
    for m in arms:  # every alignment run left its reward-hacking curve
        assert (out / f"align_{m}" / "run" / "hacking.png").is_file()

    capsys.readouterr()
    assert main(["demo", "--scale", "tiny", "--out", str(out)]) == 0
    rerun = capsys.readouterr().out
    assert rerun.count("cached") == len(stages)
    log = json.loads((out / "stages_run.json").read_text())["stages"]
    assert log == dict.fromkeys(stages, "reused")


def test_demo_recipe_errors_name_the_stage(tmp_path):
    from vidalign.config import ConfigError
    from vidalign.demo.config import load_demo_config

    with pytest.raises(ConfigError, match="dataset"):
        load_demo_config("tiny", ["dataset.promptz=3"])
    with pytest.raises(ValueError, match="scale"):
        load_demo_config("huge")


def test_report_tables_render_without_separator_rows():
    from vidalign.demo.report import _md_to_html

    html = _md_to_html("| a | b |\n| --- | :---: |\n| 1 | **2** |\n\n- a finding")
    assert html.count("<tr>") == 2 and "---" not in html
    assert "<b>2</b>" in html and "<li>a finding</li>" in html


def test_demo_never_holds_out_the_base_generators_training_prompts():
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.pipeline import base_training_prompts
    from vidalign.synth.generator_data import training_prompts

    cfg = load_demo_config("tiny")
    data = cfg.policy["data"]
    assert base_training_prompts(cfg) == training_prompts(data["num_prompts"], data["seed"])


def test_the_number_of_rendering_workers_does_not_invalidate_the_dataset_stage(tmp_path):
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.pipeline import build_stages

    def settings(*overrides):
        stages = build_stages(load_demo_config("tiny", list(overrides)), tmp_path)
        return next(s.settings for s in stages if s.name == "dataset")

    assert settings("dataset.workers=1") == settings("dataset.workers=2")
    assert settings("dataset.prompts=7") != settings()


def _no_training(monkeypatch):
    """Make pre-training a base VLM or a base generator an error."""
    import vidalign.synth.generator_pretrain
    import vidalign.synth.vlm_pretrain

    def refuse(*args, **kwargs):
        raise AssertionError("a shipped base model's stage must not train")

    monkeypatch.setattr(vidalign.synth.vlm_pretrain, "pretrain_vlm", refuse)
    monkeypatch.setattr(vidalign.synth.generator_pretrain, "pretrain", refuse)


def test_a_shipped_base_vlm_replaces_the_vlm_stages(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import vidalign.reward.trainer
    from vidalign.builtin import builtin_model
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.pipeline import build_stages
    from vidalign.demo.stages import run_stages

    _no_training(monkeypatch)
    cfg = load_demo_config("tiny", ["base_vlm=synth-vlm"])
    stages = {s.name: s for s in build_stages(cfg, tmp_path)}
    assert "vlm" in stages and "vlm_align" not in stages
    assert stages["reward"].needs == ["dataset", "vlm"]
    run_stages([stages["vlm"]], tmp_path)
    summary = json.loads((tmp_path / "vlm" / MARKER).read_text())["summary"]
    shipped = builtin_model("vlm", "synth-vlm")
    assert summary["model_dir"] == str(shipped) and summary["builtin"] == "synth-vlm"
    assert summary["card_metrics"]["alignment_corr/missing_object"] > 0.5
    assert list((tmp_path / "vlm").iterdir()) == [tmp_path / "vlm" / MARKER]  # nothing trained

    seen = []  # the reward model starts from the shipped folder
    monkeypatch.setattr(
        vidalign.reward.trainer, "train_reward",
        lambda c: seen.append(c) or SimpleNamespace(model_dir=tmp_path / "rm", final_metrics={}),
    )  # fmt: skip
    stages["reward"].run(tmp_path / "reward")
    assert seen[0].base_model == str(shipped)
    # the stage's identity is the shipped weights, not the pre-training sections
    other = load_demo_config("tiny", ["base_vlm=synth-vlm", "vlm.steps=99"])
    assert next(s for s in build_stages(other, tmp_path) if s.name == "vlm").settings == (
        stages["vlm"].settings
    )


def test_a_shipped_base_generator_is_the_policy_stage(tmp_path, monkeypatch):
    from vidalign.builtin import builtin_model
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.pipeline import build_stages

    _no_training(monkeypatch)
    cfg = load_demo_config("tiny", ["base_generator=synth-base"])
    policy = next(s for s in build_stages(cfg, tmp_path) if s.name == "policy")
    summary = policy.run(tmp_path / "policy")
    assert summary["model_dir"] == str(builtin_model("generator", "synth-base"))
    assert summary["builtin"] == "synth-base" and "policy" not in policy.settings


def test_the_small_demo_starts_from_both_shipped_models_unless_from_scratch(tmp_path, monkeypatch):
    import vidalign.demo.pipeline
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.pipeline import build_stages

    cfg = load_demo_config("small")
    assert (cfg.base_vlm, cfg.base_generator) == ("synth-vlm", "synth-base")
    names = [s.name for s in build_stages(cfg, tmp_path)]
    assert "vlm" in names and "vlm_align" not in names

    runs = []
    monkeypatch.setattr(vidalign.demo.pipeline, "run_demo", lambda c, out: runs.append(c))
    assert main(["demo", "--scale", "small", "--out", str(tmp_path), "--from-scratch"]) == 0
    scratch = runs[-1]
    assert (scratch.base_vlm, scratch.base_generator) == ("", "")
    stages = {s.name: s for s in build_stages(scratch, tmp_path)}
    assert {"vlm", "vlm_align"} <= set(stages)
    assert stages["reward"].needs == ["dataset", "vlm_align"]
    assert stages["vlm"].settings["vlm"] == cfg.vlm  # the same recipes train them
    assert stages["policy"].settings["policy"] == cfg.policy
    assert main(["demo", "--out", str(tmp_path), "--from-scratch", "base_vlm=synth-vlm"]) == 0
    assert (runs[-1].base_vlm, runs[-1].base_generator) == ("synth-vlm", "")  # key=value wins
