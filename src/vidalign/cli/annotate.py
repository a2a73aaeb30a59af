"""``vidalign annotate``: the human preference annotation server and its admin commands.

    vidalign annotate serve --db annotations.db --videos-root videos/ [--host 127.0.0.1] [--port 8000]
                            [--max-body-bytes 1048576] [--max-batch-bytes 33554432]
    vidalign annotate import pairs.csv --batch round1 [--k 3] [--repeat-rate 0.05] [--swap-rate 0.05]
    vidalign annotate add-annotator alice          # prints alice's token
    vidalign annotate rotate-admin-token           # prints a new admin token
    vidalign annotate stats [--batch round1] [--json]
    vidalign annotate export --out labels.csv [--batch round1] [--min-votes 1]

``--db`` is a file path (SQLite) or a URL (``postgresql://...``); default
``$VIDALIGN_ANNOTATE_DB`` or ``annotations.db``. The first command that touches a new database
creates it and prints the admin token once (it is stored only as a hash); the
``VIDALIGN_ADMIN_TOKEN`` environment variable, when set, replaces it for the server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from vidalign import DEFAULT_DIMS
from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.limits import MAX_BATCH_BYTES, MAX_BODY_BYTES
from vidalign.errors import VidalignError

DB_ENV = "VIDALIGN_ANNOTATE_DB"


def _open(args: argparse.Namespace):
    from vidalign.annotate.db import ADMIN_TOKEN_ENV, open_database

    db, admin_token = open_database(args.db)
    if admin_token is not None:
        print(f"created annotation database {db.url}", file=sys.stderr)
        print(f"admin token (shown once, stored only as a hash): {admin_token}", file=sys.stderr)
        if os.environ.get(ADMIN_TOKEN_ENV):
            print(f"note: {ADMIN_TOKEN_ENV} is set and takes its place", file=sys.stderr)
    return db


def _videos_root(db, given: str | None) -> Path:
    """``--videos-root``, remembered in the database; else the remembered one."""
    from vidalign.annotate.schema import Meta

    if given is not None:
        root = Path(given).resolve()
        if not root.is_dir():
            raise AnnotateError(f"--videos-root {given}: not a folder")
        with db.write() as s:
            s.merge(Meta(key="videos_root", value=str(root)))
        return root
    with db.read() as s:
        stored = s.get(Meta, "videos_root")
    if stored is None:
        raise AnnotateError("--videos-root is needed (this database has none remembered yet)")
    return Path(stored.value)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vidalign.annotate.app import create_app

    db = _open(args)
    root = _videos_root(db, args.videos_root)
    app = create_app(
        db, root, max_body_bytes=args.max_body_bytes, max_batch_bytes=args.max_batch_bytes
    )
    print(
        f"serving {root} on http://{args.host}:{args.port}/ (annotators: /login)", file=sys.stderr
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, workers=1)
    return 0


def _import(args: argparse.Namespace) -> int:
    from vidalign.annotate.batches import BatchSettings, import_batch, read_pairs_to_annotate

    db = _open(args)
    root = _videos_root(db, args.videos_root)
    pairs = read_pairs_to_annotate(args.pairs_file, root)
    settings = BatchSettings(
        dims=tuple(d.strip() for d in args.dims.split(",")),
        k=args.k,
        repeat_rate=args.repeat_rate,
        swap_rate=args.swap_rate,
        control_gap=args.control_gap,
        seed=args.seed,
    )
    batch_id = import_batch(
        db, args.batch, pairs, videos_root=root, settings=settings, source=str(args.pairs_file)
    )
    print(f"imported {len(pairs)} pairs as batch {args.batch!r} (id {batch_id})", file=sys.stderr)
    return 0


def _add_annotator(args: argparse.Namespace) -> int:
    from vidalign.annotate.annotators import add_annotator

    db = _open(args)
    _, token = add_annotator(db, args.name)
    print(token)
    return 0


def _rotate(args: argparse.Namespace) -> int:
    db = _open(args)
    print(db.rotate_admin_token())
    return 0


def _stats(args: argparse.Namespace) -> int:
    from vidalign.annotate.stats import compute_stats, format_stats

    st = compute_stats(_open(args), args.batch)
    print(json.dumps(st.to_dict(), indent=2) if args.json else format_stats(st))
    return 0


def _export(args: argparse.Namespace) -> int:
    from vidalign.annotate.export import export_pairs

    db = _open(args)
    root = _videos_root(db, args.videos_root)
    summary = export_pairs(
        db, args.out, batch=args.batch, videos_root=root, min_votes=args.min_votes
    )
    print(
        f"wrote {summary.exported} of {summary.pairs} pairs to {args.out} "
        f"({summary.too_few_votes} with fewer than {args.min_votes} judgments left out)",
        file=sys.stderr,
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vidalign annotate`` and its subcommands."""
    parser = subparsers.add_parser(
        "annotate", help="human preference annotation: server, import, stats, export"
    )
    sub = parser.add_subparsers(dest="annotate_command", metavar="COMMAND", required=True)
    db_help = f"database file or URL (default: ${DB_ENV} or annotations.db)"
    db_default = os.environ.get(DB_ENV, "annotations.db")
    root_help = "folder holding every video; remembered in the database"

    p = sub.add_parser("serve", help="run the annotation web server")
    p.add_argument("--db", default=db_default, help=db_help)
    p.add_argument("--videos-root", required=True, help=root_help)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--log-level", default="info", choices=["warning", "info", "debug"])
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=MAX_BODY_BYTES,
        help=f"largest request body accepted, 413 above it (default {MAX_BODY_BYTES})",
    )
    p.add_argument(
        "--max-batch-bytes",
        type=int,
        default=MAX_BATCH_BYTES,
        help=f"largest body of an admin batch import (default {MAX_BATCH_BYTES})",
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser("import", help="import a pair file (CSV / JSONL / Parquet) as a batch")
    p.add_argument("pairs_file", help="pair file; labels in it are ignored")
    p.add_argument("--batch", required=True, help="unique batch name")
    p.add_argument("--db", default=db_default, help=db_help)
    p.add_argument("--videos-root", default=None, help=root_help)
    p.add_argument("--dims", default=",".join(DEFAULT_DIMS), help="dimensions to judge")
    p.add_argument("--k", type=int, default=3, help="distinct annotators per pair (default 3)")
    p.add_argument("--repeat-rate", type=float, default=0.0, help="share of items repeated")
    p.add_argument("--swap-rate", type=float, default=0.0, help="share repeated left/right swapped")
    p.add_argument("--control-gap", type=int, default=5, help="answers before a control is due")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_import)

    p = sub.add_parser("add-annotator", help="create an annotator and print their token")
    p.add_argument("name")
    p.add_argument("--db", default=db_default, help=db_help)
    p.set_defaults(func=_add_annotator)

    p = sub.add_parser("rotate-admin-token", help="replace the admin token and print it")
    p.add_argument("--db", default=db_default, help=db_help)
    p.set_defaults(func=_rotate)

    p = sub.add_parser("stats", help="per-annotator counts and speed, ties, agreement, controls")
    p.add_argument("--db", default=db_default, help=db_help)
    p.add_argument("--batch", default=None, help="one batch (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_stats)

    p = sub.add_parser("export", help="write majority labels as a pair file for reward training")
    p.add_argument("--out", required=True, help="output .csv / .jsonl / .parquet")
    p.add_argument("--db", default=db_default, help=db_help)
    p.add_argument("--batch", default=None, help="one batch (default: all, same dimensions)")
    p.add_argument("--videos-root", default=None, help=root_help)
    p.add_argument("--min-votes", type=int, default=1, help="leave out pairs with fewer judgments")
    p.set_defaults(func=_export)


def main(argv: list[str] | None = None) -> int:
    """``python -m vidalign.cli.annotate COMMAND ...``: this group alone.

    Same commands as ``vidalign annotate``, without importing the other groups (and so
    torch): a lighter process for a long-running annotation server.
    """
    parser = argparse.ArgumentParser(prog="vidalign")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["annotate", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except VidalignError as err:
        print(f"vidalign: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
