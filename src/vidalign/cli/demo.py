"""``vidalign demo``: rerun the paper's experiment in miniature on the synthetic world."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole pipeline on the synthetic world, with a report",
        description=(
            "Build preference data, train the reward model and evaluate it, pre-train the "
            "base generator, make on-policy pairs, align it with SFT, Flow-RWR and Flow-DPO "
            "(beta_t and constant beta), train the latent reward model for Flow-NRG, then "
            "judge every method against the base model and write report.md / report.html. "
            "Finished stages are reused when the command is run again."
        ),
    )
    p.add_argument("--scale", choices=("tiny", "small"), default="small",
                   help="tiny: ~2 min smoke run; small: the real demo (~30 min on 2 cores)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/demo-SCALE)")
    p.add_argument("--seed", type=int, default=None, help="seed of every stage")
    p.add_argument("overrides", nargs="*", help="recipe overrides, e.g. reward.steps=100")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from vidalign.demo.config import load_demo_config
    from vidalign.demo.pipeline import run_demo

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    cfg = load_demo_config(args.scale, overrides)
    out = args.out or Path("runs") / f"demo-{args.scale}"
    run_demo(cfg, out)
    print(f"report: {out / 'report.html'} (and {out / 'report.md'})")
    return 0
