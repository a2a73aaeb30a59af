"""``vidalign reward train`` and ``vidalign reward score`` end to end at micro scale."""

import csv
import json

from reward_testdata import make_pairs
from vidalign.cli.main import main
from vidalign.data import load_pairs


def test_train_then_score_videos_and_pairs(tmp_path, capsys):
    train = make_pairs(tmp_path / "d", 4, seed=0, name="train.csv")
    val = make_pairs(tmp_path / "d", 3, seed=1, name="val.csv")
    run = tmp_path / "run"
    argv = ["reward", "train", "--config", "configs/reward/tiny.yaml"]
    argv += [f"train_data={train}", f"val_data={val}", f"out_dir={run}", "steps=2"]
    assert main(argv) == 0
    model = run / "model"
    assert (model / "vidalign_reward.json").is_file()

    pairs = load_pairs(val)
    capsys.readouterr()
    argv = ["reward", "score", str(model), "--video", pairs[0].path_a, "--video", pairs[0].path_b]
    assert main([*argv, "--prompt", pairs[0].prompt]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 2 and {"VQ", "MQ", "TA", "Overall", "VQ_raw"} <= set(lines[0])

    out = tmp_path / "scores.csv"
    argv = ["reward", "score", str(model), "--pairs", str(val), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len({p.path_a for p in pairs} | {p.path_b for p in pairs}) == 6
    total = sum(float(rows[0][d]) for d in ("VQ", "MQ", "TA"))
    assert abs(float(rows[0]["Overall"]) - total) < 1e-5


def test_score_errors_are_reported_not_scored(tmp_path, capsys):
    train = make_pairs(tmp_path / "d", 3, seed=0, name="train.csv")
    run = tmp_path / "run"
    argv = ["reward", "train", "--config", "configs/reward/tiny.yaml"]
    assert main([*argv, f"train_data={train}", f"out_dir={run}", "steps=1"]) == 0
    pairs = load_pairs(train)
    broken = tmp_path / "d" / pairs[0].path_a
    broken.write_bytes(b"garbage")
    out = tmp_path / "scores.csv"
    argv = ["reward", "score", str(run / "model"), "--pairs", str(train), "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 2  # first failure stops, named
    assert "s0_0_a.mp4" in capsys.readouterr().err
    assert main([*argv, "--no-progress", "--skip-errors"]) == 0
    skipped = list(csv.DictReader((tmp_path / "scores.skipped.csv").open()))
    assert len(skipped) == 1 and skipped[0]["video"] == str(broken)
    # the video column names the file; the reason does not repeat it, nor a batch index
    assert skipped[0]["error"].startswith("not a readable video file (Invalid data found")
    assert "s0_0_a.mp4" not in skipped[0]["error"]
    assert len(list(csv.DictReader(out.open()))) == 5
    assert main(["reward", "score", str(run / "model"), "--video", "x.mp4"]) == 2


def test_score_refuses_an_empty_prompt(tmp_path, capsys):
    # refused before the model is loaded, so no model is needed
    argv = ["reward", "score", str(tmp_path / "no-model"), "--video", "a.mp4", "--video", "b.mp4"]
    for prompts in ([""], ["a red circle", "  "]):
        assert main([*argv, *(x for p in prompts for x in ("--prompt", p))]) == 2
        err = capsys.readouterr().err
        assert f"--prompt number {len(prompts)} is empty" in err and "Traceback" not in err
