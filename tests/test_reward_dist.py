"""A 2-process torchrun CPU run equals a 1-process run with the same global batch."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from reward_testdata import make_pairs
from vidalign.checkpoint import latest_checkpoint


def _run(cmd, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=300, cwd=os.getcwd()
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.dist
@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    train = make_pairs(tmp_path / "d", 4, seed=0, name="train.csv")
    common = ["reward", "train", "--config", "configs/reward/tiny.yaml", f"train_data={train}"]
    common += ["steps=3", "save_every=0"]
    one = [sys.executable, "-m", "vidalign.cli.main", *common, "batch_size=2"]
    _run([*one, f"out_dir={tmp_path / 'one'}"], tmp_path)
    two = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
    ]
    two += ["-m", "vidalign.cli.main", *common, "batch_size=1", f"out_dir={tmp_path / 'two'}"]
    _run(two, tmp_path)
    a = load_file(latest_checkpoint(tmp_path / "one") / "model.safetensors")
    b = load_file(latest_checkpoint(tmp_path / "two") / "model.safetensors")
    assert a.keys() == b.keys()
    init = load_file(tmp_path / "one" / "init" / "head.safetensors")["weight"]
    assert not torch.equal(a["head.weight"], init)  # it trained
    # Gloo sums gradients in another order than one process does. Adam's first steps are
    # about lr * sign(grad), so where a gradient cancels to float noise its sign, and that
    # element's step, can differ: compare the share of elements that moved apart, and bound
    # the rest by the most three steps of opposite sign can do (2 * 3 * lr).
    diff = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert (diff > 1e-5).float().mean() < 1e-3  # a different global batch moves most elements
    assert diff.mean() < 1e-6
    assert diff.max() <= 2 * 3 * 1e-3 + 1e-6
    sa = json.loads((tmp_path / "one" / "model" / "vidalign_reward.json").read_text())
    sb = json.loads((tmp_path / "two" / "model" / "vidalign_reward.json").read_text())
    for d, st in sa["normalization"].items():
        assert sb["normalization"][d]["mean"] == pytest.approx(st["mean"], abs=1e-3)
        assert sb["normalization"][d]["std"] == pytest.approx(st["std"], rel=1e-3)
