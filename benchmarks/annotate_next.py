"""Cost of one annotator's next item against the size of the batch, in process (SQLite).

For each batch size it fills a fresh database part way (``--rounds`` next + judge cycles by
each of ``--annotators`` annotators, k=5) and then times, one call at a time:

- ``next_assignment`` alone, inside its write transaction (the query that grew with the
  batch before ``pairs.live``);
- a whole judgment cycle: ``next_assignment`` + ``submit_judgment`` + the commit, whose
  fsync is a multiple of the disk's flush time;
- ``progress``, the count the server adds to ``GET /api/next`` on a reader thread.

The next item should cost the same at any batch size; ``progress`` still reads the index
entry of every pair below its k. It prints; it never gates CI.

    .venv/bin/python benchmarks/annotate_next.py [--pairs 400,4000,20000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.db import open_database
from vidalign.annotate.queue import next_assignment, progress, submit_judgment
from vidalign.annotate.schema import Batch, Pair

ALL_SAME = {"VQ": "same", "MQ": "same", "TA": "same"}


def _database(path: Path, pairs: int, annotators: int):
    """One batch of ``pairs`` pairs (rows inserted directly: no videos are read)."""
    db, _ = open_database(str(path))
    with db.write() as s:
        batch = Batch(name="b", dims=",".join(ALL_SAME), k=5, seed=0)
        s.add(batch)
        s.flush()
        rows = [
            {"batch_id": batch.id, "row": i, "prompt": f"p{i}", "path_a": "a.mp4",
             "path_b": "b.mp4", "meta": "{}"}
            for i in range(pairs)
        ]  # fmt: skip
        s.execute(insert(Pair), rows)
    return db, [add_annotator(db, f"a{i}")[0] for i in range(annotators)]


def _cycle_ms(db, annotator_id: int) -> tuple[float, float]:
    """(next_assignment, whole cycle) in ms."""
    t0 = time.perf_counter()
    with db.write() as s:
        s.connection()  # BEGIN IMMEDIATE outside the timed call
        t1 = time.perf_counter()
        a = next_assignment(s, annotator_id)
        t2 = time.perf_counter()
        submit_judgment(s, annotator_id, a.id, ALL_SAME, 1)
    return (t2 - t1) * 1000.0, (time.perf_counter() - t0) * 1000.0


def _progress_ms(db, annotator_id: int) -> float:
    t0 = time.perf_counter()
    with db.read() as s:
        progress(s, annotator_id)
    return (time.perf_counter() - t0) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default="400,4000,20000", help="batch sizes, comma-separated")
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10, help="cycles per annotator, timed")
    args = ap.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpus, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print("database: SQLite WAL, synchronous=FULL; median of each timed call")
    work = Path(tempfile.mkdtemp(prefix="vidalign-annotate-next-"))
    try:
        for n in (int(x) for x in args.pairs.split(",")):
            db, ids = _database(work / f"p{n}.db", n, args.annotators)
            cycles = [_cycle_ms(db, aid) for _ in range(args.rounds) for aid in ids]
            counts = [_progress_ms(db, aid) for _ in range(3) for aid in ids]
            db.dispose()
            nexts, whole = zip(*cycles, strict=True)
            print(
                f"  {n:6d} pairs, {len(cycles)} judged: next_assignment "
                f"{statistics.median(nexts):6.2f} ms, cycle with commit "
                f"{statistics.median(whole):6.2f} ms, progress {statistics.median(counts):6.2f} ms"
            )
        print(f"load average after {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
