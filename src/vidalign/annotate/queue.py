"""An annotator's queue: which item comes next, and recording, skipping and undoing answers.

Every function runs inside one write transaction (``Database.write``) that the caller
commits before it responds.

Assignment rule: a pair is given to at most ``k`` distinct annotators as a regular item
(an assignment answered with a skip frees its slot, and the skipper never gets the pair
again). Pairs with the fewest live assignments come first, earlier batches first, ties
broken by a seeded per-annotator shuffle. Control items (repeat / swap) are scheduled when
a regular item is judged and become due ``control_gap`` answers later.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Exists, Select, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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


def answered_count(s: Session, annotator_id: int) -> int:
    """Unretracted judgments and skips by this annotator."""
    q = select(func.count(Judgment.id)).where(
        Judgment.annotator_id == annotator_id, Judgment.retracted_at.is_(None)
    )
    return int(s.scalar(q) or 0)


def _candidates(annotator_id: int) -> Select:
    """Pairs this annotator may get as a new regular item: (id, batch_id, live count n),
    in the order they are handed out (earlier batch, fewer live assignments, lower id)."""
    skipped = exists().where(
        Judgment.assignment_id == Assignment.id,
        Judgment.retracted_at.is_(None),
        Judgment.skip_reason.is_not(None),
    )
    mine = select(Assignment.pair_id).where(
        Assignment.annotator_id == annotator_id, Assignment.kind == "regular"
    )
    n = func.count(Assignment.id)
    return (
        select(Pair.id, Pair.batch_id, n.label("n"))
        .join(Batch, Batch.id == Pair.batch_id)
        .outerjoin(
            Assignment,
            and_(Assignment.pair_id == Pair.id, Assignment.kind == "regular", ~skipped),
        )
        .where(Pair.id.not_in(mine))
        .group_by(Pair.id, Pair.batch_id, Batch.id, Batch.k)
        .having(n < Batch.k)
        .order_by(Batch.id, n, Pair.id)
    )


def _open(annotator_id: int) -> Select:
    """This annotator's assignments without an unretracted judgment."""
    return select(Assignment).where(Assignment.annotator_id == annotator_id, ~_active())


def next_assignment(s: Session, annotator_id: int) -> Assignment | None:
    """The item to show this annotator now, creating a regular assignment when needed.

    Order: an open regular item (e.g. after a reload or undo), then a due control item,
    then a new regular item, then a not yet due control item. None when nothing is left.
    """
    open_regular = s.scalar(
        _open(annotator_id).where(Assignment.kind == "regular").order_by(Assignment.id)
    )
    if open_regular is not None:
        return open_regular
    done = answered_count(s, annotator_id)
    controls = _open(annotator_id).where(Assignment.kind != "regular")
    due = s.scalar(controls.where(Assignment.due_after <= done).order_by(Assignment.id))
    if due is not None:
        return due
    # Serialise "count the live assignments, then add one" across annotators: SQLite already
    # does (BEGIN IMMEDIATE); on PostgreSQL this row lock does.
    s.execute(select(Batch.id).order_by(Batch.id).with_for_update()).all()
    rows = s.execute(_candidates(annotator_id).limit(64)).all()
    if rows:
        batch_id, n = rows[0].batch_id, rows[0].n
        tied = [r.id for r in rows if r.batch_id == batch_id and r.n == n]
        batch = s.get(Batch, batch_id)
        pair_id = _rng(batch.seed, "pick", annotator_id, done).choice(tied)
        flip = _rng(batch.seed, "order", pair_id, annotator_id).random() < 0.5
        a = Assignment(
            pair_id=pair_id, annotator_id=annotator_id, kind="regular", order="BA" if flip else "AB"
        )
        s.add(a)
        s.flush()
        return a
    return s.scalar(controls.order_by(Assignment.due_after, Assignment.id))


def _own_assignment(s: Session, annotator_id: int, assignment_id: int) -> Assignment:
    a = s.get(Assignment, assignment_id)
    if a is None or a.annotator_id != annotator_id:
        raise NotFound(f"assignment {assignment_id} not found")
    live = s.scalar(
        select(Judgment.id).where(Judgment.assignment_id == a.id, Judgment.retracted_at.is_(None))
    )
    if live is not None:
        raise Conflict(
            f"assignment {assignment_id} is already answered (judgment {live}); undo it first"
        )
    return a


def _check_time(time_spent_ms: int) -> None:
    if isinstance(time_spent_ms, bool) or not isinstance(time_spent_ms, int):
        raise BadAnswer(f"time_spent_ms: expected an integer, got {time_spent_ms!r}")
    if not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise BadAnswer(f"time_spent_ms: {time_spent_ms} is not in [0, {MAX_TIME_SPENT_MS}]")


def _insert(s: Session, j: Judgment, assignment_id: int) -> Judgment:
    s.add(j)
    try:
        s.flush()
    except IntegrityError as err:  # a concurrent submit won the one-active-judgment index
        raise Conflict(f"assignment {assignment_id} is already answered") from err
    return j


def _schedule_control(s: Session, a: Assignment, batch: Batch, done: int) -> None:
    r = _rng(batch.seed, "control", a.pair_id, a.annotator_id).random()
    if r < batch.repeat_rate:
        kind, order = "repeat", a.order
    elif r < batch.repeat_rate + batch.swap_rate:
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
                due_after=done + batch.control_gap,
            )
        )


def submit_judgment(
    s: Session,
    annotator_id: int,
    assignment_id: int,
    choices: Mapping[str, str],
    time_spent_ms: int,
) -> Judgment:
    """Record an answer given on screen.

    Args:
        s: session in a write transaction.
        annotator_id: who answers.
        assignment_id: one of their own open assignments.
        choices: dimension -> "left" / "right" / "same", for exactly the batch's dimensions.
        time_spent_ms: time from showing the item to submitting it.

    Returns:
        The stored judgment; its labels are in A/B terms.

    Raises:
        NotFound: unknown assignment, or another annotator's.
        Conflict: already answered.
        BadAnswer: missing, unknown or invalid dimensions or labels; bad time.
    """
    a = _own_assignment(s, annotator_id, assignment_id)
    batch = a.pair.batch
    dims = batch.dim_list
    missing = [d for d in dims if d not in choices]
    unknown = [d for d in choices if d not in dims]
    if missing or unknown:
        raise BadAnswer(
            f"labels: batch {batch.name!r} needs exactly {dims}; missing {missing}, unknown {unknown}"
        )
    for d in dims:
        if choices[d] not in CHOICES:
            raise BadAnswer(f"labels.{d}: {choices[d]!r} is not one of {list(CHOICES)}")
    _check_time(time_spent_ms)
    done = answered_count(s, annotator_id)
    j = Judgment(
        assignment_id=a.id,
        annotator_id=annotator_id,
        order_shown=a.order,
        time_spent_ms=time_spent_ms,
        labels=[Label(dim=d, value=choice_to_label(choices[d], a.order)) for d in dims],
    )
    _insert(s, j, a.id)
    if a.kind == "regular":
        _schedule_control(s, a, batch, done + 1)
    return j


def skip_assignment(
    s: Session, annotator_id: int, assignment_id: int, reason: str, time_spent_ms: int
) -> Judgment:
    """Record a skip with a reason from ``SKIP_REASONS``. Raises like :func:`submit_judgment`."""
    a = _own_assignment(s, annotator_id, assignment_id)
    if reason not in SKIP_REASONS:
        raise BadAnswer(f"reason: {reason!r} is not one of {list(SKIP_REASONS)}")
    _check_time(time_spent_ms)
    j = Judgment(
        assignment_id=a.id,
        annotator_id=annotator_id,
        order_shown=a.order,
        skip_reason=reason,
        time_spent_ms=time_spent_ms,
    )
    return _insert(s, j, a.id)


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
    j.retracted_at = utcnow()
    return j


@dataclass(frozen=True)
class Progress:
    """``done``: answers given; ``remaining``: items this annotator can still expect (an upper
    bound while others work on the same batch)."""

    done: int
    remaining: int


def progress(s: Session, annotator_id: int) -> Progress:
    done = answered_count(s, annotator_id)
    open_n = s.scalar(select(func.count()).select_from(_open(annotator_id).subquery())) or 0
    new_n = s.scalar(select(func.count()).select_from(_candidates(annotator_id).subquery()))
    return Progress(done=done, remaining=int(open_n) + int(new_n or 0))
