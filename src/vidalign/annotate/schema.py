"""Database tables of the annotation tool (SQLAlchemy 2 declarative).

One row per batch, pair, annotator, assignment and judgment; one row per judged dimension.
Labels are stored in A/B terms (+1 A better, -1 B better, 0 tie) together with the
left/right order that was shown, so the on-screen choice can always be recovered.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 2
"""Bumped whenever a table changes. ``open_database`` upgrades a database of an older
version it knows (1: no ``pairs.live``) and refuses any other."""

ORDERS = ("AB", "BA")
"""Display orders: "AB" shows video A on the left, "BA" shows video B on the left."""

KINDS = ("regular", "repeat", "swap")
"""Assignment kinds: a regular item, or a control item repeating an earlier one as it was
shown ("repeat", self-consistency) or with left and right exchanged ("swap", position bias)."""

SKIP_REASONS = ("video broken", "unsure")

INT_LIMIT = 2**31
"""Integers stored must lie in (-INT_LIMIT, INT_LIMIT): the ``Integer`` columns are
PostgreSQL's 32-bit INTEGER (SQLite's is 64-bit, and past that its driver raises
OverflowError). Ids and counts in requests and pair files are checked against it
(0 < id < INT_LIMIT) so that a larger one is a 422 or a named row error, not a 500, on
either database."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value settings: ``schema_version``, ``admin_token_hash``, ``created_at``."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    dims: Mapped[str] = mapped_column(Text)  # comma-separated, in display order
    k: Mapped[int] = mapped_column(Integer)  # regular assignments per pair
    repeat_rate: Mapped[float] = mapped_column(Float, default=0.0)
    swap_rate: Mapped[float] = mapped_column(Float, default=0.0)
    control_gap: Mapped[int] = mapped_column(Integer, default=5)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pairs: Mapped[list[Pair]] = relationship(back_populates="batch")

    @property
    def dim_list(self) -> list[str]:
        return self.dims.split(",")


class Pair(Base):
    """A pair to annotate.

    ``live`` counts the pair's regular assignments not answered with a skip (the live
    assignments of ``vidalign.annotate.queue``), kept by every write that creates, skips or
    un-skips one, in the same transaction. The ``queue`` index orders a batch's pairs the
    way they are handed out, so the next candidates are the start of a range of it.
    """

    __tablename__ = "pairs"
    __table_args__ = (
        UniqueConstraint("batch_id", "row"),
        Index("ix_pairs_queue", "batch_id", "live", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))  # ix_pairs_queue leads
    row: Mapped[int] = mapped_column(Integer)  # 0-based position in the imported file
    prompt: Mapped[str] = mapped_column(Text)
    path_a: Mapped[str] = mapped_column(Text)  # relative to the videos root, "/"-separated
    path_b: Mapped[str] = mapped_column(Text)
    fps_a: Mapped[float | None] = mapped_column(Float, nullable=True)  # reward-model sampling
    fps_b: Mapped[float | None] = mapped_column(Float, nullable=True)
    num_frames_a: Mapped[int | None] = mapped_column(Integer, nullable=True)
    num_frames_b: Mapped[int | None] = mapped_column(Integer, nullable=True)
    native_fps_a: Mapped[float | None] = mapped_column(Float, nullable=True)  # for frame steps
    native_fps_b: Mapped[float | None] = mapped_column(Float, nullable=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON object of strings
    live: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    batch: Mapped[Batch] = relationship(back_populates="pairs")


class Annotator(Base):
    __tablename__ = "annotators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("pair_id", "annotator_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="regular")
    control_of: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), nullable=True)
    order: Mapped[str] = mapped_column(String(2))  # "AB" or "BA"
    due_after: Mapped[int] = mapped_column(Integer, default=0)  # controls: judgments done before
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pair: Mapped[Pair] = relationship()


class Judgment(Base):
    """One answer to an assignment: labels for every dimension, or a skip with a reason.

    Undo sets ``retracted_at``; at most one unretracted judgment exists per assignment.
    """

    __tablename__ = "judgments"
    __table_args__ = (
        Index(
            "one_active_judgment",
            "assignment_id",
            unique=True,
            sqlite_where=text("retracted_at IS NULL"),
            postgresql_where=text("retracted_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"), index=True)
    order_shown: Mapped[str] = mapped_column(String(2))
    skip_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    time_spent_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    assignment: Mapped[Assignment] = relationship()
    labels: Mapped[list[Label]] = relationship(back_populates="judgment")


class Label(Base):
    __tablename__ = "labels"
    judgment_id: Mapped[int] = mapped_column(ForeignKey("judgments.id"), primary_key=True)
    dim: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)  # +1 A better, -1 B better, 0 tie

    judgment: Mapped[Judgment] = relationship(back_populates="labels")
