"""The ``vidalign annotate`` CLI end to end, and a real server killed with SIGKILL mid-stream,
on SQLite and on PostgreSQL; oversized bodies sent to the real server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_annotate_support import make_pairs, seeded_db
from vidalign.cli.main import main
from vidalign.data import load_pairs, save_pairs

ALL = ("VQ", "MQ", "TA")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db: str, root: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # the annotate group alone: the same handlers as `vidalign annotate`, without torch
    cmd = [sys.executable, "-m", "vidalign.cli.annotate", "serve", "--db", str(db)]
    cmd += ["--videos-root", str(root), "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def _labels_for(i: int) -> dict[str, str]:
    return {d: ("left", "right", "same")[(i + j) % 3] for j, d in enumerate(ALL)}


@pytest.mark.slow
def test_cli_and_kill9_loses_no_acknowledged_judgment(tmp_path, capsys, db_url):
    root = tmp_path / "videos"
    pairs = make_pairs(root, 16)
    for p in pairs:  # the pair file carries (ignored) labels: load_pairs needs label columns
        p.labels = dict.fromkeys(ALL, 0)
    save_pairs(pairs, root / "pairs.csv")
    db = db_url

    assert main(["annotate", "add-annotator", "alice", "--db", str(db)]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert len(token) > 20 and "admin token" in out.err
    assert main(["annotate", "add-annotator", "alice", "--db", str(db)]) == 2  # name taken
    args = ["annotate", "import", str(root / "pairs.csv"), "--batch", "r1", "--db", str(db)]
    assert main(args) == 2  # no videos root known yet
    assert main([*args, "--videos-root", str(root), "--k", "1"]) == 0
    assert main([*args, "--videos-root", str(root)]) == 2  # batch exists
    capsys.readouterr()

    port = _free_port()
    log = tmp_path / "server.log"
    proc = _start(db, root, port, log)
    acked: dict[int, dict[str, str]] = {}  # judgment_id -> labels, only after 201 arrived
    stop = threading.Event()

    def annotate() -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as c:
            i = 0
            while not stop.is_set():
                try:
                    item = c.get("/api/next").json()["item"]
                    if item is None:
                        return
                    labels = _labels_for(i)
                    body = {
                        "assignment_id": item["assignment_id"],
                        "labels": labels,
                        "time_spent_ms": 10,
                    }
                    r = c.post("/api/judgments", json=body)
                except httpx.TransportError:
                    return  # the server died under us
                if r.status_code == 201:
                    acked[r.json()["judgment_id"]] = labels
                i += 1

    worker = threading.Thread(target=annotate)
    worker.start()
    deadline = time.monotonic() + 60
    while len(acked) < 6 and time.monotonic() < deadline and worker.is_alive():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # mid-stream: requests are still in flight
    proc.wait()
    stop.set()
    worker.join()
    assert len(acked) >= 6

    proc = _start(db, root, port, log)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as c:
            stored = {
                j["judgment_id"]: j["labels"] for j in c.get("/api/judgments").json()["judgments"]
            }
            assert set(acked) <= set(stored)
            assert all(stored[j] == acked[j] for j in acked)
            # finish the batch after the restart
            while (item := c.get("/api/next").json()["item"]) is not None:
                body = {
                    "assignment_id": item["assignment_id"],
                    "labels": _labels_for(0),
                    "time_spent_ms": 10,
                }
                assert c.post("/api/judgments", json=body).status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    assert main(["annotate", "stats", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "alice" in text and "VQ" in text
    assert main(["annotate", "stats", "--db", str(db), "--json"]) == 0
    assert '"judged": 16' in capsys.readouterr().out
    out_csv = tmp_path / "export" / "labels.csv"
    assert main(["annotate", "export", "--db", str(db), "--out", str(out_csv)]) == 0
    exported = load_pairs(out_csv, dims=list(ALL))
    assert len(exported) == 16
    assert [Path(p.path_a).name for p in exported] == [Path(p.path_a).name for p in pairs]
    assert all(Path(p.path_a).is_file() for p in exported)
    assert exported[0].meta == {"A_model": "m0", "B_model": "m1"}
    assert main(["annotate", "rotate-admin-token", "--db", str(db)]) == 0


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) / 1024


def _raw_post(port: int, headers: str, body: Iterator[bytes]) -> tuple[bytes, bytes]:
    """Send a request by hand (declared or chunked length); (status line, body) of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"POST /api/judgments HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused mid-way
            for chunk in body:
                s.sendall(chunk)
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while b"}" not in reply and (data := s.recv(65536)):
                reply += data
    head, _, payload = reply.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], payload


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_the_real_server_refuses_100_mb_bodies_without_reading_them(tmp_path):
    db, _, tokens, root = seeded_db(tmp_path, n_pairs=1, annotators=1, k=1)
    db.dispose()
    port = _free_port()
    proc = _start(str(tmp_path / "ann.db"), root, port, tmp_path / "server.log")
    block = b" " * (1 << 16)
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    mb100 = 1600  # blocks of 64 KiB
    try:
        before = _rss_mb(proc.pid)
        declared = f"Content-Length: {mb100 * len(block)}\r\n"
        chunked, token = "Transfer-Encoding: chunked\r\n", f"Authorization: Bearer {tokens[0]}\r\n"
        for headers, status in [
            (declared, b"413"),  # no token, a declared length over the cap
            (chunked, b"401"),  # no token, no length: refused before the body is read
            (token + chunked, b"413"),  # a token: read until it passes the cap
        ]:
            body = (
                (block for _ in range(mb100))
                if headers == declared
                else (chunk for _ in range(mb100))
            )
            line, payload = _raw_post(port, headers, body)
            assert status in line, (headers, line)
            detail = json.loads(payload)["detail"]
            assert ("over the limit of 1048576 bytes" in detail) == (status == b"413")
        assert _rss_mb(proc.pid) - before < 30  # not 100 MB read into memory, three times
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:  # and it still serves
            assert c.get("/api/me", headers={"Authorization": f"Bearer {tokens[0]}"}).is_success
    finally:
        proc.terminate()
        proc.wait(timeout=20)
