"""Load test of the annotation server: 20 concurrent simulated annotators, 2,000 judgments.

Starts ``vidalign annotate serve`` as a subprocess on 127.0.0.1 (loopback only), lets
20 client threads fetch and submit until the batch is done (400 pairs x k=5), then prints
throughput, p50/p95 latency of ``GET /api/next`` and ``POST /api/judgments``, the server's
CPU time per judgment, and checks in the database that every acknowledged judgment is
stored. It prints; it never gates CI.

Wall-clock numbers move with whatever else the machine runs. Two costs that move much less
are printed after them: one annotator alone against a fresh server (server CPU and latency
per judgment), and the SQL statements one judgment cycle (next item + answer) sends, counted
in-process on the same app.

    .venv/bin/python benchmarks/annotate_load.py [--annotators 20] [--pairs 400] [--k 5]
                                                 [--single 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import event, func, select

from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import open_database
from vidalign.annotate.schema import Judgment
from vidalign.data import PreferencePair
from vidalign.video import write_video

DIMS = ("VQ", "MQ", "TA")
DEADLINE_S = 300.0


@dataclass
class Tally:
    """What the clients saw: latencies (s), acknowledged judgment ids, errors."""

    next_s: list[float] = field(default_factory=list)
    post_s: list[float] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000.0, q)) if xs else float("nan")


def _database(work: Path, root: Path, pairs: int, k: int, annotators: int) -> tuple[Path, list]:
    """A fresh database with one batch and ``annotators`` tokens."""
    batch = [
        PreferencePair(
            prompt=f"prompt {i}", path_a=f"v{i % 20}.mp4", path_b=f"v{i % 20 + 1}.mp4", labels={}
        )
        for i in range(pairs)
    ]
    db_path = work / "ann.db"
    db, _ = open_database(str(db_path))
    import_batch(db, "load", batch, videos_root=root, settings=BatchSettings(k=k))
    tokens = [add_annotator(db, f"sim{i}")[1] for i in range(annotators)]
    db.dispose()
    return db_path, tokens


@contextmanager
def _server(db_path: Path, root: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    port = _port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "vidalign.cli.annotate", "serve", "--db", str(db_path)]
    cmd += ["--videos-root", str(root), "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield server, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _one(c: httpx.Client, rr: np.random.Generator, tally: Tally) -> bool:
    """Fetch and answer one item; True when the queue is empty."""
    t0 = time.perf_counter()
    r = c.get("/api/next")
    t1 = time.perf_counter()
    if r.status_code != 200:
        with tally.lock:
            tally.errors.append(f"next {r.status_code}")
        return False
    item = r.json()["item"]
    if item is None:
        return True
    labels = {d: ("left", "right", "same")[int(rr.integers(3))] for d in DIMS}
    body = {"assignment_id": item["assignment_id"], "labels": labels, "time_spent_ms": 1}
    r = c.post("/api/judgments", json=body)
    t2 = time.perf_counter()
    with tally.lock:
        tally.next_s.append(t1 - t0)
        tally.post_s.append(t2 - t1)
        if r.status_code == 201:
            tally.acked.append(r.json()["judgment_id"])
        else:
            tally.errors.append(f"post {r.status_code}")
    return False


def _annotate(base: str, token: str, seed: int, tally: Tally, limit: int | None) -> None:
    """One annotator: answer until the queue is empty, the deadline or ``limit`` answers."""
    rr = np.random.default_rng(seed)
    t_end = time.monotonic() + DEADLINE_S
    headers = {"Authorization": f"Bearer {token}"}
    answered = 0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        while time.monotonic() < t_end and (limit is None or answered < limit):
            try:
                if _one(c, rr, tally):
                    return
            except httpx.TransportError as err:  # e.g. a reused keep-alive socket
                with tally.lock:
                    tally.errors.append(f"transport {type(err).__name__}")
                continue
            answered += 1


def _run(base: str, tokens: list[str], server_pid: int, limit: int | None = None) -> dict:
    tally = Tally()
    threads = [
        threading.Thread(target=_annotate, args=(base, t, i, tally, limit))
        for i, t in enumerate(tokens)
    ]
    start = time.perf_counter()
    cpu0, client0 = _cpu_s(server_pid), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    server_cpu, client_cpu = _cpu_s(server_pid) - cpu0, time.process_time() - client0
    return {"tally": tally, "wall": wall, "server_cpu": server_cpu, "client_cpu": client_cpu}


def _statements_per_cycle(db_path: Path, root: Path, token: str, cycles: int = 50) -> float:
    """SQL statements (commits included) of one next + answer cycle, in-process."""
    from fastapi.testclient import TestClient

    from vidalign.annotate.app import create_app

    db, _ = open_database(str(db_path))
    count = [0]

    @event.listens_for(db.engine, "before_cursor_execute")
    def _statement(*_args) -> None:
        count[0] += 1

    @event.listens_for(db.engine, "commit")
    def _commit(*_args) -> None:
        count[0] += 1

    tally = Tally()
    with TestClient(create_app(db, root), headers={"Authorization": f"Bearer {token}"}) as c:
        rr = np.random.default_rng(0)
        _one(c, rr, tally)  # warm: the token lookup, the first statements compiled
        count[0] = 0
        for _ in range(cycles):
            _one(c, rr, tally)
    db.dispose()
    if tally.errors or len(tally.acked) != cycles + 1:
        raise RuntimeError(f"statement count run failed: {tally.errors}")
    return count[0] / cycles


def _stored(db_path: Path) -> tuple[set[int], int]:
    db, _ = open_database(str(db_path))
    with db.read() as s:
        live = set(s.scalars(select(Judgment.id).where(Judgment.retracted_at.is_(None))))
        n = int(s.scalar(select(func.count(Judgment.id))) or 0)
    db.dispose()
    return live, n


def _print_latency(tally: Tally) -> None:
    for name, xs in (("GET /api/next", tally.next_s), ("POST /api/judgments", tally.post_s)):
        print(f"  {name:20s} p50 {_pct(xs, 50):7.1f} ms   p95 {_pct(xs, 95):7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--single", type=int, default=200, help="judgments of the one-annotator run")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidalign-annotate-load-"))
    try:
        root = work / "videos"
        root.mkdir()
        rng = np.random.default_rng(0)
        for i in range(21):
            frames = rng.integers(0, 255, (8, 3, 32, 32), dtype=np.uint8)
            write_video(root / f"v{i}.mp4", frames, 8.0)
        expected = args.pairs * args.k
        print(
            f"machine: {platform.platform()}, {os.cpu_count()} cpus, "
            f"python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
        )
        print("database: SQLite WAL, synchronous=FULL")

        (work / "load").mkdir()
        db_path, tokens = _database(work / "load", root, args.pairs, args.k, args.annotators)
        with _server(db_path, root) as (server, base):
            load = _run(base, tokens, server.pid)
        tally = load["tally"]
        live, n_stored = _stored(db_path)
        lost = sorted(set(tally.acked) - live)
        kinds = {e: tally.errors.count(e) for e in sorted(set(tally.errors))}
        acked = max(len(tally.acked), 1)
        print(
            f"\n{args.annotators} annotators, {args.pairs} pairs x k={args.k} = {expected} "
            f"judgments; load average after {os.getloadavg()[0]:.2f}"
        )
        print(f"  acknowledged: {len(tally.acked)}, stored in the database: {n_stored}, ", end="")
        print(f"lost: {len(lost)}, errors: {kinds or 0}")
        print(
            f"  wall: {load['wall']:.2f} s, throughput: {len(tally.acked) / load['wall']:.1f} "
            "judgments/s"
        )
        _print_latency(tally)
        print(
            f"  CPU per judgment: server {load['server_cpu'] / acked * 1000:.2f} ms, "
            f"clients {load['client_cpu'] / acked * 1000:.2f} ms"
        )

        (work / "single").mkdir()
        # k=1: the second annotator finds the pairs the first left for the statement count
        db1, tokens1 = _database(work / "single", root, args.single + 64, 1, 2)
        with _server(db1, root) as (server, base):
            solo = _run(base, tokens1[:1], server.pid, limit=args.single)
        n1 = max(len(solo["tally"].acked), 1)
        print(f"\n1 annotator, {len(solo['tally'].acked)} judgments against a fresh server")
        print(f"  server CPU per judgment: {solo['server_cpu'] / n1 * 1000:.2f} ms")
        _print_latency(solo["tally"])
        per_cycle = _statements_per_cycle(db1, root, tokens1[1])
        print(f"  SQL statements per judgment (next + answer, commits included): {per_cycle:.1f}")

        if lost or n_stored != expected or len(tally.acked) != expected:
            print(
                f"\nCHECK FAILED: lost {lost[:10]}, acknowledged {len(tally.acked)}, "
                f"stored {n_stored} of {expected}"
            )
        else:
            print("\ncheck: every acknowledged judgment is stored; none lost")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
