"""Group commit: writes that arrive together share one commit, fail alone, and are answered
only after their commit (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from vidalign.annotate.db import open_database
from vidalign.annotate.schema import Meta
from vidalign.annotate.writer import GroupWriter


def _put(key: str, fail: bool = False):
    def job(s) -> str:
        s.add(Meta(key=key, value="v"))
        s.flush()
        if fail:
            raise ValueError(f"job {key} fails")
        return key

    return job


def test_writes_queued_together_share_a_commit_and_fail_alone(db_url):
    db, _ = open_database(db_url)
    writer = GroupWriter(db)
    commits: list[list[bool]] = []  # at each commit: which futures had an answer already
    futures = []

    @event.listens_for(db.engine, "commit")
    def _on_commit(_conn) -> None:
        commits.append([f.done() for f in futures])

    started, gate = threading.Event(), threading.Event()

    def hold(s) -> str:  # keeps the writer busy while the others queue up
        _put("held")(s)
        started.set()
        assert gate.wait(10)
        return "first"

    first = writer.submit(hold)
    assert started.wait(10)
    futures += [writer.submit(_put(f"k{i}", fail=i == 3)) for i in range(8)]
    gate.set()
    assert first.result(10) == "first"
    assert [f.result(10) for i, f in enumerate(futures) if i != 3] == [
        f"k{i}" for i in range(8) if i != 3
    ]
    with pytest.raises(ValueError, match="job k3 fails"):
        futures[3].result(10)
    assert len(commits) == 2  # the held job alone, then the eight queued behind it at once
    assert not any(commits[1])  # nobody heard back before the commit
    with db.read() as s:
        keys = set(s.scalars(select(Meta.key).where(Meta.key.like("k%"))))
    assert keys == {f"k{i}" for i in range(8) if i != 3}  # k3 rolled back to its savepoint
    db.dispose()


def test_a_failed_commit_fails_every_job_of_its_batch(db_url):
    db, _ = open_database(db_url)
    writer = GroupWriter(db)
    started, gate = threading.Event(), threading.Event()
    held = writer.submit(lambda s: _put("held")(s) and (started.set() or gate.wait(10)))
    assert started.wait(10)
    queued = [writer.submit(_put(f"k{i}")) for i in range(3)]

    @event.listens_for(db.engine, "commit")
    def _refuse(_conn) -> None:
        if len(queued) == 3 and held.done():
            raise OSError("disk full")

    gate.set()
    assert held.result(10) is True
    for f in queued:
        with pytest.raises(OSError, match="disk full"):
            f.result(10)
    event.remove(db.engine, "commit", _refuse)
    with db.read() as s:
        assert s.scalar(select(Meta.key).where(Meta.key.like("k%"))) is None
    assert writer.submit(_put("after")).result(10) == "after"  # the writer goes on
    db.dispose()


def test_the_thread_ends_when_idle_and_restarts(db_url):
    db, _ = open_database(db_url)
    writer = GroupWriter(db, idle_s=0.05)
    assert writer.submit(_put("a")).result(10) == "a"
    thread = writer._thread
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive() and writer._thread is None
    assert writer.submit(_put("b")).result(10) == "b"
    db.dispose()
