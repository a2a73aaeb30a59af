"""``vidalign package KIND``: a trained model as a shippable folder with its model card.

``vidalign policy package`` is the same command with the kind ``generator``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTION = (
    "Copy a trained model folder to OUT with card.json and MODEL_CARD.md (vidalign.builtin): "
    "the recipe, commit, held-out metrics and the SHA-256 of every file. A generator's "
    "metrics are the results.json of `vidalign policy evaluate --out` (--results, "
    "--eval-command), and its card adds a same-seed fingerprint that tests recompute. A VLM "
    "is the model folder of `vidalign reward pretrain` (RUN/model): its stages' configs "
    "come from the run folders, its pre-training heads from the run's last checkpoint, and "
    "its held-out metrics are measured on the last stage's held-out clips."
)


def register(subparsers) -> None:
    from vidalign.builtin import KINDS

    p = subparsers.add_parser(
        "package", help="a trained model as a shippable folder with its model card",
        description=DESCRIPTION,
    )  # fmt: skip
    p.add_argument("kind", choices=KINDS, help="what the folder holds")
    add_package_arguments(p)


def add_package_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``vidalign package`` after its kind; sets ``func``."""
    p.add_argument("model", type=Path, help="trained model folder")
    p.add_argument("out", type=Path, help="folder to create")
    p.add_argument("--name", required=True, help="the model's name")
    p.add_argument("--command", required=True, help="the command that trained the model")
    p.add_argument("--commit", required=True, help="the git commit of the recipe")
    p.add_argument("--results", type=Path, default=None,
                   help="generator: results.json of `vidalign policy evaluate --out`")  # fmt: skip
    p.add_argument("--eval-command", default=None,
                   help="generator: the command that gave --results")  # fmt: skip
    p.add_argument("--train-time", default="", help="wall time of the training, in words")
    p.add_argument("--notes", default="", help="text for the card's notes section")
    p.set_defaults(func=run_package)


def run_package(args: argparse.Namespace) -> int:
    from vidalign.builtin import BuiltinError, write_card

    recipe: dict[str, str] = {"command": args.command}
    metrics = None
    if args.kind == "generator":
        if args.results is None or args.eval_command is None:
            raise BuiltinError("a generator's card needs --results and --eval-command")
        try:
            metrics = json.loads(args.results.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise BuiltinError(
                f"{args.results}: cannot read the evaluation results ({err})"
            ) from None
        recipe["evaluation"] = args.eval_command
    elif args.results is not None or args.eval_command is not None:
        raise BuiltinError(
            f"--results and --eval-command are for generators; a {args.kind}'s card measures "
            "its metrics itself"
        )
    if args.train_time:
        recipe["training time"] = args.train_time
    out = write_card(
        args.kind, args.model, args.out, name=args.name, recipe=recipe, metrics=metrics,
        commit=args.commit, notes=args.notes,
    )  # fmt: skip
    print(f"packaged {args.model} as {out}")
    return 0
