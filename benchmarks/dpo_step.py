"""Flow-DPO step vs SFT step on the same tiny model and pairs: time and peak memory.

Both steps see the same B pairs (2B clips, synth_small sizes: 8x32x32 pixels, 256 tokens,
4 layers, LoRA rank 16). SFT treats winner and loser both as data (one forward + backward of
2B clips); Flow-DPO runs the same 2B clips through the policy in one batched forward +
backward plus one reference forward of 2B clips under no_grad with the adapters disabled.
So the expected cost is SFT + one no-grad forward (≈ 1/3 of forward + backward): ~1.3×.

Time: median seconds per step (forward, backward, AdamW step) after warm-up, the methods
interleaved so load changes hit both alike.

Peak memory: the peak of live tensor bytes during one step, above what was live before it,
from torch.profiler's allocation events (``profile_memory=True``, CPU allocator), i.e.
activations, gradients and temporaries; independent of how glibc caches freed memory.
tracemalloc cannot see torch's allocations, and RSS high-water marks mostly show allocator
caching, so neither is used.

    .venv/bin/python benchmarks/dpo_step.py [--pairs 8] [--steps 6] [--threads 1]

It prints; it never gates CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from vidalign.align.losses import dpo_beta
from vidalign.align.objectives import flow_dpo_objective, flow_matching_objective
from vidalign.flow import sample_time
from vidalign.policy import SamplingDefaults
from vidalign.policy.lora import add_lora
from vidalign.policy.tiny import build_pixel_generator

PROMPT = "a small red circle moves left on a black background"


def make_steps(pairs: int, rank: int):
    """The generator with LoRA, and closures running one DPO / one SFT optimizer step."""
    gen = build_pixel_generator([PROMPT], SamplingDefaults(num_frames=8, height=32, width=32,
                                                           fps=8))  # fmt: skip
    add_lora(gen.transformer, rank=rank)
    params = [p for p in gen.transformer.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    g = torch.Generator().manual_seed(0)
    shape = gen.latent_shape()
    x0_w = torch.rand(pairs, *shape, generator=g) * 2 - 1
    x0_l = torch.rand(pairs, *shape, generator=g) * 2 - 1
    cond = gen.encode_text([PROMPT] * pairs)
    noise = torch.randn(pairs, *shape, generator=g)
    t = sample_time(pairs, generator=g)

    def dpo() -> None:
        loss, _ = flow_dpo_objective(gen, gen, gen.transformer, x0_w, x0_l, cond, noise, t,
                                     dpo_beta(100.0, t))  # fmt: skip
        opt.zero_grad(set_to_none=True)
        loss.mean().backward()
        opt.step()

    x0 = torch.cat([x0_w, x0_l])
    cond2, noise2, t2 = torch.cat([cond, cond]), torch.cat([noise, noise]), torch.cat([t, t])

    def sft() -> None:
        loss = flow_matching_objective(gen, x0, cond2, noise2, t2)
        opt.zero_grad(set_to_none=True)
        loss.mean().backward()
        opt.step()

    return dpo, sft


def peak_live_bytes(step) -> int:
    """Peak of live CPU tensor bytes during ``step()``, relative to the start (profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    # Each op's own (self) allocations net of its own frees, at the op's start; frees outside
    # any op come as "[memory]" events. An op's transient inside-op peak is netted out.
    events = [e for e in prof.events() if e.self_cpu_memory_usage != 0]
    events.sort(key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=8, help="pairs per step (2x clips)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per method")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, threads {args.threads}, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    dpo, sft = make_steps(args.pairs, args.rank)
    for _ in range(2):  # warm-up: Adam state, allocator, kernels
        dpo()
        sft()
    times: dict[str, list[float]] = {"dpo": [], "sft": []}
    for _ in range(args.steps):
        for name, step in (("dpo", dpo), ("sft", sft)):
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {"dpo": peak_live_bytes(dpo), "sft": peak_live_bytes(sft)}
    n = 2 * args.pairs
    print(f"SFT  step ({n} clips fwd+bwd):                 {med['sft']:.3f} s, "
          f"peak +{mem['sft'] / 2**20:.1f} MiB")  # fmt: skip
    print(f"DPO  step ({n} clips fwd+bwd + {n} ref fwd):     {med['dpo']:.3f} s, "
          f"peak +{mem['dpo'] / 2**20:.1f} MiB")  # fmt: skip
    print(f"ratio DPO / SFT: time {med['dpo'] / med['sft']:.2f}x (goal <= 1.5), "
          f"peak memory {mem['dpo'] / mem['sft']:.2f}x (goal <= 1.15)")  # fmt: skip


if __name__ == "__main__":
    main()
