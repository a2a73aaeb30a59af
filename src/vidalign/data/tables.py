"""Read and write pair files as plain tables of records: CSV, JSONL or Parquet, by suffix.

This layer knows file formats, not pairs. A record is a mapping column → value: text for
CSV (an empty cell is missing), JSON values for JSONL (a missing key or null is missing),
Arrow values for Parquet (null is missing).

JSONL schema: one JSON object per line whose keys are the CSV column names
(``{"path_A": "a.mp4", "path_B": "b.mp4", "prompt": "...", "VQ": "A", "MQ": "same",
"TA": -1, "fps_A": 8.0, "MOS_A_VQ": 3.5, "A_model": "m1"}``). Labels may be "A" / "B" /
"same" or the integers 1 / -1 / 0. Blank lines are skipped; a key given twice in one object
is an error (JSON parsers keep the last one silently).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from vidalign.atomic import atomic_file
from vidalign.data.errors import PairDataError, RowIssue, file_error

Format = Literal["csv", "jsonl", "parquet"]
ColumnType = Literal["str", "float", "int"]
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class Record:
    """One data row: ``values`` by column, its 1-based ``row`` and, in text files, its ``line``."""

    values: dict[str, Any]
    row: int
    line: int | None = None


@dataclass
class Table:
    """The rows of a pair file, before any meaning is given to them.

    Attributes:
        file: the path, as text, for messages.
        columns: column names in file order (JSONL: in order of first appearance).
        records: the rows.
        issues: rows that could not even be read (bad JSON, a ragged CSV row).
    """

    file: str
    columns: list[str]
    records: list[Record]
    issues: list[RowIssue] = field(default_factory=list)


def table_format(path: str | Path) -> Format:
    """The format named by the suffix of ``path``."""
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise file_error(
            str(path), f"unknown pair file type; expected a suffix among {sorted(_SUFFIXES)}"
        )
    return fmt


def read_table(path: str | Path) -> Table:
    """Read every row of a pair file.

    Raises:
        PairDataError: the file is missing, unreadable, or has no header.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise file_error(str(path), "pair file not found")
    try:
        if fmt == "csv":
            return _read_csv(path)
        if fmt == "jsonl":
            return _read_jsonl(path)
        return _read_parquet(path)
    except UnicodeDecodeError as err:
        raise file_error(str(path), f"not UTF-8 text ({err})") from None


def _csv_reason(err: csv.Error, start: int) -> str:
    """What a ``csv.Error`` means, for a row that starts at line ``start``."""
    if "unexpected end of data" in str(err):  # end of file inside a quoted field
        return (
            f"unterminated quote: a quoted field opened in this row (from line {start}) is "
            "never closed, so every line after it was read into this row"
        )
    return f"malformed CSV ({err})"


def _read_csv(path: Path) -> Table:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, strict=True)  # strict: no silent repair of stray quotes
        try:
            header = next(reader)
        except StopIteration:
            raise file_error(str(path), "empty file; expected a header row") from None
        except csv.Error as err:
            raise file_error(str(path), f"header: {_csv_reason(err, 1)}") from None
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise file_error(str(path), f"repeated column name(s) {dupes}")
        table = Table(str(path), list(header), [])
        row = 0
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                row += 1
                table.issues.append(RowIssue(str(path), row, start, None, _csv_reason(err, start)))
                continue
            if not cells:
                continue
            row += 1
            if len(cells) != len(header):
                table.issues.append(
                    RowIssue(
                        str(path),
                        row,
                        reader.line_num,
                        None,
                        f"has {len(cells)} fields but the header has {len(header)}",
                    )
                )
                continue
            values = {c: v for c, v in zip(header, cells) if v != ""}
            table.records.append(Record(values, row, reader.line_num))
    return table


class _RepeatedKeys(Exception):
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key given twice (json keeps the last silently)."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        counts = Counter(k for k, _ in pairs)
        raise _RepeatedKeys([k for k, n in counts.items() if n > 1])
    return obj


def _read_jsonl(path: Path) -> Table:
    table = Table(str(path), [], [])
    seen: dict[str, None] = {}
    row = 0
    with path.open(encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            row += 1
            try:
                obj = json.loads(line, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as err:
                table.issues.append(
                    RowIssue(str(path), row, line_no, None, f"invalid JSON ({err})")
                )
                continue
            except _RepeatedKeys as err:
                table.issues += [
                    RowIssue(str(path), row, line_no, k, "key given more than once in the object")
                    for k in err.keys
                ]
                continue
            if not isinstance(obj, dict):
                table.issues.append(
                    RowIssue(
                        str(path), row, line_no, None, f"expected a JSON object, got {obj!r:.60}"
                    )
                )
                continue
            for key in obj:
                seen.setdefault(key, None)
            values = {k: v for k, v in obj.items() if v is not None}
            table.records.append(Record(values, row, line_no))
    if row == 0:
        raise file_error(str(path), "empty file; expected one JSON object per line")
    table.columns = list(seen)
    return table


def _read_parquet(path: Path) -> Table:
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise file_error(str(path), f"not a readable Parquet file ({err})") from None
    table = Table(str(path), list(arrow.column_names), [])
    for row, values in enumerate(arrow.to_pylist(), start=1):
        table.records.append(Record({k: v for k, v in values.items() if v is not None}, row))
    return table


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_table(
    path: str | Path,
    columns: list[str],
    rows: list[dict[str, Any]],
    types: dict[str, ColumnType],
) -> Path:
    """Write rows (column → value, None or absent = missing) atomically, format by suffix.

    Args:
        path: output file (.csv, .jsonl, .parquet).
        columns: column order.
        rows: the records.
        types: the Arrow type of each column for Parquet (text when absent).

    Returns:
        The written path.
    """
    path = Path(path)
    fmt = table_format(path)
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise PairDataError([RowIssue(str(path), None, None, key, f"cannot write {value}")])
    with atomic_file(path) as tmp:
        if fmt == "csv":
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_csv_cell(row.get(c)) for c in columns])
        elif fmt == "jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows:
                    obj = {c: row[c] for c in columns if row.get(c) is not None}
                    fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            arrow_types = {"str": pa.string(), "float": pa.float64(), "int": pa.int64()}
            schema = pa.schema([(c, arrow_types[types.get(c, "str")]) for c in columns])
            data = {c: [row.get(c) for row in rows] for c in columns}
            pq.write_table(pa.table(data, schema=schema), tmp)
    return path
