"""CLI: guidance train / evaluate, and guided ``vidalign sample`` flags."""

import json
from pathlib import Path

import pytest

from guidance_testdata import PROMPTS, write_pair_dataset
from vidalign.cli.main import main
from vidalign.video import read_video

RECIPE = Path(__file__).parents[1] / "configs" / "guidance" / "tiny.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = write_pair_dataset(tmp_path_factory.mktemp("guidance-cli"))
    rc = main([
        "guidance", "train", "--config", str(RECIPE),
        f"out_dir={root / 'run'}", f"generator={root / 'gen'}",
        f"train_data={root / 'train.csv'}", f"val_data={root / 'val.csv'}",
    ])  # fmt: skip
    assert rc == 0
    return root


def test_train_writes_model_checkpoints_logs_and_eval(trained):
    run = trained / "run"
    assert (run / "model" / "latent_reward.json").is_file()
    assert (run / "checkpoints").is_dir() and any((run / "logs").rglob("events.out.tfevents*"))
    rows = json.loads((run / "eval.json").read_text())
    assert rows[0]["t_hi"] == 0 and len(rows) >= 2


def test_evaluate_prints_the_binned_table(trained, capsys):
    rc = main(["guidance", "evaluate", str(trained / "run" / "model"), "--generator",
               str(trained / "gen"), "--data", str(trained / "val.csv"), "--bins", "2",
               "--draws", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "0 (clean)" in out and "[0.5, 1.0]" in out and "BRIGHT" in out


def test_sample_with_guidance_flags(trained, tmp_path, capsys):
    base = ["sample", str(trained / "gen"), "--prompt", PROMPTS[0], "--steps", "3", "--cfg", "2"]
    rm = str(trained / "run" / "model")
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    rc = main([*base, "--out", str(tmp_path / "guided"), "--guidance", rm,
               "--guidance-scale", "50", "--guidance-weights", "BRIGHT=1",
               "--guidance-window", "0,0.9"])  # fmt: skip
    assert rc == 0
    plain = read_video(tmp_path / "plain" / "videos" / "000000.mp4").frames.float()
    guided = read_video(tmp_path / "guided" / "videos" / "000000.mp4").frames.float()
    assert not (plain == guided).all()
    rc = main(
        [*base, "--out", str(tmp_path / "bad"), "--guidance", rm, "--guidance-weights", "VQ=1"]
    )
    assert rc == 2 and "['VQ']" in capsys.readouterr().err
    rc = main([*base, "--out", str(tmp_path / "bad"), "--guidance", rm, "--guidance-window", "0.9"])
    assert rc == 2 and "t_min,t_max" in capsys.readouterr().err
