"""Exporting majority labels as preference pairs, ready for ``vidalign reward train``.

Majority rule, per pair and dimension, over the regular judgments (skips, retracted answers
and control items do not vote): a label wins when more than half of the votes give it;
anything else (a split vote such as A / B, A / same, or A / B / same) is a tie ("same").
This is the rule of the synthetic world's simulated annotators
(``vidalign.synth.annotators.majority``), so both produce labels the same way.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from vidalign.annotate.db import Database
from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.schema import Assignment, Batch, Judgment, Pair


def majority_label(votes: Sequence[int]) -> int:
    """The label (+1, 0, -1) given by more than half of the votes, else a tie (0).

    Examples: [1, 1, 0] -> 1; [1, -1] -> 0; [1, 0] -> 0; [1, 1, -1, 0] -> 0; [-1] -> -1.

    Raises:
        ValueError: no votes.
    """
    if not votes:
        raise ValueError("majority_label needs at least one vote")
    label, count = Counter(votes).most_common(1)[0]
    return label if 2 * count > len(votes) else 0


@dataclass(frozen=True)
class ExportSummary:
    pairs: int  # pairs in the batches
    exported: int
    too_few_votes: int  # left out: fewer than min_votes judgments
    dims: tuple[str, ...]


def collect_majority(
    db: Database, batch: str | None = None, *, min_votes: int = 1
) -> tuple[list[tuple[Pair, dict[str, int], int]], ExportSummary]:
    """Majority labels per pair.

    Args:
        db: the annotation database.
        batch: one batch by name, or None for all (they must share their dimensions).
        min_votes: pairs with fewer regular judgments are left out.

    Returns:
        ``([(pair, {dim: label}, n_votes)], summary)`` in batch and row order.

    Raises:
        AnnotateError: unknown batch, no batches, or batches with different dimensions.
    """
    if min_votes < 1:
        raise AnnotateError(f"--min-votes {min_votes}: must be at least 1")
    with db.read() as s:
        bq = select(Batch).order_by(Batch.id)
        if batch is not None:
            bq = bq.where(Batch.name == batch)
        batches = list(s.scalars(bq))
        if not batches:
            raise AnnotateError(f"no batch named {batch!r}" if batch else "no batches imported")
        dims = tuple(batches[0].dim_list)
        for b in batches[1:]:
            if tuple(b.dim_list) != dims:
                raise AnnotateError(
                    f"batches {batches[0].name!r} and {b.name!r} have different dimensions; "
                    "export them one at a time with --batch"
                )
        ids = [b.id for b in batches]
        pairs = list(
            s.scalars(select(Pair).where(Pair.batch_id.in_(ids)).order_by(Pair.batch_id, Pair.row))
        )
        q = (
            select(Judgment, Assignment.pair_id)
            .join(Assignment, Assignment.id == Judgment.assignment_id)
            .join(Pair, Pair.id == Assignment.pair_id)
            .where(
                Pair.batch_id.in_(ids),
                Assignment.kind == "regular",
                Judgment.retracted_at.is_(None),
                Judgment.skip_reason.is_(None),
            )
            .options(selectinload(Judgment.labels))
        )
        votes: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for j, pair_id in s.execute(q).all():
            for lab in j.labels:
                votes[pair_id][lab.dim].append(lab.value)
    out = []
    for p in pairs:
        v = votes.get(p.id, {})
        n = min((len(v.get(d, [])) for d in dims), default=0)
        if n >= min_votes:
            out.append((p, {d: majority_label(v[d]) for d in dims}, n))
    summary = ExportSummary(
        pairs=len(pairs), exported=len(out), too_few_votes=len(pairs) - len(out), dims=dims
    )
    return out, summary


def export_pairs(
    db: Database,
    out: str | Path,
    *,
    videos_root: str | Path,
    batch: str | None = None,
    min_votes: int = 1,
) -> ExportSummary:
    """Write majority-labelled pairs with ``vidalign.data.save_pairs`` (format from the suffix).

    Video paths are written relative to the output file's folder when the videos lie under
    it (a movable dataset), else absolute; ``vidalign.data.load_pairs`` reads them back
    either way. Fields other than the labels (prompt, fps, frame counts, meta) are those of
    the imported file.

    Raises:
        AnnotateError: see :func:`collect_majority`, or no pair has enough judgments.
    """
    from vidalign.data import PreferencePair, save_pairs

    rows, summary = collect_majority(db, batch, min_votes=min_votes)
    if not rows:
        raise AnnotateError(
            f"nothing to export: none of {summary.pairs} pairs has {min_votes}+ judgments"
        )
    root = Path(videos_root).resolve()
    pairs = [
        PreferencePair(
            prompt=p.prompt,
            path_a=str(root / p.path_a),
            path_b=str(root / p.path_b),
            labels=labels,
            fps_a=p.fps_a,
            fps_b=p.fps_b,
            num_frames_a=p.num_frames_a,
            num_frames_b=p.num_frames_b,
            meta=json.loads(p.meta),
        )
        for p, labels, _ in rows
    ]
    out = Path(out)
    save_pairs(pairs, out, dims=list(summary.dims), relative_to=out.resolve().parent)
    return summary
