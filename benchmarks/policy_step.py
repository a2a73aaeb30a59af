"""Time the base generator's training step and sampling on this machine.

Prints seconds per training step (batch 16, synth_small sizes) for 1 and 2 torch threads and
seconds per 20-step sample batch, plus the ratio threads=2 / threads=1. Numbers depend on what
else runs on the machine; compare only within one run.

    .venv/bin/python benchmarks/policy_step.py [--steps 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from vidalign.flow import flow_matching_loss, sample_path, sample_time
from vidalign.policy import SamplingDefaults
from vidalign.policy.sampling import sample_latents
from vidalign.policy.tiny import build_pixel_generator

PROMPTS = ["a small red circle moves left on a black background"] * 16


def train_step_seconds(gen, steps: int) -> float:
    opt = torch.optim.AdamW(gen.transformer.parameters(), lr=1e-4)
    x0 = torch.rand(16, *gen.latent_shape()) * 2 - 1
    cond = gen.encode_text(PROMPTS)
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        path = sample_path(x0, sample_time(16))
        loss = flow_matching_loss(gen(path.x_t, path.t, cond), path.v).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return sorted(times[2:])[len(times[2:]) // 2]  # median after warm-up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    gen = build_pixel_generator(PROMPTS, SamplingDefaults(num_frames=8, height=32, width=32, fps=8))
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results[threads] = train_step_seconds(gen, args.steps)
        print(f"threads={threads}: {results[threads]:.3f} s / training step (batch 16)")
    print(f"ratio threads=2 / threads=1: {results[2] / results[1]:.2f}")
    torch.set_num_threads(1)
    start = time.perf_counter()
    sample_latents(gen, PROMPTS[:8], list(range(8)), steps=20, cfg=3.0, batch_size=8)
    print(f"threads=1: {time.perf_counter() - start:.2f} s for 8 samples, 20 steps, CFG 3")


if __name__ == "__main__":
    main()
