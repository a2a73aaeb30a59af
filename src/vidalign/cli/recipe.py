"""The arguments every recipe-driven command shares: ``--config``, ``--resume``, overrides."""

from __future__ import annotations

import argparse
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
