"""The arguments every recipe-driven command shares: ``--config``, ``--resume``, overrides;
and how a trainer command loads its config and reports its ``TrainResult``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def add_recipe_arguments(
    parser: argparse.ArgumentParser, recipes: str, *, resume: bool = True
) -> None:
    """``--config FILE`` (a YAML recipe, e.g. under ``recipes``), optional ``--resume``, and
    positional ``key=value`` overrides of the recipe (``vidalign.config.load_config``)."""
    parser.add_argument("--config", type=Path, default=None, help=f"YAML recipe ({recipes})")
    if resume:
        parser.add_argument(
            "--resume", action="store_true", help="continue from the latest checkpoint"
        )
    parser.add_argument("overrides", nargs="*", help="key=value recipe overrides")


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, except that overrides may come on both sides of an option.

    argparse gives a positional list only the first run of words, so in
    ``--config R out_dir=X --resume steps=6`` it would reject ``steps=6``. Here the words it
    leaves over join ``overrides``, in order, when the command has them and every one of
    them reads ``key=value``; anything else is still argparse's usage error.
    """
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or not all(_is_override(w) for w in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def _is_override(word: str) -> bool:
    return "=" in word and not word.startswith("-")


def load_recipe(cls: type[T], args: argparse.Namespace) -> T:
    """``cls`` from ``--config`` and the overrides; ``--resume`` is the override
    ``resume=true`` (every trainer config has the field, ``vidalign.training_config``)."""
    from vidalign.config import load_config

    overrides = [*args.overrides, *(["resume=true"] if getattr(args, "resume", False) else [])]
    return load_config(cls, args.config, overrides)


def report_result(result: Any, what: str) -> None:
    """One line about a ``TrainResult`` (main process only): where ``what`` was saved, or
    that the run stopped at ``stop_at`` and how to continue it."""
    if os.environ.get("RANK", "0") != "0":
        return
    if result.model_dir is None:
        print(
            f"stopped at step {result.steps} with a checkpoint in {result.out_dir}; "
            "continue with --resume"
        )
    else:
        print(f"saved {what} to {result.model_dir} (step {result.steps})")
