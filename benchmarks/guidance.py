"""Time Flow-NRG guided sampling against unguided sampling of the same model and steps.

The generator has the synthetic world's sizes (configs/policy/synth_small.yaml: 4 blocks,
8x32x32 pixel clips, patch (2, 4, 4) → 256 tokens), randomly initialised, or is loaded from
``--generator``. The latent reward model copies its first K blocks (default K = 1, as the trainer's).
Both runs use the same prompts, seeds, steps and CFG; repeats alternate unguided / guided and
the medians are compared. Goal: ratio ≤ 1.6 with the default K. Prints, never gates.

    .venv/bin/python benchmarks/guidance.py [--blocks 1] [--batch 8] [--steps 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from vidalign.guidance import GuidanceSettings, from_generator, reward_guidance
from vidalign.policy import SamplingDefaults, load_generator
from vidalign.policy.sampling import sample_latents
from vidalign.policy.tiny import build_pixel_generator

PROMPT = "a small red circle moves left on a black background"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generator", default=None, help="generator folder (default: random)")
    parser.add_argument("--blocks", type=int, default=1, help="K of the latent reward model")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, threads {args.threads}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    if args.generator:
        gen = load_generator(args.generator)
    else:
        defaults = SamplingDefaults(num_frames=8, height=32, width=32, fps=8)
        gen = build_pixel_generator([PROMPT], defaults)
    rm = (
        from_generator(
            gen.transformer, args.blocks, ["VQ", "MQ", "TA"], coord_channels=gen.coord_channels
        )
        .eval()
        .requires_grad_(False)
    )
    settings = GuidanceSettings(scale=1.0, weights={"MQ": 1.0})
    prompts, seeds = [PROMPT] * args.batch, list(range(args.batch))

    def run(guided: bool) -> float:
        wrap = (lambda m: reward_guidance(m, rm, settings)) if guided else None
        start = time.perf_counter()
        sample_latents(gen, prompts, seeds, steps=args.steps, cfg=args.cfg,
                       batch_size=args.batch, velocity_wrapper=wrap)  # fmt: skip
        return time.perf_counter() - start

    run(False), run(True)  # warm-up
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for guided in (False, True):
            times[guided].append(run(guided))
    plain, guided = statistics.median(times[False]), statistics.median(times[True])
    blocks = len(gen.transformer.blocks)
    print(f"{args.batch} samples, {args.steps} Euler steps, CFG {args.cfg}, generator {blocks} "
          f"blocks, latent RM K={args.blocks}")  # fmt: skip
    print(f"unguided: {plain:.2f} s   guided: {guided:.2f} s   ratio guided/unguided: "
          f"{guided / plain:.2f} (goal <= 1.6)")  # fmt: skip


if __name__ == "__main__":
    main()
