"""``vidalign synth``: build and inspect synthetic preference datasets, judge clips.

vidalign synth dataset --out DIR [--prompts N] [--pairs-per-prompt K] [--seed S]
                       [--size 64] [--frames 16] [--fps 8] [--workers W]
vidalign synth stats DIR
vidalign synth judge VIDEO PROMPT
"""

from __future__ import annotations

import argparse
import json
import time


def _dataset(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vidalign.synth.dataset import build_dataset
    from vidalign.synth.stats import dataset_stats, print_stats

    start = time.perf_counter()
    summary = build_dataset(
        args.out,
        num_prompts=args.prompts,
        pairs_per_prompt=args.pairs_per_prompt,
        seed=args.seed,
        size=args.size,
        num_frames=args.frames,
        fps=args.fps,
        eval_prompts=args.eval_prompts,
        hard_prompts=args.hard_prompts,
        workers=args.workers,
    )
    elapsed = time.perf_counter() - start
    console = Console()
    console.print(
        f"wrote {sum(summary.pairs.values())} pairs over {summary.clips} clips to "
        f"{summary.out_dir} in {elapsed:.1f} s"
    )
    print_stats(dataset_stats(summary.out_dir), console)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from vidalign.synth.stats import dataset_stats, print_stats

    print_stats(dataset_stats(args.folder), title=str(args.folder))
    return 0


def _perception(args: argparse.Namespace) -> int:
    from vidalign.errors import VidalignError
    from vidalign.synth.perception import (
        format_table,
        load_train_test,
        perception_ceiling,
        perception_table,
    )

    if args.modes:
        if args.dim is None:
            raise VidalignError("--modes needs --dim: the dimension the reader judges")
        train, test = load_train_test(args.folder)
        rows = [perception_ceiling(train, test, args.dim, tuple(args.modes))]
    else:
        rows = perception_table(args.folder)
    print(format_table(rows))
    return 0


def _judge(args: argparse.Namespace) -> int:
    from vidalign.synth.oracle import judge
    from vidalign.video import read_video

    print(json.dumps(judge(read_video(args.video), args.prompt), indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` command group."""
    parser = subparsers.add_parser(
        "synth", help="the synthetic video world: datasets, stats, oracle"
    )
    sub = parser.add_subparsers(dest="synth_command", metavar="SUBCOMMAND", required=True)

    ds = sub.add_parser("dataset", help="render, judge and label a synthetic preference dataset")
    ds.add_argument("--out", required=True, help="output folder")
    ds.add_argument("--prompts", type=int, default=64, help="distinct prompts (default 64)")
    ds.add_argument("--pairs-per-prompt", type=int, default=4, help="pairs per prompt (default 4)")
    ds.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    ds.add_argument("--size", type=int, default=64, help="frame side in pixels (default 64)")
    ds.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    ds.add_argument("--fps", type=float, default=8.0, help="frame rate (default 8)")
    ds.add_argument(
        "--eval-prompts", type=int, default=64, help="held-out general prompts (default 64)"
    )
    ds.add_argument("--hard-prompts", type=int, default=72, help="hard prompts (default 72)")
    ds.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    ds.set_defaults(func=_dataset)

    st = sub.add_parser(
        "stats", help="print pairs per generator and era, tie rates, oracle ceiling"
    )
    st.add_argument("folder", help="a folder written by `vidalign synth dataset`")
    st.set_defaults(func=_stats)

    pc = sub.add_parser(
        "perception",
        help="accuracy a reward model could reach seeing only some failure modes",
        description="For each dimension: the accuracy without ties, on the strict test pairs, "
        "of a reader that sees the exact severities of some failure modes (all of the "
        "dimension's, all but one, one alone), fitted on the strict train pairs. A trained "
        "reward model near one of these ceilings is most likely blind to the modes left out.",
    )
    pc.add_argument("folder", help="a folder written by `vidalign synth dataset`")
    pc.add_argument("--dim", default=None, help="with --modes: the dimension judged")
    pc.add_argument(
        "--modes", nargs="+", default=None, help="one reader of these failure modes only"
    )
    pc.set_defaults(func=_perception)

    jd = sub.add_parser("judge", help="oracle VQ / MQ / TA scores of one video against its prompt")
    jd.add_argument("video", help="video file")
    jd.add_argument("prompt", help="prompt of the synthetic grammar")
    jd.set_defaults(func=_judge)
