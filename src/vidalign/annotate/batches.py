"""Importing a batch of preference pairs to annotate.

Video paths are stored relative to the videos root. A pair whose video is missing, is not
a readable video, or lies outside the root (after following symlinks) is refused with the
row and field named; every bad row is reported at once, and nothing of the batch is stored
then.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from vidalign import DEFAULT_DIMS
from vidalign.annotate.db import Database
from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.schema import INT_LIMIT, Batch, Pair
from vidalign.errors import VidalignError


@dataclass(frozen=True)
class BatchSettings:
    """How a batch is annotated.

    Attributes:
        dims: dimensions judged, in display order.
        k: distinct annotators per pair (skips do not use up a slot).
        repeat_rate: probability that a judged item comes back later, shown the same way
            (self-consistency).
        swap_rate: probability that it comes back with left and right exchanged (position
            bias). ``repeat_rate + swap_rate <= 1``.
        control_gap: judgments an annotator makes before a control item is due.
        seed: seeds the left/right orders, pair picking and control sampling.
    """

    dims: tuple[str, ...] = DEFAULT_DIMS
    k: int = 3
    repeat_rate: float = 0.0
    swap_rate: float = 0.0
    control_gap: int = 5
    seed: int = 0

    def check(self) -> None:
        """Raise AnnotateError naming the first bad setting."""
        if not self.dims:
            raise AnnotateError("batch: at least one dimension is needed")
        for d in self.dims:
            if not d or "," in d or d != d.strip():
                raise AnnotateError(
                    f"batch: dimension name {d!r} must be non-empty, without commas"
                )
        if len(set(self.dims)) != len(self.dims):
            raise AnnotateError(f"batch: repeated dimension in {list(self.dims)}")
        if self.k < 1:
            raise AnnotateError(f"batch: k={self.k}, need at least 1 annotator per pair")
        for name in ("repeat_rate", "swap_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise AnnotateError(f"batch: {name}={v} is not in [0, 1]")
        if self.repeat_rate + self.swap_rate > 1.0:
            raise AnnotateError("batch: repeat_rate + swap_rate must be at most 1")
        if self.control_gap < 0:
            raise AnnotateError(f"batch: control_gap={self.control_gap} must be >= 0")
        for name in ("k", "control_gap", "seed"):
            v = getattr(self, name)
            if not -INT_LIMIT < v < INT_LIMIT:
                raise AnnotateError(f"batch: {name}={v} is outside (-2**31, 2**31)")


def relative_video_path(path: str, videos_root: Path) -> str:
    """``path`` relative to the videos root, checked to be a file inside it.

    Args:
        path: absolute, or relative to ``videos_root``.
        videos_root: the folder the server may serve from.

    Returns:
        The "/"-separated path relative to the root.

    Raises:
        AnnotateError: a NUL byte in the path, outside the root (lexically or through a
            symlink), or not a file.
    """
    if "\x00" in path:
        raise AnnotateError(f"{path!r} holds a NUL byte, which no file name can")
    root = Path(os.path.abspath(videos_root))
    p = Path(path)
    lexical = Path(os.path.normpath(p if p.is_absolute() else root / p))
    try:
        rel = lexical.relative_to(root)
    except ValueError:
        raise AnnotateError(f"{path} is outside the videos root {root}") from None
    real = lexical.resolve()
    if not real.is_relative_to(root.resolve()):
        raise AnnotateError(f"{path} links to {real}, outside the videos root {root}")
    if not real.is_file():
        raise AnnotateError(f"video file {lexical} not found")
    return rel.as_posix()


_UNLABELLED = "__unlabelled__"


def pairs_to_annotate(
    table: Any, videos_root: str | Path, dims: Sequence[str] | None = None
) -> list[Any]:
    """Validate rows of pairs to annotate by the rules of a pair file (``vidalign.data.parse``).

    The one check of ``vidalign annotate import`` and of the admin API: text fields, NUL
    bytes and control characters, A and B the same video, frame rates and counts, each
    bad row named. ``vidalign.data`` insists on label columns; pairs still to be judged
    have none, so then a placeholder label column is added before the validation runs.

    Args:
        table: a ``vidalign.data.tables.Table`` of a pair file or of a request.
        videos_root: relative paths are read against it.
        dims: label columns to read (and ignore); None: inferred as ``load_pairs`` does.

    Returns:
        ``vidalign.data.PreferencePair`` objects with absolute paths and no labels needed.

    Raises:
        PairDataError: invalid rows, each named.
    """
    from vidalign.data.pair import OVERALL
    from vidalign.data.parse import infer_dims, parse_table

    dims = infer_dims(table) if dims is None else list(dims)
    if dims or OVERALL in table.columns:
        return parse_table(table, dims, root=videos_root)
    table.columns.append(_UNLABELLED)
    for rec in table.records:
        rec.values[_UNLABELLED] = "same"
    pairs = parse_table(table, [_UNLABELLED], root=videos_root)
    for p in pairs:
        p.labels = {}
    return pairs


def read_pairs_to_annotate(path: str | Path, videos_root: str | Path) -> list[Any]:
    """Read a pair file (CSV / JSONL / Parquet) with or without label columns.

    Labels that are present are read (and ignored by the import).

    Raises:
        PairDataError: unreadable file or invalid rows, each named.
    """
    from vidalign.data.tables import read_table

    return pairs_to_annotate(read_table(path), videos_root)


def pairs_table(pairs: Sequence[Any], source: str) -> Any:
    """Pairs given as objects (an admin API request) as the rows of a pair file, so that
    :func:`pairs_to_annotate` checks them as it checks a file.

    Args:
        pairs: objects with ``prompt, path_a, path_b, fps_a, fps_b, num_frames_a,
            num_frames_b, meta``.
        source: the name given in error messages.

    Returns:
        A ``vidalign.data.tables.Table``. A meta key that is a column of the pair format
        (``fps_A``, ``Overall``) is left out and recorded in its ``issues``.
    """
    from vidalign.data import columns as c
    from vidalign.data.errors import RowIssue
    from vidalign.data.tables import Record, Table

    table = Table(source, [c.PATH_A, c.PATH_B, c.PROMPT], [])
    why = "is a column of the pair format, not a meta key"
    for row, p in enumerate(pairs, start=1):
        values = {
            c.PATH_A: p.path_a,
            c.PATH_B: p.path_b,
            c.PROMPT: p.prompt,
            c.FPS_A: p.fps_a,
            c.FPS_B: p.fps_b,
            c.NUM_FRAMES_A: p.num_frames_a,
            c.NUM_FRAMES_B: p.num_frames_b,
        }
        for k, v in (p.meta or {}).items():
            if c.is_reserved(k):
                table.issues.append(RowIssue(source, row, None, f"meta.{k}", why))
            else:
                values[k] = v
        table.records.append(Record({k: v for k, v in values.items() if v is not None}, row))
    table.columns = list(
        dict.fromkeys(table.columns + [k for r in table.records for k in r.values])
    )
    return table


def _native_fps(path: Path) -> float:
    # imported here: vidalign.video pulls in torch, which the server needs nowhere else
    from vidalign.video import probe_video

    try:
        return probe_video(path).fps
    except VidalignError as err:
        raise AnnotateError(str(err)) from err


def import_batch(
    db: Database,
    name: str,
    pairs: Sequence[Any],
    *,
    videos_root: str | Path,
    settings: BatchSettings,
    source: str = "pairs",
) -> int:
    """Store a batch of pairs (``vidalign.data.PreferencePair`` or alike) to annotate.

    Labels already present on the pairs are ignored: annotators never see them.

    Args:
        db: the annotation database.
        name: unique batch name.
        pairs: objects with ``prompt, path_a, path_b, fps_a, fps_b, num_frames_a,
            num_frames_b, meta``.
        videos_root: folder holding every video.
        settings: assignment settings.
        source: file name used in error messages.

    Returns:
        The new batch's id.

    Raises:
        AnnotateError: a bad setting, an existing name or an empty batch.
        PairDataError: bad pairs, every one listed (by 1-based position in ``source``)
            with its field, named as the pair-file column (``prompt``, ``path_A``,
            ``path_B``, ``num_frames_A``): a blank prompt, a video outside the root, missing
            or unreadable, the same file for A and B, or a frame count too large to store.
    """
    from vidalign.data.errors import PairDataError, RowIssue  # vidalign.data pulls in torch

    settings.check()
    if not name or not name.strip():
        raise AnnotateError("batch: the name must not be empty")
    if not pairs:
        raise AnnotateError(f"{source}: no pairs to import")
    root = Path(videos_root)
    if not root.is_dir():
        raise AnnotateError(f"--videos-root {root}: not a folder")
    rows: list[Pair] = []
    issues: list[RowIssue] = []
    for i, p in enumerate(pairs):
        found = len(issues)
        if not isinstance(p.prompt, str) or not p.prompt.strip():
            why = f"expected non-empty text, got {p.prompt!r}"
            issues.append(RowIssue(source, i + 1, None, "prompt", why))
        for side in ("A", "B"):
            frames = getattr(p, f"num_frames_{side.lower()}", None)
            if frames is not None and not 0 < frames < INT_LIMIT:
                why = f"{frames} frames is outside (0, 2**31), the range the database stores"
                issues.append(RowIssue(source, i + 1, None, f"num_frames_{side}", why))
        rel: dict[str, str] = {}
        native: dict[str, float] = {}
        for side in ("a", "b"):
            try:
                rel[side] = relative_video_path(str(getattr(p, f"path_{side}")), root)
                native[side] = _native_fps(root / rel[side])
            except AnnotateError as err:
                issues.append(RowIssue(source, i + 1, None, f"path_{side.upper()}", str(err)))
        if len(rel) == 2 and os.path.samefile(root / rel["a"], root / rel["b"]):
            # the pair-file check compares paths; two names (a link) for one file pass it
            why = f"{rel['b']} is the same file as path_A {rel['a']}"
            issues.append(RowIssue(source, i + 1, None, "path_B", why))
        if len(issues) > found:
            continue
        meta = {str(k): str(v) for k, v in (getattr(p, "meta", None) or {}).items()}
        rows.append(
            Pair(
                row=i,
                prompt=p.prompt,
                path_a=rel["a"],
                path_b=rel["b"],
                fps_a=getattr(p, "fps_a", None),
                fps_b=getattr(p, "fps_b", None),
                num_frames_a=getattr(p, "num_frames_a", None),
                num_frames_b=getattr(p, "num_frames_b", None),
                native_fps_a=native["a"],
                native_fps_b=native["b"],
                meta=json.dumps(meta, sort_keys=True),
            )
        )
    if issues:
        raise PairDataError(issues)
    with db.write() as s:
        if s.scalar(select(Batch.id).where(Batch.name == name)) is not None:
            raise AnnotateError(f"batch {name!r} already exists")
        batch = Batch(
            name=name,
            dims=",".join(settings.dims),
            k=settings.k,
            repeat_rate=settings.repeat_rate,
            swap_rate=settings.swap_rate,
            control_gap=settings.control_gap,
            seed=settings.seed,
            source=source,
        )
        batch.pairs = rows
        s.add(batch)
        s.flush()
        return batch.id
