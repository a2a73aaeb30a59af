"""``vidalign eval``: win rates between two sample sets, and the oracle metric suite.

::

    vidalign eval winrate --base DIR --candidate DIR --judge oracle|RM_PATH
        [--weights VQ=1,MQ=1,TA=1] [--tie-eps 0] [--bootstrap 1000] [--seed S]
        [--out FILE] [--cache-dir DIR]
    vidalign eval metrics DIR [--out FILE]

Sample sets are folders written by ``vidalign sample`` (``index.jsonl`` + mp4s); the two
sets of ``winrate`` must come from the same prompts and seeds. ``--out`` writes the result
as JSON. Scores are cached in each set's ``.scores/`` folder (or ``--cache-dir``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _write_json(path: str | Path, data: dict) -> Path:
    from vidalign.atomic import write_text_atomic

    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def handle_winrate(args: argparse.Namespace) -> int:
    from vidalign.config import parse_weights
    from vidalign.eval.judges import load_judge
    from vidalign.eval.winrate_run import run_winrate
    from vidalign.synth.scorers import named_judges

    weights = parse_weights(args.weights) if args.weights else None
    judge = load_judge(
        args.judge, named=named_judges(), device=args.device, batch_size=args.batch_size
    )
    result = run_winrate(
        args.base,
        args.candidate,
        judge,
        weights=weights,
        tie_eps=args.tie_eps,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        cache_dir=args.cache_dir,
        batch_size=args.batch_size,
        progress=True,
    )
    print(f"candidate {args.candidate} vs base {args.base}, judged by {args.judge}")
    print(f"{result.n_samples} samples over {result.n_prompts} prompts; ties count half")
    print(result.table())
    if args.out:
        data = {"base": str(args.base), "candidate": str(args.candidate), "judge": args.judge}
        path = _write_json(args.out, {**data, **result.to_dict()})
        print(f"wrote {path}")
    return 0


def handle_metrics(args: argparse.Namespace) -> int:
    from vidalign.synth.sample_metrics import oracle_metrics

    m = oracle_metrics(args.dir, batch_size=args.batch_size, progress=True)
    flat = m.as_dict()
    for k, v in flat.items():
        print(f"{k:>20}: {v:.4f}" if isinstance(v, float) else f"{k:>20}: {v}")
    if m.diversity is None:
        print("note: diversity needs a prompt sampled with two or more seeds")
    if args.out:
        print(f"wrote {_write_json(args.out, {'samples': str(args.dir), **flat})}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``eval`` group: ``winrate`` and ``metrics``."""
    group = subparsers.add_parser("eval", help="win rates and oracle metrics of sample sets")
    sub = group.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)

    w = sub.add_parser(
        "winrate",
        help="per-dimension win rates of a candidate sample set over a base one",
        description=(
            "Match the two sample sets by (prompt, seed), score both with the judge, and "
            "report the candidate's win rate per dimension and Overall (ties count half), "
            "with percentile bootstrap intervals that resample prompts."
        ),
    )
    w.add_argument("--base", required=True, type=Path, metavar="DIR", help="base sample set")
    w.add_argument(
        "--candidate", required=True, type=Path, metavar="DIR", help="candidate sample set"
    )
    w.add_argument(
        "--judge",
        required=True,
        metavar="oracle|RM_PATH",
        help="'oracle' (synthetic world) or a vidalign reward model folder",
    )
    w.add_argument("--weights", metavar="VQ=1,MQ=1,TA=1", help="weights of Overall (default 1)")
    w.add_argument(
        "--tie-eps",
        type=float,
        default=0.0,
        help="score differences with |diff| <= this are ties (default 0: exact equality)",
    )
    w.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (0: none)")
    w.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    w.add_argument("--out", metavar="FILE", help="write the result as JSON")
    w.add_argument("--cache-dir", metavar="DIR", help="score caches (default: DIR/.scores/)")
    w.add_argument("--batch-size", type=int, default=8, help="videos per scorer call")
    w.add_argument("--device", help="device of a reward-model judge (default: cuda if any)")
    w.set_defaults(func=handle_winrate)

    m = sub.add_parser(
        "metrics",
        help="oracle metric suite of a sample set: mean VQ/MQ/TA, TA breakdown, diversity",
    )
    m.add_argument("dir", type=Path, metavar="DIR", help="sample set (index.jsonl + mp4s)")
    m.add_argument("--out", metavar="FILE", help="write the metrics as JSON")
    m.add_argument("--batch-size", type=int, default=8, help="videos per oracle call")
    m.set_defaults(func=handle_metrics)
