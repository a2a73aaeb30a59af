"""Statistics of a database's judgments: per annotator, per dimension, and control items.

- Speed: median seconds per judgment (skips excluded) from the client's time on item.
- Tie rate per dimension over regular judgments.
- Agreement per dimension over regular judgments: raw pairwise agreement and
  Krippendorff's alpha (nominal, labels A / B / same).
- Self-consistency: "repeat" controls (same pair, same screen order, later) agreeing with
  the annotator's first answer, per dimension.
- Position bias: "swap" controls (left and right exchanged): ``swap_agreement`` is the rate
  of the same A/B label both times; ``same_side_rate`` is, among the strict-strict cases,
  the rate of picking the same *screen side* both times (0 for an annotator who reads the
  videos; 1 for one who always clicks one side). ``left_rate`` is the share of "left better"
  among all strict regular choices (0.5 without bias, since orders are random).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from vidalign.annotate.agreement import krippendorff_alpha_nominal, pairwise_agreement
from vidalign.annotate.db import Database
from vidalign.annotate.schema import Annotator, Assignment, Batch, Judgment, Pair


@dataclass
class AnnotatorStats:
    name: str
    judged: int = 0
    skipped: int = 0
    controls: int = 0
    median_seconds: float | None = None
    per_hour: float | None = None  # 3600 / mean seconds per judgment
    left_rate: float | None = None  # pooled over dimensions, as below
    self_consistency: float | None = None
    swap_agreement: float | None = None
    same_side_rate: float | None = None


@dataclass
class DimStats:
    judgments: int = 0
    tie_rate: float | None = None
    pairs_multi: int = 0  # pairs with at least two regular judgments
    pairwise_agreement: float | None = None
    alpha: float | None = None
    left_rate: float | None = None
    repeat_n: int = 0
    self_consistency: float | None = None
    swap_n: int = 0
    swap_agreement: float | None = None
    same_side_rate: float | None = None


@dataclass
class AnnotationStats:
    batches: list[str]
    annotators: list[AnnotatorStats] = field(default_factory=list)
    dims: dict[str, DimStats] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


@dataclass
class _Answer:
    annotator_id: int
    pair_id: int
    kind: str
    order: str
    control_of: int | None
    assignment_id: int
    skip: bool
    seconds: float
    labels: dict[str, int]


def _left_rate(regular: list[_Answer], dims: list[str]) -> float | None:
    """Share of "left better" among strict choices on ``dims``."""
    strict = [(x.labels[d], x.order) for x in regular for d in dims if x.labels.get(d, 0) != 0]
    return _rate(sum((lab == 1) == (order == "AB") for lab, order in strict), len(strict))


@dataclass
class _ControlStats:
    repeat_n: int
    self_consistency: float | None
    swap_n: int
    swap_agreement: float | None
    same_side: float | None


def _controls(
    answers: list[_Answer], by_assignment: dict[int, _Answer], dims: list[str]
) -> _ControlStats:
    """Control answers compared with the first answers they repeat, pooled over ``dims``."""
    rep_hits = rep_n = swap_hits = swap_n = side_hits = side_n = 0
    for x in answers:
        if x.kind == "regular" or x.skip or x.control_of not in by_assignment:
            continue
        first = by_assignment[x.control_of]
        for d in dims:
            if d not in x.labels or d not in first.labels:
                continue
            a, b = first.labels[d], x.labels[d]
            if x.kind == "repeat":
                rep_n += 1
                rep_hits += a == b
            else:
                swap_n += 1
                swap_hits += a == b
                if a != 0 and b != 0:
                    side_n += 1
                    side_hits += a != b  # opposite A/B labels = the same screen side
    return _ControlStats(
        rep_n, _rate(rep_hits, rep_n), swap_n, _rate(swap_hits, swap_n), _rate(side_hits, side_n)
    )


def _load(db: Database, batch: str | None) -> tuple[list[str], list[str], dict, list[_Answer]]:
    with db.read() as s:
        bq = select(Batch).order_by(Batch.id)
        if batch is not None:
            bq = bq.where(Batch.name == batch)
        batches = list(s.scalars(bq))
        names = {a.id: a.name for a in s.scalars(select(Annotator).order_by(Annotator.id))}
        q = (
            select(Judgment, Assignment)
            .join(Assignment, Assignment.id == Judgment.assignment_id)
            .join(Pair, Pair.id == Assignment.pair_id)
            .where(Judgment.retracted_at.is_(None), Pair.batch_id.in_([b.id for b in batches]))
            .options(selectinload(Judgment.labels))
            .order_by(Judgment.id)
        )
        answers = [
            _Answer(
                annotator_id=j.annotator_id,
                pair_id=a.pair_id,
                kind=a.kind,
                order=a.order,
                control_of=a.control_of,
                assignment_id=a.id,
                skip=j.skip_reason is not None,
                seconds=j.time_spent_ms / 1000.0,
                labels={lab.dim: lab.value for lab in j.labels},
            )
            for j, a in s.execute(q).all()
        ]
    dims: list[str] = []
    for b in batches:
        dims += [d for d in b.dim_list if d not in dims]
    return [b.name for b in batches], dims, names, answers


def compute_stats(db: Database, batch: str | None = None) -> AnnotationStats:
    """Statistics over one batch (by name) or all batches. See the module docstring."""
    batch_names, dims, names, answers = _load(db, batch)
    out = AnnotationStats(batches=batch_names)

    regular = [x for x in answers if x.kind == "regular" and not x.skip]
    by_assignment = {x.assignment_id: x for x in answers if not x.skip}
    per_annotator: dict[int, list[_Answer]] = defaultdict(list)
    for ans in answers:
        per_annotator[ans.annotator_id].append(ans)
    for aid, name in names.items():
        mine = per_annotator.get(aid, [])
        secs = [x.seconds for x in mine if not x.skip]
        c = _controls(mine, by_assignment, dims)
        st = AnnotatorStats(
            name=name,
            judged=len(secs),
            skipped=sum(x.skip for x in mine),
            controls=sum(x.kind != "regular" for x in mine),
            left_rate=_left_rate([x for x in mine if x.kind == "regular" and not x.skip], dims),
            self_consistency=c.self_consistency,
            swap_agreement=c.swap_agreement,
            same_side_rate=c.same_side,
        )
        if secs:
            st.median_seconds = statistics.median(secs)
            mean = statistics.fmean(secs)
            st.per_hour = 3600.0 / mean if mean > 0 else None
        out.annotators.append(st)

    for d in dims:
        ds = DimStats()
        values = [x.labels[d] for x in regular if d in x.labels]
        ds.judgments = len(values)
        ds.tie_rate = _rate(sum(v == 0 for v in values), len(values))
        units: dict[int, list[int]] = defaultdict(list)
        for x in regular:
            if d in x.labels:
                units[x.pair_id].append(x.labels[d])
        multi = [v for v in units.values() if len(v) >= 2]
        ds.pairs_multi = len(multi)
        ds.pairwise_agreement = pairwise_agreement(multi)
        ds.alpha = krippendorff_alpha_nominal(multi)
        ds.left_rate = _left_rate(regular, [d])

        c = _controls(answers, by_assignment, [d])
        ds.repeat_n, ds.self_consistency = c.repeat_n, c.self_consistency
        ds.swap_n, ds.swap_agreement, ds.same_side_rate = c.swap_n, c.swap_agreement, c.same_side
        out.dims[d] = ds
    return out


def _fmt(v: float | None, pct: bool = True) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}"


def format_stats(st: AnnotationStats) -> str:
    """Plain-text tables for the terminal."""
    lines = [
        f"batches: {', '.join(st.batches) or '(none)'}",
        "",
        "annotator  judged  skipped  controls  median_s  per_hour",
    ]
    for a in st.annotators:
        med = f"{a.median_seconds:.1f}" if a.median_seconds is not None else "n/a"
        ph = f"{a.per_hour:.0f}" if a.per_hour is not None else "n/a"
        lines.append(f"{a.name:<10} {a.judged:>6} {a.skipped:>8} {a.controls:>9} {med:>9} {ph:>9}")
    lines += [
        "",
        "dim   n     ties    pairs>=2  agree   alpha   left    repeat(n)       swap agree(n)   same_side",
    ]
    for d, x in st.dims.items():
        lines.append(
            f"{d:<5} {x.judgments:<5} {_fmt(x.tie_rate):>6}  {x.pairs_multi:>8}  {_fmt(x.pairwise_agreement):>6}"
            f"  {_fmt(x.alpha, pct=False):>6}  {_fmt(x.left_rate):>6}  {_fmt(x.self_consistency):>6}({x.repeat_n})"
            f"  {_fmt(x.swap_agreement):>12}({x.swap_n})  {_fmt(x.same_side_rate):>8}"
        )
    return "\n".join(lines)
