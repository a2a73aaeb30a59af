"""Evaluation prompt sets read from disk.

``read_prompt_set(path)`` reads, by file extension:

* ``.txt`` (or any other extension): one prompt per non-blank line, as VBench's
  ``prompts/all_dimension.txt`` and the synthetic dataset's ``prompts/general.txt`` /
  ``prompts/hard.txt``. Lines are stripped.
* ``.jsonl``: one JSON object per line with a prompt field.
* ``.json``: a list of objects with a prompt field (VBench's ``VBench_full_info.json``:
  ``{"prompt_en": ..., "dimension": [...]}``), or a plain list of strings.
* ``.csv``: a header row with a prompt column (VideoGen-Eval and TA-Hard prompt sheets
  exported to CSV; VideoGen-Eval distributes its prompts as ``.xlsx`` with an id and a
  text column, so export or rename that column).

The prompt field is the first of ``PROMPT_FIELDS`` present: ``prompt``, ``Prompt``,
``prompt_en`` (VBench), ``caption``. With ``dimension=...`` only records whose
``dimension`` field (a name or a list of names, as in VBench's info file) holds that name
are kept. Every error names the file and the line or row.

The synthetic world's analogues of VideoGen-Eval and TA-Hard are
``vidalign.synth.prompts.prompt_set``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from vidalign.eval.scorer import EvalError

PROMPT_FIELDS: tuple[str, ...] = ("prompt", "Prompt", "prompt_en", "caption")
DIMENSION_FIELD = "dimension"


class PromptSetError(EvalError):
    """A prompt file that cannot be read; the message names the file and line or row."""


def _prompt_of(record: Any, where: str) -> str:
    if not isinstance(record, dict):
        raise PromptSetError(f"{where}: expected an object with a prompt field, got {record!r}")
    for name in PROMPT_FIELDS:
        if name in record:
            value = record[name]
            if not isinstance(value, str) or not value.strip():
                raise PromptSetError(
                    f"{where}: field {name!r} must be non-empty text, got {value!r}"
                )
            return value.strip()
    raise PromptSetError(
        f"{where}: no prompt field; expected one of {list(PROMPT_FIELDS)}, got {sorted(record)}"
    )


def _has_dimension(record: dict, dimension: str, where: str) -> bool:
    value = record.get(DIMENSION_FIELD)
    if value is None:
        raise PromptSetError(f"{where}: no {DIMENSION_FIELD!r} field to filter on")
    if isinstance(value, str):
        return value == dimension
    if isinstance(value, list):
        return dimension in value
    raise PromptSetError(f"{where}: {DIMENSION_FIELD!r} must be a name or a list, got {value!r}")


def _records(path: Path) -> list[tuple[str, Any]]:
    """(location, record) pairs of a structured file; plain text gives strings."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".jsonl":
        out = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append((f"{path}:{n}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise PromptSetError(f"{path}:{n}: not JSON ({err.msg})") from None
        return out
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise PromptSetError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
        if not isinstance(data, list):
            raise PromptSetError(f"{path}: expected a JSON list of prompts or prompt objects")
        return [(f"{path}: item {i}", r) for i, r in enumerate(data)]
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        columns = reader.fieldnames or []
        if not any(c in columns for c in PROMPT_FIELDS):
            raise PromptSetError(
                f"{path}: no prompt column; expected one of {list(PROMPT_FIELDS)}, got {columns}"
            )
        return [(f"{path}: row {i}", dict(r)) for i, r in enumerate(reader, start=2)]
    return [
        (f"{path}:{n}", line.strip())
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def read_prompt_set(path: str | Path, *, dimension: str | None = None) -> list[str]:
    """Prompts of a .txt / .jsonl / .json / .csv file (module docstring), in file order.

    Args:
        path: the prompt file.
        dimension: keep only records whose ``dimension`` field names it (structured files).

    Raises:
        PromptSetError: missing file, malformed line or row, a record without a prompt,
            an empty prompt, or no prompts at all.
    """
    path = Path(path)
    if not path.is_file():
        raise PromptSetError(f"{path}: prompt file not found")
    prompts = []
    for where, record in _records(path):
        if isinstance(record, str):  # a plain-text line, or a JSON list of strings
            if not record.strip():
                raise PromptSetError(f"{where}: empty prompt")
            if dimension is not None:
                raise PromptSetError(f"{path}: plain prompts carry no {DIMENSION_FIELD!r} field")
            prompts.append(record.strip())
            continue
        if dimension is not None:
            if not isinstance(record, dict):
                raise PromptSetError(f"{where}: expected an object, got {record!r}")
            if not _has_dimension(record, dimension, where):
                continue
        prompts.append(_prompt_of(record, where))
    if not prompts:
        which = f" for dimension {dimension!r}" if dimension is not None else ""
        raise PromptSetError(f"{path}: no prompts{which}")
    return prompts
