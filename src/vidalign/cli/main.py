"""Entry point of the ``vidalign`` command.

Each subcommand group lives in its own module with a ``register(subparsers)``
function that adds its parsers and sets ``func`` on them. The list below is the
whole command tree; there is no plugin discovery.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from vidalign import __version__
from vidalign.cli.recipe import parse_args
from vidalign.errors import VidalignError

# Each module defines register(subparsers).
GROUPS: list[str] = [
    "vidalign.cli.data",
    "vidalign.cli.synth",
    "vidalign.cli.reward",
    "vidalign.cli.policy",
    "vidalign.cli.package",
    "vidalign.cli.sample",
    "vidalign.cli.guidance",
    "vidalign.cli.annotate",
    "vidalign.cli.align",
    "vidalign.cli.eval",
    "vidalign.cli.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidalign",
        description="Post-training text-to-video generators with human feedback.",
    )
    parser.add_argument("--version", action="version", version=f"vidalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parse_args(parser, argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VidalignError as err:
        print(f"vidalign: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
