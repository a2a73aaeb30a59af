"""The arguments every recipe-driven command shares: ``--config``, ``--resume``, overrides."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


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
