"""An annotator's queue: which item comes next, and recording, skipping and undoing answers.

Every function runs inside one write transaction (``Database.write``) that the caller
commits before it responds.

Assignment rule: a pair is given to at most ``k`` distinct annotators as a regular item
(an assignment answered with a skip frees its slot, and the skipper never gets the pair
again). Pairs with the fewest live assignments come first, earlier batches first, ties
broken by a seeded per-annotator shuffle. Control items (repeat / swap) are scheduled when
a regular item is judged and become due ``control_gap`` answers later.

A pair's live assignments are its regular ones without an unretracted skip. ``Pair.live``
holds their number: creating a regular assignment adds one, skipping it takes one away and
undoing that skip adds it back, each in the transaction of the write. So the next
candidates are the start of a range of the ``ix_pairs_queue`` index (batch, live, id) per
batch, read without visiting the pairs that are full or the assignments of anyone else.

The statements of the hot path (an annotator's next item and answer) are built once, with
their annotator as a bound parameter: building and keying a statement costs SQLAlchemy
about as much as SQLite takes to run it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Exists,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.schema import (
    SKIP_REASONS,
    Assignment,
    Batch,
    Judgment,
    Label,
    Pair,
    utcnow,
)

CHOICES = ("left", "right", "same")
MAX_TIME_SPENT_MS = 24 * 3600 * 1000


class NotFound(AnnotateError):
    """No such assignment for this annotator."""


class Conflict(AnnotateError):
    """The request contradicts the stored state (already judged, nothing to undo)."""


class BadAnswer(AnnotateError):
    """Labels or a skip reason that do not fit the batch."""


def choice_to_label(choice: str, order: str) -> int:
    """Map an on-screen choice to an A/B label.

    Args:
        choice: "left", "right" or "same".
        order: "AB" (A shown left) or "BA".

    Returns:
        +1 (A better), -1 (B better) or 0 (tie).
    """
    if choice == "same":
        return 0
    left_is_a = order == "AB"
    return 1 if (choice == "left") == left_is_a else -1


def label_to_choice(label: int, order: str) -> str:
    """Inverse of :func:`choice_to_label`."""
    if label == 0:
        return "same"
    left_is_a = order == "AB"
    return "left" if (label == 1) == left_is_a else "right"


def _active() -> Exists:
    """Correlated EXISTS: the assignment has an unretracted judgment."""
    return exists().where(Judgment.assignment_id == Assignment.id, Judgment.retracted_at.is_(None))


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


_ANNOTATOR = bindparam("annotator_id")
_ANSWERED = select(func.count(Judgment.id)).where(
    Judgment.annotator_id == _ANNOTATOR, Judgment.retracted_at.is_(None)
)


def answered_count(s: Session, annotator_id: int) -> int:
    """Unretracted judgments and skips by this annotator."""
    return int(s.scalar(_ANSWERED, {"annotator_id": annotator_id}) or 0)


def _mine(annotator: Any) -> Select:
    """Pairs this annotator was given as a regular item (skipped ones too): never again."""
    return select(Assignment.pair_id).where(
        Assignment.annotator_id == annotator, Assignment.kind == "regular"
    )


_OPEN = (
    select(Assignment)
    .where(Assignment.annotator_id == _ANNOTATOR, ~_active())
    .order_by(Assignment.id)
)
"""This annotator's assignments without an unretracted judgment, oldest first."""
_OPEN_COUNT = select(func.count()).select_from(_OPEN.subquery())
_BELOW_K = and_(Pair.batch_id == Batch.id, Pair.live < Batch.k)
_FIRST_CANDIDATES = (
    select(Pair.id, Pair.batch_id, Batch.seed, Pair.live)
    .select_from(Batch)
    .join(Pair, _BELOW_K)
    .where(Pair.id.not_in(_mine(_ANNOTATOR)))
    .order_by(Batch.id, Pair.live, Pair.id)
    .limit(64)
)
"""The first pairs this annotator may get as a new regular item: fewer live assignments than
their batch's ``k``, never theirs, in the order they are handed out (earlier batch, fewer
live assignments, lower id). SQLite reads them as a range of ``ix_pairs_queue`` per batch."""
_EACH_BATCH = (
    select(Pair.id, Pair.batch_id, Pair.live)
    .where(_BELOW_K, Pair.id.not_in(_mine(_ANNOTATOR)))
    .order_by(Pair.live, Pair.id)
    .limit(64)
    .lateral("each_batch")
)
_FIRST_CANDIDATES_LATERAL = (
    select(_EACH_BATCH.c.id, _EACH_BATCH.c.batch_id, Batch.seed, _EACH_BATCH.c.live)
    .select_from(Batch)
    .join(_EACH_BATCH, true())
    .order_by(Batch.id, _EACH_BATCH.c.live, _EACH_BATCH.c.id)
    .limit(64)
)
"""The same rows for PostgreSQL. Its planner keeps the index order through a join only by
merge-joining the whole index, completed batches included; here each batch's first
candidates are a bounded range of the index, and only those are sorted."""
PROGRESS_CAP = 1000
""":func:`progress` counts new items up to this many, so a judgment's reply reads at most
this many index entries however large the batches are; beyond it the count says "more"."""
_CANDIDATE_COUNT = select(func.count()).select_from(
    select(Pair.id)
    .select_from(Batch)
    .join(Pair, _BELOW_K)
    .where(Pair.id.not_in(_mine(_ANNOTATOR)))
    .limit(bindparam("cap", type_=Integer))
    .subquery()
)
_LOCK_BATCHES = select(Batch.id).order_by(Batch.id).with_for_update()
_STEP_LIVE = (
    update(Pair)
    .where(Pair.id == bindparam("pair_id"))
    .values(live=Pair.live + bindparam("step", type_=Integer))
)


def _first_candidates(s: Session) -> Select:
    """:data:`_FIRST_CANDIDATES` for this session's database."""
    sqlite = s.get_bind().dialect.name == "sqlite"
    return _FIRST_CANDIDATES if sqlite else _FIRST_CANDIDATES_LATERAL


def _step_live(s: Session, pair_id: int, step: int) -> None:
    """Add ``step`` (+1 or -1) to the pair's live count (Core: no ORM state to keep)."""
    s.connection().execute(_STEP_LIVE, {"pair_id": pair_id, "step": step})


def next_assignment(s: Session, annotator_id: int) -> Assignment | None:
    """The item to show this annotator now, creating a regular assignment when needed.

    Order: an open regular item (e.g. after a reload or undo), then a due control item,
    then a new regular item, then a not yet due control item. None when nothing is left.
    """
    who = {"annotator_id": annotator_id}
    opened = s.scalars(_OPEN, who).all()
    regular = [a for a in opened if a.kind == "regular"]
    if regular:
        return regular[0]
    done = answered_count(s, annotator_id)
    due = [a for a in opened if a.due_after <= done]
    if due:
        return due[0]
    # Serialise "count the live assignments, then add one" across annotators: SQLite already
    # does (BEGIN IMMEDIATE); on PostgreSQL this row lock does.
    if s.get_bind().dialect.name != "sqlite":
        s.execute(_LOCK_BATCHES).all()
    rows = s.execute(_first_candidates(s), who).all()
    if rows:
        batch_id, seed, live = rows[0].batch_id, rows[0].seed, rows[0].live
        tied = [r.id for r in rows if r.batch_id == batch_id and r.live == live]
        pair_id = _rng(seed, "pick", annotator_id, done).choice(tied)
        flip = _rng(seed, "order", pair_id, annotator_id).random() < 0.5
        a = Assignment(
            pair_id=pair_id, annotator_id=annotator_id, kind="regular", order="BA" if flip else "AB"
        )
        s.add(a)
        s.flush()
        _step_live(s, pair_id, +1)
        return a
    return min(opened, key=lambda a: (a.due_after, a.id), default=None)


_TARGET = (
    select(
        Assignment.id,
        Assignment.annotator_id,
        Assignment.pair_id,
        Assignment.kind,
        Assignment.order,
        Batch.name.label("batch_name"),
        Batch.dims,
        Batch.seed,
        Batch.repeat_rate,
        Batch.swap_rate,
        Batch.control_gap,
        select(Judgment.id)
        .where(Judgment.assignment_id == Assignment.id, Judgment.retracted_at.is_(None))
        .limit(1)
        .scalar_subquery()
        .label("live"),
    )
    .join(Pair, Pair.id == Assignment.pair_id)
    .join(Batch, Batch.id == Pair.batch_id)
    .where(Assignment.id == bindparam("assignment_id"))
)
"""An assignment with what answering it needs: its batch's settings and its live judgment."""


@dataclass(frozen=True)
class Answer:
    """A stored judgment or skip."""

    judgment_id: int
    assignment_id: int


def _own_assignment(s: Session, annotator_id: int, assignment_id: int) -> Any:
    """The :data:`_TARGET` row of one of this annotator's open assignments."""
    a = s.execute(_TARGET, {"assignment_id": assignment_id}).one_or_none()
    if a is None or a.annotator_id != annotator_id:
        raise NotFound(f"assignment {assignment_id} not found")
    if a.live is not None:
        raise Conflict(
            f"assignment {assignment_id} is already answered (judgment {a.live}); undo it first"
        )
    return a


def _check_time(time_spent_ms: int) -> None:
    if isinstance(time_spent_ms, bool) or not isinstance(time_spent_ms, int):
        raise BadAnswer(f"time_spent_ms: expected an integer, got {time_spent_ms!r}")
    if not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise BadAnswer(f"time_spent_ms: {time_spent_ms} is not in [0, {MAX_TIME_SPENT_MS}]")


_INSERT_JUDGMENT = insert(Judgment)
_INSERT_LABELS = insert(Label)


def _insert(s: Session, a: Any, values: dict[str, Any], labels: dict[str, int]) -> Answer:
    """Store a judgment of ``a`` and its labels (Core inserts: no unit of work to run)."""
    row = {"assignment_id": a.id, "annotator_id": a.annotator_id, "order_shown": a.order}
    try:
        result = s.connection().execute(_INSERT_JUDGMENT, row | values)
    except IntegrityError as err:  # a concurrent submit won the one-active-judgment index
        raise Conflict(f"assignment {a.id} is already answered") from err
    judgment_id = result.inserted_primary_key[0]
    if labels:
        rows = [{"judgment_id": judgment_id, "dim": d, "value": v} for d, v in labels.items()]
        s.connection().execute(_INSERT_LABELS, rows)
    return Answer(judgment_id=judgment_id, assignment_id=a.id)


def _schedule_control(s: Session, a: Any) -> None:
    """After ``a`` (a :data:`_TARGET` row) was judged: maybe a control of it, due
    ``control_gap`` answers later."""
    r = _rng(a.seed, "control", a.pair_id, a.annotator_id).random()
    if r < a.repeat_rate:
        kind, order = "repeat", a.order
    elif r < a.repeat_rate + a.swap_rate:
        kind, order = "swap", "BA" if a.order == "AB" else "AB"
    else:
        return
    exists_q = select(Assignment.id).where(
        Assignment.pair_id == a.pair_id,
        Assignment.annotator_id == a.annotator_id,
        Assignment.kind == kind,
    )
    if s.scalar(exists_q) is None:
        s.add(
            Assignment(
                pair_id=a.pair_id,
                annotator_id=a.annotator_id,
                kind=kind,
                control_of=a.id,
                order=order,
                due_after=answered_count(s, a.annotator_id) + a.control_gap,
            )
        )


def submit_judgment(
    s: Session,
    annotator_id: int,
    assignment_id: int,
    choices: Mapping[str, str],
    time_spent_ms: int,
) -> Answer:
    """Record an answer given on screen.

    Args:
        s: session in a write transaction.
        annotator_id: who answers.
        assignment_id: one of their own open assignments.
        choices: dimension -> "left" / "right" / "same", for exactly the batch's dimensions.
        time_spent_ms: time from showing the item to submitting it.

    Returns:
        The stored judgment's id; its labels are stored in A/B terms.

    Raises:
        NotFound: unknown assignment, or another annotator's.
        Conflict: already answered.
        BadAnswer: missing, unknown or invalid dimensions or labels; bad time.
    """
    a = _own_assignment(s, annotator_id, assignment_id)
    dims = a.dims.split(",")
    missing = [d for d in dims if d not in choices]
    unknown = [d for d in choices if d not in dims]
    if missing or unknown:
        raise BadAnswer(
            f"labels: batch {a.batch_name!r} needs exactly {dims}; "
            f"missing {missing}, unknown {unknown}"
        )
    for d in dims:
        if choices[d] not in CHOICES:
            raise BadAnswer(f"labels.{d}: {choices[d]!r} is not one of {list(CHOICES)}")
    _check_time(time_spent_ms)
    labels = {d: choice_to_label(choices[d], a.order) for d in dims}
    answer = _insert(s, a, {"time_spent_ms": time_spent_ms}, labels)
    if a.kind == "regular":
        _schedule_control(s, a)
    return answer


def skip_assignment(
    s: Session, annotator_id: int, assignment_id: int, reason: str, time_spent_ms: int
) -> Answer:
    """Record a skip with a reason from ``SKIP_REASONS``. Raises like :func:`submit_judgment`."""
    a = _own_assignment(s, annotator_id, assignment_id)
    if reason not in SKIP_REASONS:
        raise BadAnswer(f"reason: {reason!r} is not one of {list(SKIP_REASONS)}")
    _check_time(time_spent_ms)
    answer = _insert(s, a, {"skip_reason": reason, "time_spent_ms": time_spent_ms}, {})
    if a.kind == "regular":
        _step_live(s, a.pair_id, -1)  # the skip frees the slot
    return answer


def undo_last(s: Session, annotator_id: int) -> Judgment:
    """Retract this annotator's latest unretracted answer; its item returns to the queue.

    Raises:
        Conflict: nothing to undo.
    """
    j = s.scalar(
        select(Judgment)
        .where(Judgment.annotator_id == annotator_id, Judgment.retracted_at.is_(None))
        .order_by(Judgment.id.desc())
    )
    if j is None:
        raise Conflict("nothing to undo")
    now = utcnow()
    retract = (
        update(Judgment)
        .where(Judgment.id == j.id, Judgment.retracted_at.is_(None))
        .values(retracted_at=now)
    )
    if s.connection().execute(retract).rowcount != 1:  # PostgreSQL: a concurrent undo won
        raise Conflict(f"judgment {j.id} was undone by another request")
    set_committed_value(j, "retracted_at", now)
    if j.skip_reason is not None and j.assignment.kind == "regular":
        _step_live(s, j.assignment.pair_id, +1)  # the assignment is live again
    return j


_LAST_ANSWER = (
    select(Judgment)
    .where(Judgment.assignment_id == bindparam("assignment_id"), Judgment.skip_reason.is_(None))
    .order_by(Judgment.id.desc())
    .limit(1)
)


def previous_choices(s: Session, a: Assignment) -> dict[str, str] | None:
    """The on-screen choices of the latest answer to ``a`` (retracted ones included, so an
    undone item shows what was chosen), or None when it was never answered."""
    last = s.scalar(_LAST_ANSWER, {"assignment_id": a.id})
    if last is None:
        return None
    return {lab.dim: label_to_choice(lab.value, a.order) for lab in last.labels}


@dataclass(frozen=True)
class Progress:
    """``done``: answers given; ``remaining``: items this annotator can still expect (an upper
    bound while others work on the same batch). With ``more`` set, ``remaining`` is a lower
    bound instead: the count of new items stopped at :data:`PROGRESS_CAP`."""

    done: int
    remaining: int
    more: bool = False


def progress(s: Session, annotator_id: int, cap: int = PROGRESS_CAP) -> Progress:
    """This annotator's :class:`Progress`; reads at most ``cap + 1`` pairs' index entries."""
    who = {"annotator_id": annotator_id}
    done = answered_count(s, annotator_id)
    open_n = int(s.scalar(_OPEN_COUNT, who) or 0)
    new_n = int(s.scalar(_CANDIDATE_COUNT, who | {"cap": cap + 1}) or 0)
    return Progress(done=done, remaining=open_n + min(new_n, cap), more=new_n > cap)
