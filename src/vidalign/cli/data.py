"""``vidalign data``: check and convert preference-pair files.

* ``vidalign data check FILE [--dims VQ,MQ,TA] [--video-root DIR] [--check-files]
  [--decode [--workers N]] [--strict] [--json]`` validates every row (exit 2 with the full
  list of problems), prints warnings (rows that repeat an earlier row; ``--strict`` makes
  them errors) on stderr, and prints pair counts, label rates per dimension with the tie
  rate, and per-model counts. ``--check-files`` checks that every video exists;
  ``--decode`` decodes every one of them (in parallel, with a progress bar) and reports
  each that does not decode, at every row and field that uses it.
* ``vidalign data convert IN OUT [--dims ...] [--video-root DIR] [--absolute]`` rewrites a
  pair file in another format (by suffix); video paths under OUT's folder become relative.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vidalign.data import (
    PairDataError,
    PairDataWarning,
    check_decodable,
    load_pairs,
    pair_stats,
    save_pairs,
)
from vidalign.data.decodable import default_workers


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _dims(text: str | None) -> list[str] | None:
    return None if text is None else [d.strip() for d in text.split(",") if d.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="check and convert preference-pair files")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="validate a pair file and print its statistics")
    check.add_argument("file", help="pair file: .csv, .jsonl or .parquet")
    check.add_argument("--dims", help="label columns, comma-separated (default: inferred)")
    check.add_argument("--video-root", help="folder for relative video paths (default: the file's)")
    check.add_argument("--check-files", action="store_true", help="check that every video exists")
    check.add_argument(
        "--decode",
        action="store_true",
        help="decode every video (all frames) and report each that fails; run it before long "
        "training runs",
    )
    check.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help=f"decoding threads of --decode (default: the CPUs, at most 8: {default_workers()})",
    )
    check.add_argument("--no-progress", dest="progress", action="store_false", help="hide the bar")
    check.add_argument(
        "--strict", action="store_true", help="treat warnings (repeated rows) as errors"
    )
    check.add_argument("--json", action="store_true", help="print the statistics as JSON")
    check.set_defaults(func=run_check)

    convert = sub.add_parser("convert", help="rewrite a pair file in another format")
    convert.add_argument("input", help="pair file to read")
    convert.add_argument("output", help="pair file to write; its suffix picks the format")
    convert.add_argument("--dims", help="label columns, comma-separated (default: inferred)")
    convert.add_argument("--video-root", help="folder for relative video paths of the input")
    convert.add_argument(
        "--absolute", action="store_true", help="write absolute video paths (default: relative)"
    )
    convert.set_defaults(func=run_convert)


def run_check(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PairDataWarning)
        pairs = load_pairs(
            args.file,
            dims=_dims(args.dims),
            video_root=args.video_root,
            check_files=args.check_files and not args.decode,  # decoding finds missing files too
            strict=args.strict,
        )
    notes = []
    for w in caught:
        if issubclass(w.category, PairDataWarning):
            notes.append(str(w.message))
            print(f"vidalign: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if args.decode:
        issues = check_decodable(
            pairs, file=args.file, workers=args.workers, progress=args.progress
        )
        if issues:
            raise PairDataError(issues)
    checked = args.check_files or args.decode
    stats = pair_stats(pairs) | {
        "files_checked": checked,
        "videos_decoded": args.decode,
        "warnings": notes,
    }
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    console = Console()
    files = (
        "every video decodes"
        if args.decode
        else "all files present"
        if args.check_files
        else "video files not checked: --check-files, or --decode"
    )
    console.print(
        f"[bold]{args.file}[/bold]: {stats['pairs']} pairs, {stats['prompts']} prompts, "
        f"{stats['videos']} videos ({files})",
        soft_wrap=True,
    )
    labels = Table(title="Labels")
    for name in ("dimension", "A", "B", "same", "tie rate"):
        labels.add_column(name, justify="left" if name == "dimension" else "right")
    for dim, c in stats["labels"].items():
        total = max(c["total"], 1)
        labels.add_row(
            dim,
            f"{c['A']} ({c['A'] / total:.1%})",
            f"{c['B']} ({c['B'] / total:.1%})",
            f"{c['same']}",
            f"{c['tie_rate']:.1%}",
        )
    console.print(labels)
    if "models" in stats:
        models = Table(title="Models")
        for name in ("model", "pairs", "as A", "as B"):
            models.add_column(name, justify="left" if name == "model" else "right")
        for model, c in stats["models"].items():
            models.add_row(model, str(c["pairs"]), str(c["as_A"]), str(c["as_B"]))
        console.print(models)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    pairs = load_pairs(args.input, dims=_dims(args.dims), video_root=args.video_root)
    out = Path(args.output)
    relative_to = None if args.absolute else out.parent
    save_pairs(pairs, out, dims=_dims(args.dims), relative_to=relative_to)
    print(f"wrote {len(pairs)} pairs to {out}")
    return 0
