"""``load_pairs``: read a VideoAlign-format pair file (CSV, JSONL or Parquet) into pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vidalign.data.errors import file_error
from vidalign.data.pair import PreferencePair
from vidalign.data.parse import infer_dims, parse_table
from vidalign.data.tables import read_table


def load_pairs(
    path: str | Path,
    dims: Sequence[str] | None = None,
    video_root: str | Path | None = None,
    check_files: bool = False,
    strict: bool = False,
) -> list[PreferencePair]:
    """Read and validate a pair file; the format follows the suffix (.csv, .jsonl, .parquet).

    Args:
        path: the pair file.
        dims: label columns to read. None: VQ, MQ, TA when present, then any other
            column whose values are mostly A / B / same (see ``infer_dims``). Listed
            dimensions must all be columns. An ``Overall`` column is always read, into
            ``labels["Overall"]``.
        video_root: folder that relative video paths are resolved against; default:
            the pair file's folder. Resolved paths are absolute.
        check_files: also check that every video exists.
        strict: refuse what is otherwise a warning: rows that repeat an earlier row.

    Returns:
        The pairs in file order.

    Raises:
        PairDataError: the file cannot be read, has no pairs, or any row is invalid; the
            error lists every problem (file, row, line, field, reason) at once.

    Warns:
        PairDataWarning: rows that repeat an earlier one (same prompt and videos); they
            are kept, so the pairs are the file as given.
    """
    table = read_table(path)
    chosen = infer_dims(table) if dims is None else list(dims)
    root = Path(video_root) if video_root is not None else Path(path).parent
    pairs = parse_table(table, chosen, root=root, check_files=check_files, strict=strict)
    if not pairs:
        raise file_error(table.file, "no pairs: the file has no data rows")
    return pairs
