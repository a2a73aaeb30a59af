"""``vidalign reward eval``: accuracy of a reward model beside the Random and Oracle baselines.

::

    vidalign reward eval MODEL --data FILE [--video-root DIR] [--out DIR]
        [--weights VQ=1,MQ=1,TA=1] [--no-oracle] [--skip-errors] [--seed S]

The run itself is ``vidalign.eval.reward_eval_run.run_reward_eval`` (its docstring says what
MODEL and FILE may be and what is written under ``--out``); the oracle row's judge is the
synthetic world's (``vidalign.synth.scorers.OracleCeiling``).
"""

from __future__ import annotations

import argparse
from typing import Any

from vidalign.config import parse_weights
from vidalign.eval.reward_eval_run import RewardEvalConfig, run_reward_eval
from vidalign.eval.reward_report import accuracy_table
from vidalign.synth.scorers import OracleCeiling


def add_eval_parser(reward_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eval`` under the ``vidalign reward`` group; returns its parser."""
    p = reward_subparsers.add_parser(
        "eval",
        help="reward accuracy (with / without ties) beside Random and Oracle baselines",
        description=(
            "Reward accuracy with and without ties, per dimension and Overall, in one table "
            "with the Random baseline and (on synthetic data) the oracle ceiling. Writes "
            "report.md, results.json and tie_separation.png under --out; scores are cached "
            "there, so a killed run resumes where it stopped."
        ),
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="reward model folder, or 'oracle' / 'random' for the baselines alone",
    )
    p.add_argument("--data", required=True, metavar="FILE", help="pair file (CSV/JSONL/Parquet)")
    p.add_argument("--video-root", metavar="DIR", help="folder for relative video paths")
    p.add_argument("--out", default="runs/reward_eval", metavar="DIR", help="output folder")
    p.add_argument(
        "--weights", metavar="VQ=1,MQ=1,TA=1", help="weights of Overall (default: all 1)"
    )
    p.add_argument("--no-oracle", action="store_true", help="leave out the oracle ceiling row")
    p.add_argument(
        "--skip-errors",
        action="store_true",
        help="skip videos that fail to score; they are listed in OUT/skipped.jsonl",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the Random baseline")
    p.add_argument("--batch-size", type=int, default=8, help="videos per scorer call")
    p.add_argument("--device", help="cpu / cuda for the reward model (default: cuda if available)")
    p.set_defaults(func=handle_eval)
    return p


def config_from_args(args: argparse.Namespace) -> RewardEvalConfig:
    return RewardEvalConfig(
        model=args.model,
        data=args.data,
        video_root=args.video_root,
        out=args.out,
        weights=parse_weights(args.weights) if args.weights else None,
        oracle=not args.no_oracle,
        skip_errors=args.skip_errors,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
    )


def handle_eval(args: argparse.Namespace) -> int:
    """Run the evaluation and print the accuracy table."""
    run = run_reward_eval(config_from_args(args), oracle=OracleCeiling(), progress=True)
    print(accuracy_table(run.results))
    for note in run.notes:
        print(f"note: {note}")
    print(f"report: {run.paths['report']}")
    return 0
