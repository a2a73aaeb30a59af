"""Turn table records into validated :class:`PreferencePair` objects, reporting every bad row.

Rules (each breach is a :class:`RowIssue` naming the row and field; all are raised together):

* ``path_A``, ``path_B``, ``prompt``: present, text, not blank. A and B differ. A path
  holds no NUL; a prompt no control character other than tab, newline and carriage return.
* labels: exactly "A", "B" or "same"; typed formats (JSONL, Parquet) may also use 1, -1, 0.
* ``fps_*``: a finite number > 0; ``num_frames_*``: an integer >= 1; both optional.
* ``MOS_<A|B>_<dim>``: a finite number, optional.
* a row repeating an earlier one (same prompt, same unordered pair of videos) is kept: it
  is not malformed (two people may judge the same pair), but it is reported as a
  :class:`PairDataWarning`, or with ``strict`` as an error.
* with ``check_files``, both videos exist as files.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Sequence
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
    REQUIRED,
    is_reserved,
    parse_mos_column,
)
from vidalign.data.errors import PairDataError, PairDataWarning, RowIssue, file_error
from vidalign.data.pair import LABEL_TO_INT, OVERALL, PreferencePair
from vidalign.data.tables import Record, Table

_LABEL_HINT = 'expected "A", "B" or "same"'


class _Bad(Exception):
    """A single field's value is invalid; the message says why."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected text, got {type(value).__name__} {value!r:.60}")
    if not value.strip():
        raise _Bad("is blank")
    return value


# Unicode category Cc (C0 and C1 controls, DEL) except tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _prompt(value: Any) -> str:
    text = _text(value)
    if (m := _CONTROL.search(text)) is not None:
        raise _Bad(f"control character U+{ord(m.group()):04X} at position {m.start()}")
    return text


def _path(value: Any) -> str:
    text = _text(value)
    if (i := text.find("\x00")) >= 0:
        raise _Bad(f"NUL byte at position {i}; no file name holds one")
    return text


def _label(value: Any) -> int:
    if isinstance(value, str):
        if value in LABEL_TO_INT:
            return LABEL_TO_INT[value]
        raise _Bad(f"{value!r:.40} is not a label; {_LABEL_HINT}")
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, -1, 0):
        return value
    raise _Bad(f"{value!r:.40} is not a label; {_LABEL_HINT} (or 1 / -1 / 0)")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise _Bad(f"expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _Bad(f"expected a number, got {value!r:.40}") from None
    if not isinstance(value, int | float):
        raise _Bad(f"expected a number, got {type(value).__name__} {value!r:.40}")
    value = float(value)
    if not math.isfinite(value):
        raise _Bad(f"expected a finite number, got {value}")
    return value


def _fps(value: Any) -> float:
    fps = _number(value)
    if fps <= 0:
        raise _Bad(f"frame rate must be > 0, got {fps}")
    return fps


def _count(value: Any) -> int:
    n = _number(value)
    if not n.is_integer() or n < 1:
        raise _Bad(f"expected an integer >= 1, got {value!r:.40}")
    return int(n)


class _RowReader:
    """Reads one record's fields, collecting a :class:`RowIssue` for each bad one."""

    def __init__(self, file: str, rec: Record) -> None:
        self.file, self.rec = file, rec
        self.issues: list[RowIssue] = []

    def add(self, field: str | None, reason: str) -> None:
        self.issues.append(RowIssue(self.file, self.rec.row, self.rec.line, field, reason))

    def get(self, col: str, convert: Callable[[Any], Any], *, required: bool) -> Any:
        """``convert(value)`` of column ``col``; None (and an issue) when missing or bad."""
        if col not in self.rec.values:
            if required:
                self.add(col, "is missing")
            return None
        try:
            return convert(self.rec.values[col])
        except _Bad as bad:
            self.add(col, str(bad))
            return None


def _is_label_token(value: Any) -> bool:
    return isinstance(value, str) and value in LABEL_TO_INT


def infer_dims(table: Table) -> list[str]:
    """Label dimensions of a table: VQ, MQ, TA when present, then other label-like columns.

    A column other than the default dimensions counts as a label dimension when it has
    a fixed meaning in neither the format nor ``meta`` (``A_model``, ``B_model``) and
    more than half of its non-empty values are "A", "B" or "same". So a stray bad
    value in such a column is reported, while a text column is kept in ``meta``.
    ``Overall`` is never a dimension: it is read into ``labels["Overall"]`` on its own.
    """
    dims = [d for d in DEFAULT_DIMS if d in table.columns]
    for col in table.columns:
        if col in dims or is_reserved(col) or col in ("A_model", "B_model"):
            continue
        values = [r.values[col] for r in table.records if col in r.values]
        if values and 2 * sum(map(_is_label_token, values)) > len(values):
            dims.append(col)
    return dims


def _resolve(path: str, root: str) -> str:
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(root, path))


def parse_table(
    table: Table,
    dims: Sequence[str],
    *,
    root: str | Path,
    check_files: bool = False,
    strict: bool = False,
) -> list[PreferencePair]:
    """Validate every record of ``table`` and build the pairs.

    Args:
        table: rows read from a pair file.
        dims: label columns to read into ``labels`` (each must be a column).
        root: folder that relative video paths are resolved against (made absolute).
        check_files: also check that every video exists as a file.
        strict: treat what is otherwise a warning (a repeated row) as an error.

    Returns:
        One pair per record, in file order (repeated rows included).

    Raises:
        PairDataError: listing every problem of every row.

    Warns:
        PairDataWarning: some rows repeat earlier ones (not with ``strict``, which raises).
    """
    dims = list(dims)
    if table.issues and not table.records:  # JSONL columns come from rows that could be read
        raise PairDataError(table.issues)
    missing_cols = [c for c in (*REQUIRED, *dims) if c not in table.columns]
    if missing_cols:
        raise file_error(
            table.file, f"missing column(s) {missing_cols}; columns present: {table.columns}"
        )
    bad_dims = [d for d in dims if is_reserved(d) and d != OVERALL]
    if bad_dims:
        raise file_error(table.file, f"{bad_dims} are not label columns")
    label_cols = [*dims, OVERALL] if OVERALL in table.columns and OVERALL not in dims else dims
    if not label_cols:
        raise file_error(
            table.file,
            f"no label columns found (looked for {list(DEFAULT_DIMS)}, {OVERALL!r} and "
            f"other columns of A/B/same); columns present: {table.columns}",
        )
    root = os.path.abspath(root)
    issues = list(table.issues)
    pairs: list[PreferencePair] = []
    first_seen: dict[tuple[str, frozenset[str]], int] = {}
    repeats: dict[int, list[Record]] = {}  # first row -> the later rows that repeat it
    file_ok: dict[str, bool] = {}

    for rec in table.records:
        reader = _RowReader(table.file, rec)
        get = reader.get
        path_a = get(PATH_A, _path, required=True)
        path_b = get(PATH_B, _path, required=True)
        prompt = get(PROMPT, _prompt, required=True)
        labels = {d: get(d, _label, required=True) for d in label_cols}
        fps_a = get(FPS_A, _fps, required=False)
        fps_b = get(FPS_B, _fps, required=False)
        nf_a = get(NUM_FRAMES_A, _count, required=False)
        nf_b = get(NUM_FRAMES_B, _count, required=False)
        mos: dict[str, dict[str, float]] = {"A": {}, "B": {}}
        meta: dict[str, str] = {}
        for col, value in rec.values.items():
            side_dim = parse_mos_column(col)
            if side_dim is not None:
                score = get(col, _number, required=False)
                if score is not None:
                    mos[side_dim[0]][side_dim[1]] = score
            elif not is_reserved(col) and col not in label_cols:
                if isinstance(value, dict | list):
                    reader.add(col, "meta values must be scalars (text or numbers)")
                elif value != "":
                    meta[col] = value if isinstance(value, str) else json_scalar(value)

        if path_a is not None and path_b is not None:
            path_a, path_b = _resolve(path_a, root), _resolve(path_b, root)
            key = (prompt, frozenset((path_a, path_b)))
            if path_a == path_b:
                reader.add(PATH_B, f"is the same video as path_A ({path_a})")
            elif prompt is not None and key in first_seen:
                repeats.setdefault(first_seen[key], []).append(rec)
            elif prompt is not None:
                first_seen[key] = rec.row
            for col, p in ((PATH_A, path_a), (PATH_B, path_b)) if check_files else ():
                if p not in file_ok:
                    file_ok[p] = os.path.isfile(p)
                if not file_ok[p]:
                    reader.add(col, f"video file not found: {p}")
        if reader.issues:
            issues.extend(reader.issues)
            continue
        pairs.append(
            PreferencePair(
                prompt=prompt,
                path_a=path_a,
                path_b=path_b,
                labels=labels,
                fps_a=fps_a,
                fps_b=fps_b,
                num_frames_a=nf_a,
                num_frames_b=nf_b,
                mos_a=mos["A"],
                mos_b=mos["B"],
                meta=meta,
            )
        )
    for first, later in repeats.items() if strict else ():
        why = f"duplicate of row {first} (same prompt and videos)"
        issues += [RowIssue(table.file, r.row, r.line, None, why) for r in later]
    if issues:
        raise PairDataError(sorted(issues, key=lambda i: (i.row or 0, i.line or 0)))
    if repeats:
        warnings.warn(PairDataWarning(_repeats_message(table.file, repeats)), stacklevel=3)
    return pairs


def _repeats_message(file: str, repeats: dict[int, list[Record]], shown: int = 10) -> str:
    """One line: how many rows repeat earlier ones, and which (the first ``shown`` groups)."""
    n = sum(len(later) for later in repeats.values())
    groups = [
        f"row {first} again in row(s) {', '.join(str(r.row) for r in later)}"
        for first, later in list(repeats.items())[:shown]
    ]
    if len(repeats) > shown:
        groups.append(f"and {len(repeats) - shown} more")
    return (
        f"{file}: {n} row(s) repeat {len(repeats)} earlier one(s) (same prompt and videos), "
        f"kept as given: " + "; ".join(groups)
    )


def json_scalar(value: Any) -> str:
    """Text form of a non-text scalar kept in ``meta`` (numbers as Python writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
