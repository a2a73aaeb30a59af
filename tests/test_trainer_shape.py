"""Every trainer has one shape, so one test holds for all six of them.

A run of 4 steps under the cosine schedule, against the same run stopped by ``stop_at=2``
(a checkpoint, no model) and resumed with ``resume=true``: the final weights are equal bit
for bit, the resumed call's history is the rest of the uninterrupted one, the two runs'
``metrics.jsonl`` are the same rows, and the logged learning rate follows the cosine down
to ``min_lr_ratio``. The trainers: reward model, base VLM, base generator, Flow-DPO (with
LoRA dropout), Flow-GRPO and the latent reward model, each on the tiny data its own tests
use. A real SIGKILL of a running trainer is in ``test_synth_generator_pretrain``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from align_testdata import save_tiny_generator, write_pair_folder
from guidance_testdata import write_pair_dataset
from reward_testdata import make_pairs
from vidalign.align.config import AlignConfig
from vidalign.align.grpo import train_grpo
from vidalign.align.grpo_config import GRPOConfig
from vidalign.align.trainer import train_align
from vidalign.checkpoint import complete_checkpoints
from vidalign.config import load_config
from vidalign.errors import VidalignError
from vidalign.guidance.config import LatentRMConfig
from vidalign.guidance.trainer import train_latent_rm
from vidalign.reward.config import RewardTrainConfig
from vidalign.reward.trainer import train_reward
from vidalign.synth.generator_config import PretrainConfig
from vidalign.synth.generator_pretrain import pretrain
from vidalign.synth.prompts import general_prompts
from vidalign.synth.vlm_pretrain import VLMPretrainConfig, pretrain_vlm
from vidalign.training import TrainResult

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
STEPS, STOP = 4, 2
COMMON = [f"steps={STEPS}", "save_every=0", "log_every=1", "progress=false", "threads=1",
          "optim.schedule=cosine", "optim.warmup_steps=1", "optim.min_lr_ratio=0.1"]  # fmt: skip
TIMINGS = ("sample_s", "reward_s", "train_s")  # GRPO's seconds per step: never repeated


@dataclass
class Case:
    """How one trainer is configured on its tiny data and called."""

    data: str  # the fixture giving the data
    config: Callable[[Any, Path, list[str]], Any]  # (data, out_dir, overrides) -> config
    train: Callable[[Any], TrainResult]


def _reward(data, out, overrides):
    train, val = data
    dropout = ["lora.enabled=true", "lora.r=4", "lora.alpha=8", "lora.dropout=0.2", "grad_accum=2"]
    return load_config(RewardTrainConfig, CONFIGS / "reward" / "tiny.yaml",
                       [f"train_data={train}", f"val_data={val}", f"out_dir={out}", *dropout,
                        *overrides])  # fmt: skip


def _vlm(_data, out, overrides):
    tiny = ["tiny.hidden_size=32", "tiny.num_layers=1", "tiny.num_heads=2", "tiny.num_kv_heads=1",
            "tiny.intermediate_size=64", "tiny.vision_depth=1", "tiny.vision_embed_dim=16",
            "tiny.vision_heads=2", "tiny.patch_size=8"]  # fmt: skip
    return load_config(VLMPretrainConfig, None,
                       [f"out_dir={out}", *tiny, "num_clips=8", "eval_clips=2", "num_prompts=4",
                        "batch_size=4", "severity_weight=1", "optim.lr=3e-3", *overrides])  # fmt: skip


def _policy(_data, out, overrides):
    return load_config(
        PretrainConfig, CONFIGS / "policy" / "tiny.yaml", [f"out_dir={out}", *overrides]
    )


def _align(data, out, overrides):
    gen, pairs = data
    return load_config(AlignConfig, None,
                       [f"policy={gen}", f"pairs={pairs}", f"out_dir={out}", "batch_size=4",
                        "lora.rank=4", "lora.dropout=0.1", "optim.lr=1e-2", *overrides])  # fmt: skip


def _grpo(data, out, overrides):
    gen, prompts = data
    return load_config(GRPOConfig, None,
                       [f"policy={gen}", f"prompts={prompts}", f"out_dir={out}",
                        "prompts_per_step=2", "group_size=2", "sample_steps=3", "beta=0.1",
                        "reward.sources=[brightness]", "lora.rank=4", "optim.lr=1e-2",
                        *overrides])  # fmt: skip


def _latent_rm(root, out, overrides):
    return load_config(LatentRMConfig, CONFIGS / "guidance" / "tiny.yaml",
                       [f"out_dir={out}", f"generator={root / 'gen'}",
                        f"train_data={root / 'train.csv'}", f"val_data={root / 'val.csv'}",
                        *overrides])  # fmt: skip


CASES = {
    "reward": Case("reward_data", _reward, train_reward),
    "vlm": Case("no_data", _vlm, pretrain_vlm),
    "policy": Case("no_data", _policy, pretrain),
    "align": Case("align_data", _align, train_align),
    "grpo": Case("grpo_data", _grpo, train_grpo),
    "latent_rm": Case("latent_data", _latent_rm, train_latent_rm),
}


@pytest.fixture(scope="module")
def no_data():
    return None


@pytest.fixture(scope="module")
def reward_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("reward")
    return make_pairs(root, 6, seed=0, name="train.csv"), make_pairs(
        root, 3, seed=1, name="val.csv"
    )


@pytest.fixture(scope="module")
def align_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    return save_tiny_generator(root / "gen"), write_pair_folder(root / "pairs", 4)


@pytest.fixture(scope="module")
def grpo_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    prompts = root / "prompts.txt"
    prompts.write_text("\n".join(general_prompts(4, 0)) + "\n")
    return save_tiny_generator(root / "gen"), prompts


@pytest.fixture(scope="module")
def latent_data(tmp_path_factory):
    return write_pair_dataset(tmp_path_factory.mktemp("latent-rm"))


def folder_tensors(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of every safetensors file under ``folder``, keyed ``file:name``."""
    out = {}
    for file in sorted(folder.rglob("*.safetensors")):
        rel = file.relative_to(folder)
        out.update({f"{rel}:{k}": v for k, v in load_file(str(file)).items()})
    return out


def untimed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]


def metrics_rows(run: Path) -> list[dict[str, Any]]:
    return untimed([json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()])


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stopped_and_resumed_run_ends_with_the_uninterrupted_weights(name, tmp_path, request):
    case = CASES[name]
    data = request.getfixturevalue(case.data)

    def config(out, *extra):
        return case.config(data, out, [*COMMON, *extra])

    full = case.train(config(tmp_path / "full"))
    stopped = case.train(config(tmp_path / "part", f"stop_at={STOP}"))
    assert (stopped.steps, stopped.model_dir) == (STOP, None)
    assert [p.name for p in complete_checkpoints(tmp_path / "part")] == [f"step-{STOP}"]
    with pytest.raises(VidalignError, match="already holds a run"):
        case.train(config(tmp_path / "part"))  # only resume=true continues it
    resumed = case.train(config(tmp_path / "part", "resume=true"))

    assert full.steps == resumed.steps == STEPS and resumed.model_dir.name == full.model_dir.name
    assert untimed(resumed.history) == untimed(full.history[STOP:])
    assert resumed.final_metrics == full.final_metrics
    a, b = folder_tensors(full.model_dir), folder_tensors(resumed.model_dir)
    assert a and a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    rows = metrics_rows(tmp_path / "full")
    assert metrics_rows(tmp_path / "part") == rows
    assert [r["step"] for r in rows if "split" not in r] == list(range(1, STEPS + 1))
    # the logged rate after each step: warm-up to the peak, then the cosine to 0.1 x peak
    lr = [r["lr"] for r in rows if "split" not in r]
    peak = lr[0]
    for step, got in enumerate(lr, start=1):
        frac = (step - 1) / (STEPS - 1)
        assert got == pytest.approx(peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))))
