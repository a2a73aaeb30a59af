"""Load test of the annotation server: 20 concurrent simulated annotators, 2,000 judgments.

Starts ``vidalign annotate serve`` as a subprocess on 127.0.0.1 (loopback only), lets
20 client threads fetch and submit until the batch is done (400 pairs x k=5), then prints
throughput, p50/p95 latency of ``GET /api/next`` and ``POST /api/judgments``, and checks
in the database that every acknowledged judgment is stored. It prints; it never gates CI.

    .venv/bin/python benchmarks/annotate_load.py [--annotators 20] [--pairs 400] [--k 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, select

from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import open_database
from vidalign.annotate.schema import Judgment
from vidalign.data import PreferencePair
from vidalign.video import write_video

DIMS = ("VQ", "MQ", "TA")
DEADLINE_S = 300.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000.0, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidalign-annotate-load-"))
    root = work / "videos"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(21):
        write_video(root / f"v{i}.mp4", rng.integers(0, 255, (8, 3, 32, 32), dtype=np.uint8), 8.0)
    pairs = [
        PreferencePair(
            prompt=f"prompt {i}", path_a=f"v{i % 20}.mp4", path_b=f"v{i % 20 + 1}.mp4", labels={}
        )
        for i in range(args.pairs)
    ]
    db_path = work / "ann.db"
    db, _ = open_database(str(db_path))
    import_batch(db, "load", pairs, videos_root=root, settings=BatchSettings(k=args.k))
    tokens = [add_annotator(db, f"sim{i}")[1] for i in range(args.annotators)]
    expected = args.pairs * args.k

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
        lat_next: list[float] = []
        lat_post: list[float] = []
        acked: list[int] = []
        errors: list[str] = []
        lock = threading.Lock()
        t_end = time.monotonic() + DEADLINE_S

        def annotator(i: int) -> None:
            rr = np.random.default_rng(i)
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                while time.monotonic() < t_end:
                    try:
                        done = one(c, rr)
                    except httpx.TransportError as err:  # e.g. a reused keep-alive socket
                        with lock:
                            errors.append(f"transport {type(err).__name__}")
                        continue
                    if done:
                        return

        def one(c: httpx.Client, rr: np.random.Generator) -> bool:
            """Fetch and answer one item; True when the queue is empty."""
            t0 = time.perf_counter()
            r = c.get("/api/next")
            t1 = time.perf_counter()
            if r.status_code != 200:
                with lock:
                    errors.append(f"next {r.status_code}")
                return False
            item = r.json()["item"]
            if item is None:
                return True
            labels = {d: ("left", "right", "same")[int(rr.integers(3))] for d in DIMS}
            body = {"assignment_id": item["assignment_id"], "labels": labels, "time_spent_ms": 1}
            r = c.post("/api/judgments", json=body)
            t2 = time.perf_counter()
            with lock:
                lat_next.append(t1 - t0)
                lat_post.append(t2 - t1)
                if r.status_code == 201:
                    acked.append(r.json()["judgment_id"])
                else:
                    errors.append(f"post {r.status_code}")
            return False

        threads = [threading.Thread(target=annotator, args=(i,)) for i in range(args.annotators)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)

    with db.read() as s:
        stored = set(s.scalars(select(Judgment.id).where(Judgment.retracted_at.is_(None))))
        n_stored = s.scalar(select(func.count(Judgment.id)))
    lost = sorted(set(acked) - stored)
    kinds = {e: errors.count(e) for e in sorted(set(errors))}
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"database: SQLite WAL, synchronous=FULL, {db_path}")
    print(f"annotators: {args.annotators}, pairs: {args.pairs} x k={args.k} = {expected} judgments")
    print(
        f"acknowledged: {len(acked)}, stored: {n_stored}, lost: {len(lost)}, errors: {kinds or 0}"
    )
    print(f"wall: {wall:.2f} s, throughput: {len(acked) / wall:.1f} judgments/s")
    print(f"GET /api/next      p50 {_pct(lat_next, 50):7.1f} ms   p95 {_pct(lat_next, 95):7.1f} ms")
    print(
        f"POST /api/judgments p50 {_pct(lat_post, 50):7.1f} ms   p95 {_pct(lat_post, 95):7.1f} ms"
    )
    print(
        f"mean submit cycle per annotator: {statistics.fmean(lat_next) + statistics.fmean(lat_post):.3f} s"
    )
    if lost or n_stored != expected:
        print(f"CHECK FAILED: lost {lost[:10]}, stored {n_stored} of {expected}")
    else:
        print("check: every acknowledged judgment is stored; none lost")


if __name__ == "__main__":
    main()
