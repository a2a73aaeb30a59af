"""Score each unique (video, prompt) once, into a JSONL cache that a killed run resumes.

Every line of the cache file is one scored video::

    {"path": "/abs/clip.mp4", "size": 51234, "mtime_ns": 1712..., "prompt": "...",
     "scorer": "random:v1:seed=0:dims=VQ,MQ,TA|normalize=True",
     "scores": {"VQ": 0.1, "MQ": -1.2, "TA": 0.4, "Overall": -0.7}}

An entry is reused only when path, size, modification time, prompt and scorer id all
match, so an edited video or a different model is scored again. Lines are appended and
flushed after each batch: a run killed at any point loses at most the batch in flight.
A later entry for the same key wins; a truncated last line is ignored.

A video that fails to score is an error naming it (never a stand-in number). With
``skip_errors=True`` it is recorded as :class:`Skipped` instead, and the caller drops the
pairs that use it (:func:`drop_skipped`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from vidalign.errors import VidalignError, reason
from vidalign.eval.scorer import EvalError, Scorer

ScoreKey = tuple[str, str]
"""(video path as written in the pair, prompt)."""


class ScoringError(EvalError):
    """A video could not be scored; the message names the video and the prompt."""


@dataclass(frozen=True)
class Skipped:
    """A (video, prompt) left out in skip mode, and why."""

    path: str
    prompt: str
    reason: str


@dataclass
class ScoreTable:
    """Scores of every (video, prompt) that could be scored.

    Attributes:
        scores: (path, prompt) → {dim: reward, ..., "Overall": reward}.
        skipped: what skip mode left out (empty unless ``skip_errors``).
        n_cached: entries read back from the cache.
        n_scored: entries scored in this run.
    """

    scores: dict[ScoreKey, dict[str, float]]
    skipped: list[Skipped] = field(default_factory=list)
    n_cached: int = 0
    n_scored: int = 0


def pair_items(pairs: Iterable[Any]) -> list[ScoreKey]:
    """Unique (video path, prompt) of a list of preference pairs, in first-seen order."""
    seen: dict[ScoreKey, None] = {}
    for p in pairs:
        seen.setdefault((p.path_a, p.prompt), None)
        seen.setdefault((p.path_b, p.prompt), None)
    return list(seen)


def _file_key(path: str, prompt: str, scorer_id: str) -> tuple[str, int, int, str, str]:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns, prompt, scorer_id)


def _read_cache(cache_path: Path) -> dict[tuple[str, int, int, str, str], dict[str, float]]:
    entries: dict[tuple[str, int, int, str, str], dict[str, float]] = {}
    if not cache_path.exists():
        return entries
    lines = cache_path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            key = (e["path"], int(e["size"]), int(e["mtime_ns"]), e["prompt"], e["scorer"])
            scores = {str(k): float(v) for k, v in e["scores"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            if i < len(lines):
                warnings.warn(
                    f"{cache_path}:{i}: unreadable cache line ignored (it will be rescored)",
                    stacklevel=3,
                )
            continue
        entries[key] = scores
    return entries


def _check_scores(result: Any, dims: Sequence[str], path: str, prompt: str) -> dict[str, float]:
    if not isinstance(result, Mapping):
        raise ScoringError(
            f"scorer returned {type(result).__name__} for {path} (prompt {prompt!r}), "
            "expected a dict of rewards"
        )
    missing = [d for d in dims if d not in result]
    if missing:
        raise ScoringError(f"scorer gave no reward for {missing} on {path} (prompt {prompt!r})")
    out = {str(k): float(v) for k, v in result.items()}
    bad = [k for k, v in out.items() if not math.isfinite(v)]
    if bad:
        raise ScoringError(f"non-finite reward for {bad} on {path} (prompt {prompt!r})")
    return out


def score_items(
    scorer: Scorer,
    items: Sequence[ScoreKey],
    cache_path: str | Path,
    *,
    scorer_id: str,
    batch_size: int = 8,
    normalize: bool = True,
    skip_errors: bool = False,
    progress: bool = True,
    desc: str | None = None,
) -> ScoreTable:
    """Score each (video path, prompt) in ``items`` once, reusing and extending the cache.

    Args:
        scorer: called as ``scorer.score(paths, prompts, normalize=normalize)`` on batches.
        items: unique (video path, prompt) keys, e.g. from :func:`pair_items`.
        cache_path: JSONL cache file; created if missing, appended to otherwise.
        scorer_id: identifies the scorer (model weights, statistics); part of every cache
            key, together with ``normalize``.
        batch_size: videos per ``score`` call. A failing batch is retried one video at a
            time, so the failure is pinned to a single video.
        normalize: ask the scorer for normalised rewards.
        skip_errors: record failing videos as :class:`Skipped` instead of raising.
        progress: show a progress bar.
        desc: progress bar label.

    Returns:
        The scores of every item that did not fail.

    Raises:
        ScoringError: a video is missing or fails to score (without ``skip_errors``), or,
            even with it, every video failed (a broken scorer, not broken videos).
    """
    if batch_size < 1:
        raise EvalError(f"batch_size must be >= 1, got {batch_size}")
    scorer_id = f"{scorer_id}|normalize={bool(normalize)}"
    cache_path = Path(cache_path)
    cache = _read_cache(cache_path)
    table = ScoreTable(scores={})

    keys: dict[ScoreKey, tuple[str, int, int, str, str]] = {}
    missing: list[ScoreKey] = []
    for path, prompt in items:
        try:
            keys[(path, prompt)] = _file_key(path, prompt, scorer_id)
        except OSError as err:
            missing.append((path, prompt))
            table.skipped.append(Skipped(path, prompt, f"cannot stat file: {err.strerror}"))
    if missing and not skip_errors:
        shown = ", ".join(p for p, _ in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ScoringError(f"{len(missing)} video(s) not found or unreadable: {shown}{more}")

    todo: list[ScoreKey] = []
    for item, key in keys.items():
        if key in cache:
            table.scores[item] = cache[key]
        else:
            todo.append(item)
    table.n_cached = len(table.scores)

    cache_path.parent.mkdir(parents=True, exist_ok=True)
    needs_newline = not _ends_with_newline(cache_path)
    bar = tqdm(
        total=len(keys), initial=table.n_cached, desc=desc, unit="video", disable=not progress
    )
    with bar, cache_path.open("a", encoding="utf-8") as fh:
        if needs_newline:  # a killed writer left half a line; keep new entries on their own
            fh.write("\n")

        def record(item: ScoreKey, scores: dict[str, float]) -> None:
            abspath, size, mtime_ns, prompt, _ = keys[item]
            entry = {
                "path": abspath,
                "size": size,
                "mtime_ns": mtime_ns,
                "prompt": prompt,
                "scorer": scorer_id,
                "scores": scores,
            }
            fh.write(json.dumps(entry) + "\n")
            table.scores[item] = scores
            table.n_scored += 1

        def fail(item: ScoreKey, err: Exception) -> None:
            path, prompt = item
            # a VidalignError says what is wrong; anything else is named by its type too
            why = (
                reason(path, str(err))
                if isinstance(err, VidalignError)
                else f"{type(err).__name__}: {err}"
            )
            if not skip_errors:
                raise ScoringError(f"scoring {path} (prompt {prompt!r}) failed: {why}") from err
            table.skipped.append(Skipped(path, prompt, why))

        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            try:
                done = _score_batch(scorer, batch, normalize)
            except Exception as err:
                if len(batch) == 1:
                    fail(batch[0], err)
                    done = []
                else:  # pin the failure on one video: retry one at a time
                    done = []
                    for item in batch:
                        try:
                            [(_, scores)] = _score_batch(scorer, [item], normalize)
                        except Exception as err_one:
                            fail(item, err_one)
                        else:
                            record(item, scores)
            for item, scores in done:
                record(item, scores)
            fh.flush()  # a killed process keeps every finished batch
            bar.update(len(batch))
        os.fsync(fh.fileno())
    if items and not table.scores:
        first = table.skipped[0]
        raise ScoringError(
            f"every one of {len(items)} videos failed to score; the first, {first.path}: "
            f"{first.reason}"
        )
    return table


def _ends_with_newline(path: Path) -> bool:
    """True for a missing or empty file, or one whose last byte is a newline."""
    if not path.exists() or path.stat().st_size == 0:
        return True
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _score_batch(
    scorer: Scorer, batch: Sequence[ScoreKey], normalize: bool
) -> list[tuple[ScoreKey, dict[str, float]]]:
    paths = [p for p, _ in batch]
    prompts = [q for _, q in batch]
    results = scorer.score(paths, prompts, normalize=normalize)
    if len(results) != len(batch):
        raise ScoringError(f"scorer returned {len(results)} results for {len(batch)} videos")
    return [
        (item, _check_scores(r, scorer.dims, *item)) for item, r in zip(batch, results, strict=True)
    ]


def drop_skipped(pairs: Sequence[Any], skipped: Iterable[Skipped]) -> list[Any]:
    """The pairs whose two (video, prompt) were both scored."""
    bad = {(s.path, s.prompt) for s in skipped}
    return [p for p in pairs if (p.path_a, p.prompt) not in bad and (p.path_b, p.prompt) not in bad]


def write_skipped(path: str | Path, skipped: Iterable[tuple[str, Skipped]]) -> Path:
    """Write (scorer name, skipped item) records as JSONL: scorer, path, prompt, reason."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for name, s in skipped:
            fh.write(json.dumps({"scorer": name, **asdict(s)}) + "\n")
    return path


def folder_fingerprint(folder: Path) -> str:
    """Hash of every file's relative path, size and mtime under ``folder``: a cache id."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
