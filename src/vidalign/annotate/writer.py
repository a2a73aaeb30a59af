"""Group commit: one thread runs the server's write transactions, several per commit.

Every acknowledged write waits for its commit, and on SQLite (``synchronous=FULL``) a commit
is an fsync of the write-ahead log, a few milliseconds on an ordinary disk. One transaction
per request puts 20 annotators in a queue on the disk, two fsyncs per judgment (the next item
and the answer). Here the writes that arrive while a commit is under way run together next,
each inside its own SAVEPOINT, and one COMMIT makes them all durable. A caller hears back only
after that commit, so an acknowledged write is as durable as before; a write that fails rolls
back to its savepoint and fails alone.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from vidalign.annotate.db import Database

T = TypeVar("T")
Job = Callable[[Session], Any]


class GroupWriter:
    """Runs write jobs ``job(session) -> result`` on one thread, group-committed.

    The thread starts with the first job and ends after ``idle_s`` seconds without one, so
    an app that is built and dropped (as in tests) leaves no thread behind.

    Args:
        db: the database written to.
        max_jobs: the most jobs committed together.
        idle_s: seconds without a job after which the thread ends.
    """

    def __init__(self, db: Database, max_jobs: int = 64, idle_s: float = 5.0) -> None:
        if max_jobs < 1:
            raise ValueError(f"max_jobs={max_jobs}: must be at least 1")
        self.db, self.max_jobs, self.idle_s = db, max_jobs, idle_s
        self._jobs: queue.SimpleQueue[tuple[Job, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[Session], T]) -> Future[T]:
        """Queue ``job``; the future holds its result (or error) once its commit is done.

        A job must return plain data: its session is closed when the result arrives.
        """
        done: Future[T] = Future()
        with self._lock:
            self._jobs.put((job, done))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="vidalign-annotate-writer", daemon=True
                )
                self._thread.start()
        return done

    async def run(self, job: Callable[[Session], T]) -> T:
        """``submit`` from the event loop, awaited without holding a worker thread."""
        return await asyncio.wrap_future(self.submit(job))

    def _loop(self) -> None:
        while True:
            try:
                batch = [self._jobs.get(timeout=self.idle_s)]
            except queue.Empty:
                with self._lock:  # a job queued from now on starts a new thread
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            while len(batch) < self.max_jobs:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Job, Future]]) -> None:
        outcomes: list[tuple[Future, Any, BaseException | None]] = []
        try:
            with self.db.write() as s:
                for job, done in batch:
                    try:
                        with s.begin_nested():
                            result = job(s)
                    except Exception as err:  # this job's own failure: only it is rolled back
                        outcomes.append((done, None, err))
                    else:
                        outcomes.append((done, result, None))
        except Exception as err:  # BEGIN, a savepoint or COMMIT failed: nothing was stored
            for _, done in batch:
                own = next((e for f, _, e in outcomes if f is done and e is not None), None)
                done.set_exception(own or err)
            return
        for done, result, err in outcomes:
            if err is None:
                done.set_result(result)
            else:
                done.set_exception(err)
