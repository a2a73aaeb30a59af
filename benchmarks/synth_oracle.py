"""Oracle validation table: Spearman of each failure's severity against its own judge, and
how far the other two judges move, on clips decoded from mp4; plus the time per clip.

    .venv/bin/python benchmarks/synth_oracle.py [--size 64 --frames 16] [--levels 6]

Prints one row per failure mode: the mean and minimum Spearman over the validation prompts,
the mean drop of the own dimension from severity 0 to 1, and the mean largest move of each
other dimension. Numbers never gate CI.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from vidalign.synth.degrade import FAILURE_MODES
from vidalign.synth.validate import VALIDATION_PROMPTS, severity_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--levels", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    levels = np.linspace(0.0, 1.0, args.levels)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    )
    print(f"clips {args.size}x{args.size}x{args.frames}, severities {levels.round(2).tolist()}")
    print(f"{'mode':15s} {'dim':3s} {'rho mean':>8s} {'rho min':>8s} {'own drop':>8s}  other moves")
    start, clips, ratios = time.perf_counter(), 0, []
    for mode in FAILURE_MODES:
        sweeps = [
            severity_sweep(p, mode, levels, seed=7 + i, size=args.size, num_frames=args.frames)
            for i, p in enumerate(VALIDATION_PROMPTS)
        ]
        clips += len(sweeps) * len(levels)
        rho = [s.rho for s in sweeps]
        drop = float(np.mean([s.own_drop for s in sweeps]))
        others = {
            d: float(np.mean([s.other_moves()[d] for s in sweeps])) for d in sweeps[0].other_moves()
        }
        ratios.append(max(others.values()) / max(drop, 1e-9))
        moves = "  ".join(f"{d} {v:.3f}" for d, v in others.items())
        print(
            f"{mode:15s} {sweeps[0].dim:3s} {np.mean(rho):8.3f} {np.min(rho):8.3f} {drop:8.3f}  {moves}"
        )
    elapsed = time.perf_counter() - start
    print(
        f"largest other move / own drop: median {np.median(ratios):.3f}, max {np.max(ratios):.3f}"
    )
    print(
        f"{clips} clips rendered, encoded, decoded and judged in {elapsed:.1f} s "
        f"({1000 * elapsed / clips:.0f} ms per clip)"
    )


if __name__ == "__main__":
    main()
