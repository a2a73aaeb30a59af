"""The live-assignment count of each pair (``Pair.live``): it equals a recount from the
assignments after any mix of writes, it hands out pairs exactly as the query it replaced
did, an old database is upgraded with it counted, and the next-item query reads a range of
its index (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Select, and_, bindparam, create_engine, exists, func, insert, inspect, select

from test_annotate_support import make_pairs, seeded_db
from vidalign.annotate import queue
from vidalign.annotate.annotators import find_annotator
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import open_database
from vidalign.annotate.errors import SchemaVersionError
from vidalign.annotate.queue import (
    Conflict,
    next_assignment,
    skip_assignment,
    submit_judgment,
    undo_last,
)
from vidalign.annotate.schema import SCHEMA_VERSION, Assignment, Batch, Judgment, Meta, Pair
from vidalign.annotate.writer import GroupWriter

ALL_SAME = {"VQ": "same", "MQ": "same", "TA": "same"}


def _old_candidates(annotator) -> Select:
    """The candidate query before ``Pair.live`` (schema version 1), kept as the reference:
    every pair outer-joined with its unskipped regular assignments and grouped."""
    skipped = exists().where(
        Judgment.assignment_id == Assignment.id,
        Judgment.retracted_at.is_(None),
        Judgment.skip_reason.is_not(None),
    )
    mine = select(Assignment.pair_id).where(
        Assignment.annotator_id == annotator, Assignment.kind == "regular"
    )
    n = func.count(Assignment.id)
    return (
        select(Pair.id, Pair.batch_id, Batch.seed, n.label("live"))
        .join(Batch, Batch.id == Pair.batch_id)
        .outerjoin(
            Assignment,
            and_(Assignment.pair_id == Pair.id, Assignment.kind == "regular", ~skipped),
        )
        .where(Pair.id.not_in(mine))
        .group_by(Pair.id, Pair.batch_id, Batch.id, Batch.k, Batch.seed)
        .having(n < Batch.k)
        .order_by(Batch.id, n, Pair.id)
    )


_WHO = bindparam("annotator_id")
OLD_FIRST = _old_candidates(_WHO).limit(64)
OLD_COUNT = select(func.count()).select_from(_old_candidates(_WHO).subquery())


def _recount(s) -> dict[int, int]:
    """Live regular assignments of every pair, counted from the assignments and skips."""
    skipped = exists().where(
        Judgment.assignment_id == Assignment.id,
        Judgment.retracted_at.is_(None),
        Judgment.skip_reason.is_not(None),
    )
    counts = dict.fromkeys(s.scalars(select(Pair.id)), 0)
    rows = s.execute(
        select(Assignment.pair_id, func.count())
        .where(Assignment.kind == "regular", ~skipped)
        .group_by(Assignment.pair_id)
    )
    counts.update({pair_id: n for pair_id, n in rows})
    return counts


def _stored(s) -> dict[int, int]:
    return dict(s.execute(select(Pair.id, Pair.live)).all())


# ---- a scripted workload -------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One annotator's action: fetch the next item and leave it, judge it, skip it, undo the
    last answer, or fetch, judge and then fail (the job's savepoint is rolled back)."""

    annotator: int  # index into the annotator ids
    op: str  # "fetch" | "judge" | "skip" | "undo" | "fail"


def _script(n_annotators: int, rounds: int, seed: int) -> list[list[Step]]:
    """Rounds of steps, one per annotator in a shuffled order; drawn up front, so that two
    runs of the same script do the same thing wherever their hand-outs agree."""
    rng = random.Random(seed)
    ops, weights = ["fetch", "judge", "skip", "undo", "fail"], [1, 6, 2, 2, 1]
    script = []
    for _ in range(rounds):
        order = rng.sample(range(n_annotators), n_annotators)
        script.append([Step(a, rng.choices(ops, weights)[0]) for a in order])
    return script


def _check_pick(before: list, a, picks: dict[str, int]) -> None:
    """The assignment rule, read off the old query's rows ``before`` the hand-out: a new
    regular item is a pair of the first batch with a candidate, with its fewest live
    assignments."""
    if a is None or a.kind != "regular" or a.pair_id not in {r.id for r in before}:
        return  # no new regular item (a pair in ``before`` is not yet this annotator's)
    first = [r for r in before if r.batch_id == before[0].batch_id]
    fewest = min(r.live for r in first)
    assert a.pair_id in {r.id for r in first if r.live == fewest}
    picks["new"] += 1
    picks["passed_over"] += any(r.live > fewest for r in first)


def _job(step: Step, aid: int, handed: list[tuple], picks: dict | None) -> Callable:
    def job(s):
        if step.op == "undo":
            with contextlib.suppress(Conflict):  # nothing to undo
                undo_last(s, aid)
            return
        before = None if picks is None else s.execute(OLD_FIRST, {"annotator_id": aid}).all()
        a = next_assignment(s, aid)
        if picks is not None:
            _check_pick(before, a, picks)
        handed.append((aid, None, None, None) if a is None else (aid, a.pair_id, a.kind, a.order))
        if a is not None and step.op in ("judge", "fail"):
            submit_judgment(s, aid, a.id, ALL_SAME, 100)
        elif a is not None and step.op == "skip":
            skip_assignment(s, aid, a.id, "unsure", 100)
        if step.op == "fail":
            raise RuntimeError("a job that fails after its writes")

    return job


def _play(
    db,
    ids: list[int],
    script: list[list[Step]],
    check: Callable | None = None,
    picks: dict | None = None,
) -> list:
    """Run the script through the server's group writer (each round's jobs queued together,
    so they share commits and savepoints); returns every item handed out, in order.
    ``check`` runs after each round; with ``picks``, every new regular item is checked
    against the assignment rule (:func:`_check_pick`) and counted there."""
    writer, handed = GroupWriter(db), []
    for round_ in script:
        futures = [writer.submit(_job(st, ids[st.annotator], handed, picks)) for st in round_]
        for f, st in zip(futures, round_, strict=True):
            if st.op == "fail":
                with pytest.raises(RuntimeError):
                    f.result(timeout=60)
            else:
                f.result(timeout=60)
        if check is not None:
            check()
    return handed


def _two_batches(tmp_path, url):
    db, _, tokens, root = seeded_db(
        tmp_path, n_pairs=7, annotators=4, url=url, k=2, repeat_rate=0.3, swap_rate=0.3,
        control_gap=1, seed=3,
    )  # fmt: skip
    settings = BatchSettings(k=3, repeat_rate=0.2, control_gap=2, seed=5)
    import_batch(db, "b2", make_pairs(root, 5, "a blue square"), videos_root=root,
                 settings=settings)  # fmt: skip
    return db, [find_annotator(db, t).id for t in tokens]


def test_live_count_equals_a_recount_after_random_writes(tmp_path, db_url):
    db, ids = _two_batches(tmp_path, db_url)
    seen = {"skips": 0, "undone_skips": 0, "full": 0}

    def check() -> None:
        with db.read() as s:
            stored, recount = _stored(s), _recount(s)
            assert stored == recount
            for aid in ids:
                who = {"annotator_id": aid}
                assert s.execute(queue._first_candidates(s), who).all() == (
                    s.execute(OLD_FIRST, who).all()
                )
                full = s.scalar(OLD_COUNT, who)
                assert s.scalar(queue._CANDIDATE_COUNT, who | {"cap": 10**6}) == full
                assert s.scalar(queue._CANDIDATE_COUNT, who | {"cap": 3}) == min(full, 3)
            skips = select(func.count()).where(Judgment.skip_reason.is_not(None))
            seen["skips"] = s.scalar(skips.where(Judgment.retracted_at.is_(None)))
            seen["undone_skips"] = s.scalar(skips.where(Judgment.retracted_at.is_not(None)))
            k = dict(s.execute(select(Pair.id, Batch.k).join(Batch)).all())
            seen["full"] = max(seen["full"], sum(n >= k[p] for p, n in stored.items()))

    picks = {"new": 0, "passed_over": 0}
    handed = _play(db, ids, _script(len(ids), rounds=40, seed=0), check, picks)
    assert picks["new"] > 20 and picks["passed_over"] > 5  # the rule was put to the test
    # the workload did what the test is about: skips, undone skips, full pairs, controls,
    # annotators left without an item
    assert seen["skips"] > 0 and seen["undone_skips"] > 0 and seen["full"] > 0
    assert {kind for _, _, kind, _ in handed} == {"regular", "repeat", "swap", None}
    with db.write() as s:  # drain the queues: a pair is left below k only when nobody may
        for aid in ids:  # take it (each annotator had it once)
            while (a := next_assignment(s, aid)) is not None:
                submit_judgment(s, aid, a.id, ALL_SAME, 1)
        assert _stored(s) == _recount(s)
        k = dict(s.execute(select(Pair.id, Batch.k).join(Batch)).all())
        had = s.execute(
            select(Assignment.pair_id, func.count()).where(Assignment.kind == "regular")
            .group_by(Assignment.pair_id)
        ).all()  # fmt: skip
        had = dict(had)
        below = [p for p, n in _stored(s).items() if n < k[p]]
        assert below and all(had[p] == len(ids) for p in below)


def _new_database(tmp_path, db_url, request) -> str:
    """A second new database beside ``db_url``'s, on the same kind of server."""
    if "://" in db_url:
        return request.getfixturevalue("postgres_server").database()
    return str(tmp_path / "other.db")


def test_hand_out_order_is_that_of_the_old_query(tmp_path, db_url, request, monkeypatch):
    script = _script(4, rounds=30, seed=1)
    db, ids = _two_batches(tmp_path, db_url)
    new = _play(db, ids, script)
    other = _new_database(tmp_path, db_url, request)
    monkeypatch.setattr(queue, "_first_candidates", lambda s: OLD_FIRST)
    db_old, ids_old = _two_batches(tmp_path, other)
    old = _play(db_old, ids_old, script)
    assert len(new) > 60 and new == old


# ---- the query plan ----------------------------------------------------------------------
def _explain(s, stmt, params: dict) -> str:
    conn = s.connection()
    compiled = stmt.compile(conn.engine)
    if conn.dialect.name == "sqlite":
        args = tuple(compiled.construct_params(params)[k] for k in compiled.positiontup)
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args).all()
        return "\n".join(r[3] for r in rows)
    rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.construct_params(params)).all()
    return "\n".join(r[0] for r in rows)


def test_the_next_candidates_are_a_range_of_the_queue_index(db_url):
    """With 20,000 pairs, the first batch's all full, the first candidates are read as a
    range of ``ix_pairs_queue`` per batch, not by a scan of the pairs."""
    db, _ = open_database(db_url)
    with db.write() as s:
        for name, k in (("done", 1), ("open", 3)):
            b = Batch(name=name, dims="VQ", k=k)
            s.add(b)
            s.flush()
            rows = [
                {"batch_id": b.id, "row": i, "prompt": "p", "path_a": "a", "path_b": "b",
                 "live": (i % 2) * k if name == "open" else k}
                for i in range(10_000)
            ]  # fmt: skip
            s.execute(insert(Pair), rows)
        if not db.is_sqlite:
            s.connection().exec_driver_sql("ANALYZE")
    with db.read() as s:
        plan = _explain(s, queue._first_candidates(s), {"annotator_id": 1})
        got = s.execute(queue._first_candidates(s), {"annotator_id": 1}).all()
    assert len(got) == 64 and {r.live for r in got} == {0}
    if db.is_sqlite:
        assert "SEARCH pairs USING COVERING INDEX ix_pairs_queue (batch_id=? AND live<?)" in plan
        assert "SCAN pairs" not in plan and "TEMP B-TREE" not in plan, plan
    else:  # a bounded range per batch; only those rows are sorted
        assert "Index Cond: ((batch_id = batches.id) AND (live < batches.k))" in plan, plan
        assert "Seq Scan on pairs" not in plan and "Merge Join" not in plan, plan


# ---- schema version 1 ----------------------------------------------------------------------
def _downgrade_to_v1(db) -> None:
    """Turn a database back into schema version 1: no ``pairs.live``, the batch index."""
    with db.write() as s:
        c = s.connection()
        c.exec_driver_sql("DROP INDEX ix_pairs_queue")
        c.exec_driver_sql("ALTER TABLE pairs DROP COLUMN live")
        c.exec_driver_sql("CREATE INDEX ix_pairs_batch_id ON pairs (batch_id)")
        s.merge(Meta(key="schema_version", value="1"))


def _schema(db) -> dict:
    """Columns and indexes of every table, as the database reports them."""
    insp = inspect(db.engine)
    out = {}
    for table in sorted(insp.get_table_names()):
        columns = [
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in insp.get_columns(table)
        ]
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in insp.get_indexes(table)
        )
        out[table] = (columns, indexes)
    return out


def test_a_version_1_database_is_upgraded_with_its_counts(tmp_path, db_url, request):
    db, ids = _two_batches(tmp_path, db_url)
    _play(db, ids, _script(len(ids), rounds=12, seed=2))
    with db.read() as s:
        counted = _stored(s)
        first = {a: s.execute(queue._first_candidates(s), {"annotator_id": a}).all() for a in ids}
        skips = select(func.count()).where(Judgment.skip_reason.is_not(None))
        assert s.scalar(skips.where(Judgment.retracted_at.is_(None))) > 0
        assert s.scalar(skips.where(Judgment.retracted_at.is_not(None))) > 0
    assert len(set(counted.values())) > 2  # counts that a back-fill of zeros would not give
    _downgrade_to_v1(db)
    db.dispose()

    db, token = open_database(db_url)  # upgrades
    assert token is None
    with db.read() as s:
        assert s.get(Meta, "schema_version").value == str(SCHEMA_VERSION) == "2"
        assert _stored(s) == counted == _recount(s)
        for a in ids:
            assert s.execute(queue._first_candidates(s), {"annotator_id": a}).all() == first[a]
    fresh, _ = open_database(_new_database(tmp_path, db_url, request))
    assert _schema(db) == _schema(fresh)  # the schema a new database gets
    db.dispose()
    db, _ = open_database(db_url)  # opened again: nothing left to do

    def check() -> None:
        with db.read() as s:
            assert _stored(s) == _recount(s)

    assert _play(db, ids, _script(len(ids), rounds=10, seed=3), check)  # the queue goes on


def test_a_database_of_an_unknown_version_is_refused_untouched(tmp_path):
    db, _ = open_database(str(tmp_path / "x.db"))
    _downgrade_to_v1(db)
    with db.write() as s:
        s.merge(Meta(key="schema_version", value="0"))
    db.dispose()
    with pytest.raises(SchemaVersionError, match="schema version 0, this vidalign needs 2"):
        open_database(str(tmp_path / "x.db"))
    columns = inspect(create_engine(f"sqlite:///{tmp_path / 'x.db'}")).get_columns("pairs")
    assert "live" not in {c["name"] for c in columns}
