"""Oracle evaluation: the table has every source and dimension; clean renders beat a random model."""

import json

import pytest

from vidalign.cli.main import main
from vidalign.policy import SamplingDefaults, save_generator
from vidalign.policy.tiny import build_pixel_generator
from vidalign.synth.generator_eval import evaluate_generator, format_report
from vidalign.synth.prompts import general_prompts


def random_generator():
    defaults = SamplingDefaults(num_frames=8, height=32, width=32, fps=8, steps=2, cfg=1.0)
    return build_pixel_generator(
        general_prompts(64, 0), defaults, patch_size=(2, 8, 8), num_layers=1, num_heads=2,
        head_dim=16, ffn_dim=32, text_dim=16, text_layers=1, text_heads=2,
    )  # fmt: skip


@pytest.mark.slow
def test_untrained_generator_scores_below_the_clean_renderer(tmp_path):
    report = evaluate_generator(random_generator(), num_prompts=12, steps=2, out_dir=tmp_path)
    gen, clean = report.sources["generator"], report.sources["clean renderer"]
    assert set(gen.oracle) == set(clean.oracle) and len(gen.oracle) >= 3
    assert clean.accuracy["colour"] >= 0.9 and clean.accuracy["colour"] > gen.accuracy["colour"]
    assert set(report.sources) == {"generator", "profile mix", "clean renderer"}
    assert sum(clean.oracle.values()) > sum(gen.oracle.values())
    text = format_report(report)
    assert "generator" in text and "clean renderer" in text and "chance" in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["num_prompts"] == 12 and len(list((tmp_path / "videos").iterdir())) == 12


def test_evaluate_cli_prints_the_table(tmp_path, capsys):
    save_generator(random_generator(), tmp_path / "gen")
    rc = main(["policy", "evaluate", str(tmp_path / "gen"), "--prompts", "4", "--steps", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "clean renderer" in out and "colour acc" in out


def test_evaluate_cli_reports_word_steering(tmp_path, capsys):
    save_generator(random_generator(), tmp_path / "gen")
    argv = ["policy", "evaluate", str(tmp_path / "gen"), "--prompts", "4", "--steps", "1"]
    rc = main([*argv, "--steering", "shape", "direction", "--out", str(tmp_path / "ev")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "shape steering:" in out and "direction steering:" in out
    saved = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert [s["attribute"] for s in saved["steering"]] == ["shape", "direction"]
    one_object = saved["steering"][0]["num_prompts"]
    assert saved["steering"][0]["num_samples"] == 4 * one_object
