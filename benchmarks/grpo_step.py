"""Time one Flow-GRPO step on a tiny model: sampling, reward scoring and training shares.

The step runs through ``train_grpo`` (synth_small sizes: 8x32x32 pixels, 256 tokens, 4
layers, LoRA rank 16) with P prompts x G samples, ``sample_steps`` SDE steps and a
``timestep_fraction`` of them trained, each with a policy forward + backward and (β > 0) a
reference forward with the adapters disabled. The training part is set against an SFT step
(flow matching, one forward + backward) on as many clips: per trained timestep the
expected cost is SFT + one no-grad forward, ≈ 1.33x (goal ≤ 1.5x).

Times are medians over the steps after the first (warm-up); numbers depend on what else
runs on the machine, so compare only within one run.

    .venv/bin/python benchmarks/grpo_step.py [--prompts 2] [--group 4] [--steps 3] [--threads 1]

It prints; it never gates CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vidalign.align.grpo import train_grpo, train_steps
from vidalign.align.grpo_config import GRPOConfig
from vidalign.config import load_config
from vidalign.flow import flow_matching_loss, sample_path, sample_time
from vidalign.policy import SamplingDefaults, save_generator
from vidalign.policy.folder import load_generator
from vidalign.policy.lora import add_lora
from vidalign.policy.tiny import build_pixel_generator
from vidalign.synth.prompts import general_prompts
from vidalign.synth.scorers import gold_sources


def sft_seconds(folder: Path, prompts: list[str], clips: int, rank: int, steps: int) -> float:
    """Median seconds of one SFT optimizer step on ``clips`` clips, same model and LoRA."""
    gen = load_generator(folder)
    add_lora(gen.transformer, rank=rank)
    params = [p for p in gen.transformer.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(clips, *gen.latent_shape(), generator=g) * 2 - 1
    cond = gen.encode_text([prompts[i % len(prompts)] for i in range(clips)])
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        path = sample_path(x0, sample_time(clips, generator=g), generator=g)
        loss = flow_matching_loss(gen(path.x_t, path.t, cond), path.v).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=2, help="prompts per step")
    parser.add_argument("--group", type=int, default=4, help="G, samples per prompt")
    parser.add_argument("--sample-steps", type=int, default=10, help="SDE steps")
    parser.add_argument("--fraction", type=float, default=0.6, help="timestep_fraction")
    parser.add_argument("--beta", type=float, default=0.04, help="KL weight (0: no reference)")
    parser.add_argument("--reward", default="oracle", help="'oracle' or 'brightness'")
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps (the first is warm-up)")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, threads {args.threads}, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    prompts = list(general_prompts(args.prompts, 0))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        defaults = SamplingDefaults(num_frames=8, height=32, width=32, fps=8)
        folder = save_generator(build_pixel_generator(prompts, defaults), root / "gen")
        (root / "prompts.txt").write_text("\n".join(prompts) + "\n")
        cfg = load_config(GRPOConfig, None, [
            f"policy={folder}", f"prompts={root / 'prompts.txt'}", f"out_dir={root / 'run'}",
            f"steps={args.steps}", f"prompts_per_step={args.prompts}", f"group_size={args.group}",
            f"sample_steps={args.sample_steps}", f"timestep_fraction={args.fraction}",
            f"beta={args.beta}", f"reward.sources=[{args.reward}]", "gold_control=true",
            f"lora.rank={args.rank}", "save_every=0", f"threads={args.threads}",
            "progress=false",
        ])  # fmt: skip
        res = train_grpo(cfg, gold_sources=gold_sources())
        clips = args.prompts * args.group
        sft = sft_seconds(folder, prompts, clips, args.rank, max(3, args.steps))
    timed = res.history[1:] or res.history  # rows hold the step's sample_s, reward_s, train_s
    med = {k: statistics.median(t[k] for t in timed) for k in ("sample_s", "reward_s", "train_s")}
    total = sum(med.values())
    trained = len(train_steps(cfg.seed, 0, args.sample_steps, args.fraction))
    print(f"GRPO step: {args.prompts} prompts x G={args.group} = {clips} rollouts, "
          f"{args.sample_steps} SDE steps, {trained} trained, beta {args.beta}, "
          f"reward {args.reward}: {total:.3f} s")  # fmt: skip
    for k, name in (("sample_s", "sampling"), ("reward_s", "reward scoring"),
                    ("train_s", "training")):  # fmt: skip
        print(f"  {name:15s} {med[k]:7.3f} s  {100 * med[k] / total:5.1f} %")
    per = med["train_s"] / trained
    print(f"SFT step ({clips} clips fwd+bwd): {sft:.3f} s")
    print(f"training per trained timestep: {per:.3f} s = {per / sft:.2f}x the SFT step "
          f"(goal <= 1.5); whole training part {med['train_s'] / sft:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
