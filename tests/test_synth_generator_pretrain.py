"""Base-generator pre-training on the tiny recipe: loss falls, parameters change, a killed
process resumes exactly (stop_at and resume of every trainer: test_trainer_shape)."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vidalign.cli.main import main
from vidalign.config import load_config
from vidalign.policy import load_generator
from vidalign.synth.generator_config import PretrainConfig
from vidalign.synth.generator_pretrain import build_generator, pretrain
from vidalign.training import NonFiniteLossError, lr_factor

TINY = Path(__file__).resolve().parents[1] / "configs" / "policy" / "tiny.yaml"


def tiny_cfg(out_dir, *overrides):
    return load_config(PretrainConfig, TINY, [f"out_dir={out_dir}", "progress=false", *overrides])


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cosine = {"schedule": "cosine", "warmup": 4, "total": 10, "min_ratio": 0.1}
    assert lr_factor(0, **cosine) == 0.25
    assert lr_factor(3, **cosine) == 1.0
    assert lr_factor(4, **cosine) == 1.0
    assert abs(lr_factor(7, **cosine) - 0.55) < 1e-12  # half-way down: (1 + 0.1) / 2
    assert abs(lr_factor(10, **cosine) - 0.1) < 1e-12
    constant = {**cosine, "schedule": "constant"}
    assert [lr_factor(s, **constant) for s in (0, 3, 4, 10)] == [0.25, 1.0, 1.0, 1.0]


@pytest.mark.slow
def test_pretraining_lowers_the_loss_and_saves_a_loadable_generator(tmp_path):
    # Same batch every step (num_clips = batch) isolates learning from data noise.
    cfg = tiny_cfg(tmp_path / "run", "steps=30", "data.num_clips=4", "cond_dropout=0.0",
                   "save_every=100")  # fmt: skip
    before = {k: v.clone() for k, v in build_generator(cfg).transformer.state_dict().items()}
    result = pretrain(cfg)
    losses = [row["loss"] for row in result.history]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)
    gen = load_generator(result.model_dir)
    after = gen.transformer.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert gen.defaults.num_frames == 8 and gen.defaults.height == 32
    assert (tmp_path / "run" / "logs").is_dir() and (tmp_path / "run" / "config.yaml").is_file()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 31))  # log_every 1
    assert [r["loss"] for r in rows] == losses and rows[0]["lr"] > 0


def test_pretrain_cli_runs_the_tiny_recipe(tmp_path):
    rc = main(["policy", "pretrain", "--config", str(TINY), f"out_dir={tmp_path}", "steps=2"])
    assert rc == 0 and (tmp_path / "model" / "vidalign_generator.json").is_file()
    rc = main(["policy", "pretrain", "--config", str(TINY), f"out_dir={tmp_path}", "nope=1"])
    assert rc == 2


def test_a_diverging_run_stops_with_a_checkpoint_of_the_last_finite_weights(tmp_path):
    cfg = tiny_cfg(tmp_path, "optim.lr=1e30", "optim.grad_clip=0", "steps=6", "save_every=100")
    with pytest.raises(NonFiniteLossError, match="last finite weights") as info:
        pretrain(cfg)
    ckpts = list((tmp_path / "checkpoints").iterdir())
    assert len(ckpts) == 1 and str(ckpts[0]) in str(info.value)
    assert not (tmp_path / "model").exists()


def test_a_second_run_into_a_used_folder_is_refused_and_a_resume_may_only_go_further(
    tmp_path, capsys
):
    # issue 21: this second run used to prune its own checkpoints (the old run's steps are
    # higher), overwrite the first run's model, and leave a --resume that loads the old weights
    run = ["policy", "pretrain", "--config", str(TINY), f"out_dir={tmp_path}", "save_every=3",
           "keep=2"]  # fmt: skip
    weights = tmp_path / "model" / "transformer" / "diffusion_pytorch_model.safetensors"
    assert main([*run, "steps=12"]) == 0
    saved = weights.read_bytes()
    capsys.readouterr()

    assert main([*run, "steps=6"]) == 2
    err = capsys.readouterr().err
    assert (
        f"{tmp_path} already holds a run (checkpoints/step-12, model)" in err and "--resume" in err
    )
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-12", "step-9"]
    assert weights.read_bytes() == saved

    assert main([*run, "steps=12", "--resume", "optim.lr=1e-2"]) == 2
    assert "differs in optim.lr: 0.003 -> 0.01" in capsys.readouterr().err
    assert main([*run, "steps=12", "--resume", "steps=14"]) == 0  # an override after --resume
    assert "resumed from" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-12", "step-14"]
    assert load_config(PretrainConfig, tmp_path / "config.yaml").steps == 14


def test_resume_passes_over_a_truncated_checkpoint_and_repeats_the_run_exactly(tmp_path, capsys):
    run = ["policy", "pretrain", "--config", str(TINY), f"out_dir={tmp_path}"]
    weights = tmp_path / "model" / "transformer" / "diffusion_pytorch_model.safetensors"
    assert main(run) == 0  # steps 6, checkpoints at 3 and 6
    uninterrupted = load_file(str(weights))
    optim = tmp_path / "checkpoints" / "step-6" / "optimizer.pt"
    optim.write_bytes(optim.read_bytes()[:1000])  # a copy cut short
    capsys.readouterr()
    assert main([*run, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "skipping" in out and "step-6: optimizer.pt has 1000 bytes" in out
    assert f"resumed from {tmp_path / 'checkpoints' / 'step-3'}" in out
    again = load_file(str(weights))
    assert all(torch.equal(again[k], uninterrupted[k]) for k in uninterrupted)


@pytest.mark.slow
def test_a_process_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    """A real `vidalign policy pretrain` process, SIGKILLed mid-run, then resumed: the final
    weights equal an uninterrupted run's bit for bit (under the cosine schedule)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["policy", "pretrain", "--config", str(TINY), "steps=60", "save_every=4", "keep=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vidalign.cli.main", *args]

    def weights(run):
        path = run / "model" / "transformer" / "diffusion_pytorch_model.safetensors"
        return load_file(str(path))

    def rows(run):
        return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]

    full = tmp_path / "full"
    subprocess.run([*cmd, f"out_dir={full}"], env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, f"out_dir={killed}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (killed / "checkpoints" / "step-8" / "COMPLETE").is_file():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model").exists(), "killed too late: the run had finished"
    done = subprocess.run([*cmd, f"out_dir={killed}", "--resume"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "resumed from" in done.stdout + done.stderr
    a, b = weights(full), weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the rows the killed process logged after its last checkpoint are not there twice
    assert rows(killed) == rows(full) and [r["step"] for r in rows(full)] == list(range(1, 61))
