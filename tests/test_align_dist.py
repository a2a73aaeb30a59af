"""A 2-process torchrun Flow-DPO run equals a 1-process run with the same global batch."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from align_testdata import save_tiny_generator, write_pair_folder
from vidalign.policy.lora import LORA_WEIGHT_NAME


def _run(cmd):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "rwr"])
def test_two_processes_match_one(tmp_path, method):
    gen = save_tiny_generator(tmp_path / "gen")
    pairs = write_pair_folder(tmp_path / "pairs", 4)
    common = ["align", "train", f"method={method}", f"policy={gen}", f"pairs={pairs}",
              "steps=3", "batch_size=4", "lora.rank=4", "optim.lr=1e-3", "save_every=0"]  # fmt: skip
    _run([sys.executable, "-m", "vidalign.cli.main", *common, f"out_dir={tmp_path / 'one'}"])
    port = "29527" if method == "dpo" else "29528"
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
          "--master_port", port, "-m", "vidalign.cli.main", *common,
          f"out_dir={tmp_path / 'two'}"])  # fmt: skip
    a = load_file(str(tmp_path / "one" / "lora" / LORA_WEIGHT_NAME))
    b = load_file(str(tmp_path / "two" / "lora" / LORA_WEIGHT_NAME))
    assert a.keys() == b.keys()
    assert any(v.abs().max() > 0 for k, v in a.items() if "lora_B" in k)  # it trained
    # Gloo sums the two halves' gradients in another order than one process does. Adam's
    # first steps are about lr * sign(grad), so where a gradient cancels to float noise its
    # sign, and that element's step, can differ: compare the share of elements that moved
    # apart, and bound the rest by what three steps of opposite sign can do (2 * 3 * lr).
    diff = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert (diff > 1e-5).float().mean() < 1e-2
    assert diff.max() <= 2 * 3 * 1e-3 + 1e-6
