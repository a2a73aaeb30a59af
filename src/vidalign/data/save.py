"""``save_pairs``: write pairs as CSV, JSONL or Parquet in the VideoAlign column layout."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidalign import DEFAULT_DIMS
from vidalign.data.columns import (
    FPS_A,
    FPS_B,
    NUM_FRAMES_A,
    NUM_FRAMES_B,
    PATH_A,
    PATH_B,
    PROMPT,
    is_reserved,
    mos_column,
)
from vidalign.data.errors import PairDataError, RowIssue
from vidalign.data.pair import INT_TO_LABEL, OVERALL, PreferencePair
from vidalign.data.parse import parse_table
from vidalign.data.tables import ColumnType, Record, Table, write_table

_MEMORY = "<pairs>"


def _ordered(names: list[str]) -> list[str]:
    """Default dimensions first, in their usual order, then the rest in first-seen order."""
    seen = list(dict.fromkeys(names))
    return [d for d in DEFAULT_DIMS if d in seen] + [d for d in seen if d not in DEFAULT_DIMS]


def save_pairs(
    pairs: Sequence[PreferencePair],
    path: str | Path,
    dims: Sequence[str] | None = None,
    *,
    relative_to: str | Path | None = None,
) -> Path:
    """Write pairs to ``path`` (format by suffix), so that ``load_pairs`` reads them back equal.

    Columns: ``path_A, path_B, prompt, <dims>, [Overall], fps_A, num_frames_A, fps_B,
    num_frames_B``, then ``MOS_A_<d>, MOS_B_<d>`` for each scored dimension, then the
    meta keys. Missing values are empty cells / absent keys / nulls. Empty meta values
    are treated as absent.

    Args:
        pairs: the pairs.
        path: output file (.csv, .jsonl, .parquet); written atomically.
        dims: label dimensions to write (default: every label in the pairs). Every pair
            must have a label for each, and either all pairs or none have ``Overall``.
        relative_to: write video paths under this folder relative to it (pass the
            output file's folder to make a movable dataset). None: paths verbatim.

    Returns:
        The written path.

    Raises:
        PairDataError: the pairs would not load back (a missing label, a bad value, a
            duplicate); every problem is listed.
    """
    path = Path(path)
    all_labels = [d for p in pairs for d in p.labels if d != OVERALL]
    dims = _ordered(all_labels) if dims is None else [d for d in dims if d != OVERALL]
    with_overall = [OVERALL in p.labels for p in pairs]
    issues: list[RowIssue] = []
    if any(with_overall) and not all(with_overall):
        lacking = [i + 1 for i, x in enumerate(with_overall) if not x]
        issues.append(
            RowIssue(
                _MEMORY,
                None,
                None,
                OVERALL,
                f"only some pairs have it; pairs without: {lacking[:10]}",
            )
        )
    label_cols = [*dims, OVERALL] if with_overall and all(with_overall) else dims
    mos_dims = _ordered([d for p in pairs for d in (*p.mos_a, *p.mos_b)])
    mos_cols = [mos_column(s, d) for d in mos_dims for s in ("A", "B")]
    meta_cols = list(dict.fromkeys(k for p in pairs for k in p.meta))
    clash = [k for k in meta_cols if is_reserved(k) or k in dims]
    if clash:
        issues.append(RowIssue(_MEMORY, None, None, None, f"meta keys {clash} clash with columns"))
    columns = [PATH_A, PATH_B, PROMPT, *label_cols, FPS_A, NUM_FRAMES_A, FPS_B, NUM_FRAMES_B]
    columns += mos_cols + meta_cols
    types: dict[str, ColumnType] = {FPS_A: "float", FPS_B: "float"}
    types |= {NUM_FRAMES_A: "int", NUM_FRAMES_B: "int"} | dict.fromkeys(mos_cols, "float")

    base = os.path.abspath(relative_to) if relative_to is not None else None
    rows: list[dict[str, Any]] = []
    for i, pair in enumerate(pairs, start=1):
        row: dict[str, Any] = {
            PATH_A: _relative(pair.path_a, base),
            PATH_B: _relative(pair.path_b, base),
            PROMPT: pair.prompt,
            FPS_A: pair.fps_a,
            FPS_B: pair.fps_b,
            NUM_FRAMES_A: pair.num_frames_a,
            NUM_FRAMES_B: pair.num_frames_b,
        }
        for d in label_cols:
            value = pair.labels.get(d)
            if value is None:
                issues.append(RowIssue(_MEMORY, i, None, d, "has no label"))
            elif isinstance(value, bool) or value not in INT_TO_LABEL:
                issues.append(RowIssue(_MEMORY, i, None, d, f"label {value!r} is not 1, -1 or 0"))
            else:
                row[d] = INT_TO_LABEL[value]
        for side, scores in (("A", pair.mos_a), ("B", pair.mos_b)):
            row |= {mos_column(side, d): s for d, s in scores.items()}
        row |= {k: v for k, v in pair.meta.items() if v != ""}
        rows.append(row)
    if issues:
        raise PairDataError(issues)

    # Check that the rows load back before writing anything.
    records = [
        Record({k: v for k, v in r.items() if v is not None}, i) for i, r in enumerate(rows, 1)
    ]
    parse_table(Table(_MEMORY, columns, records), dims, root=base or os.getcwd())
    return write_table(path, columns, rows, types)


def _relative(video: str, base: str | None) -> str:
    """``video`` relative to ``base`` when it lies under it; a relative ``video`` is read
    against the working directory, as the caller wrote it."""
    if base is None:
        return video
    rel = os.path.relpath(os.path.abspath(video), os.path.abspath(base))
    return video if rel.startswith(os.pardir) else rel
