"""Sample sets on disk, as ``vidalign sample`` writes them, and matching two of them.

A sample set is a folder holding ``index.jsonl`` with one line per sample,
``{"prompt": str, "seed": int, "path": str, ...}`` (path relative to the folder, or
absolute), beside the mp4 files (``vidalign.policy.sampling.sample_to_folder``).
Two sets are compared sample by sample, matched on (prompt, seed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vidalign.eval.scorer import EvalError

INDEX_FILE = "index.jsonl"


@dataclass(frozen=True)
class Sample:
    """One sample of a set: its prompt, seed and absolute video path."""

    prompt: str
    seed: int
    path: str


def read_sample_set(folder: str | Path, *, check_files: bool = True) -> list[Sample]:
    """Read ``folder/index.jsonl``.

    Raises:
        EvalError: no index, a malformed line (named by line number), a duplicated
            (prompt, seed), or (with ``check_files``) a missing video.
    """
    folder = Path(folder)
    index = folder / INDEX_FILE
    if not index.is_file():
        raise EvalError(
            f"{folder}: not a sample set (no {INDEX_FILE}; write one with `vidalign sample`)"
        )
    samples: list[Sample] = []
    seen: dict[tuple[str, int], int] = {}
    for n, line in enumerate(index.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise EvalError(f"{index}:{n}: not JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise EvalError(f"{index}:{n}: expected an object with prompt, seed, path")
        prompt, seed, path = row.get("prompt"), row.get("seed"), row.get("path")
        if not isinstance(prompt, str) or not prompt.strip():
            raise EvalError(f"{index}:{n}: 'prompt' must be non-empty text, got {prompt!r}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise EvalError(f"{index}:{n}: 'seed' must be an integer, got {seed!r}")
        if not isinstance(path, str) or not path:
            raise EvalError(f"{index}:{n}: 'path' must be a file path, got {path!r}")
        video = Path(path) if Path(path).is_absolute() else folder / path
        if check_files and not video.is_file():
            raise EvalError(f"{index}:{n}: video {video} not found")
        key = (prompt, seed)
        if key in seen:
            raise EvalError(
                f"{index}:{n}: prompt {prompt!r} with seed {seed} repeats line {seen[key]}"
            )
        seen[key] = n
        samples.append(Sample(prompt, seed, str(video.resolve())))
    if not samples:
        raise EvalError(f"{index}: no samples")
    return samples


def match_sample_sets(
    base: list[Sample], cand: list[Sample], *, names: tuple[str, str] = ("base", "candidate")
) -> list[tuple[Sample, Sample]]:
    """Pair each base sample with the candidate sample of the same (prompt, seed).

    The sets must hold exactly the same (prompt, seed) keys; otherwise the error lists
    (up to ten of) the keys that each side lacks.
    """
    by_key = {(s.prompt, s.seed): s for s in cand}
    base_keys = {(s.prompt, s.seed) for s in base}
    only_base = [k for k in ((s.prompt, s.seed) for s in base) if k not in by_key]
    only_cand = [k for k in ((s.prompt, s.seed) for s in cand) if k not in base_keys]
    if only_base or only_cand:
        parts = []
        for side, keys in ((names[1], only_base), (names[0], only_cand)):
            if keys:
                shown = "; ".join(f"{p!r} seed {s}" for p, s in keys[:10])
                more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
                parts.append(f"{len(keys)} missing from the {side} set: {shown}{more}")
        raise EvalError(
            "the sample sets do not match (sample both from the same prompts and seeds): "
            + " | ".join(parts)
        )
    return [(s, by_key[(s.prompt, s.seed)]) for s in base]
