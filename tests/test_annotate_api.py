"""HTTP API of the annotation app: every endpoint, auth failures, traversal, bad input."""

from __future__ import annotations

import asyncio
import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from test_annotate_support import make_pairs, seeded_db
from vidalign.annotate.app import create_app
from vidalign.annotate.db import ADMIN_TOKEN_ENV
from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.schema import Judgment, Pair
from vidalign.cli.annotate import main as annotate_main

ALL = ("VQ", "MQ", "TA")


@pytest.fixture
def env(tmp_path, monkeypatch, db_url):
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    db, admin, tokens, root = seeded_db(tmp_path, n_pairs=3, annotators=2, url=db_url, k=2)
    client = TestClient(create_app(db, root))
    yield db, client, admin, tokens, root, tmp_path
    client.close()
    db.dispose()


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def asgi_post(app, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, int]:
    """POST ``chunks`` to ``app`` over raw ASGI; returns (status, chunks the app read)."""
    pulled, sent = 0, []

    async def receive() -> dict:
        nonlocal pulled
        if pulled == len(chunks):
            await asyncio.sleep(60)  # the client has sent everything and waits
        pulled += 1
        return {
            "type": "http.request",
            "body": chunks[pulled - 1],
            "more_body": pulled < len(chunks),
        }

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), pulled


def test_auth_failures(env):
    _, client, admin, tokens, _, _ = env
    for method, url in [("get", "/api/next"), ("get", "/api/me"), ("post", "/api/undo")]:
        r = client.request(method, url)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert client.request(method, url, headers=h("nope")).status_code == 401
        assert client.request(method, url, headers=h(admin)).status_code == 403
    for method, url in [
        ("get", "/api/admin/stats"),
        ("get", "/api/admin/export"),
        ("get", "/api/admin/batches"),
        ("get", "/api/admin/annotators"),
        ("post", "/api/admin/annotators"),
        ("post", "/api/admin/batches"),
    ]:
        assert client.request(method, url).status_code == 401
        assert client.request(method, url, headers=h("nope")).status_code == 401
        assert client.request(method, url, headers=h(tokens[0])).status_code == 403
    # the annotator page redirects to the login form without a valid cookie
    r = client.get("/annotate", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_bodies_are_capped_and_read_only_after_auth(env):
    db, _, admin, tokens, root, _ = env
    app = create_app(db, root, max_body_bytes=4096, max_batch_bytes=1 << 16)
    kib = [b" " * 1024] * 100  # 100 KiB, sent in 1 KiB chunks
    # a declared 100 MB body is refused before a byte is read, token or not
    for headers in ({}, h(tokens[0])):
        big = {**headers, "Content-Length": str(100 << 20), "Content-Type": "application/json"}
        assert asgi_post(app, "/api/judgments", big, kib) == (413, 0)
    # a chunked body (no Content-Length) is not read at all without a valid token ...
    assert asgi_post(app, "/api/judgments", {}, kib) == (401, 0)
    assert asgi_post(app, "/api/admin/batches", h(tokens[0]), kib) == (403, 0)
    # ... and with one, read only until it passes the cap
    status, pulled = asgi_post(app, "/api/judgments", h(tokens[0]), kib)
    assert status == 413 and pulled == 5
    client = TestClient(app)
    r = client.post("/api/skips", content=b" " * 4097, headers=h(tokens[0]))
    assert (
        r.status_code == 413 and r.json()["detail"] == "request body over the limit of 4096 bytes"
    )
    # the batch import has its own, larger cap
    pairs = [
        {"prompt": f"p{i}", "path_a": "clips/c0.mp4", "path_b": "clips/c1.mp4"} for i in range(3)
    ]
    body = {"name": "big", "pairs": pairs, "k": 1, "padding": " " * 8000}
    assert client.post("/api/admin/batches", json=body, headers=h(admin)).status_code == 201
    body["padding"] = " " * (1 << 16)
    assert client.post("/api/admin/batches", json=body, headers=h(admin)).status_code == 413
    with pytest.raises(AnnotateError, match="max_body_bytes=0"):
        create_app(db, root, max_body_bytes=0)


def test_serve_cli_sets_the_body_limits(env, monkeypatch):
    import uvicorn

    db, _, _, tokens, root, _ = env
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.update(app=app))
    argv = ["serve", "--db", db.url, "--videos-root", str(root)]
    assert annotate_main([*argv, "--max-body-bytes", "100"]) == 0
    with TestClient(served["app"]) as client:
        r = client.post("/api/judgments", content=b" " * 101, headers=h(tokens[0]))
        assert r.status_code == 413


def test_admin_env_token(env, monkeypatch):
    _, client, admin, _, _, _ = env
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "env-admin-token")
    assert client.get("/api/admin/batches", headers=h(admin)).status_code == 401
    assert client.get("/api/admin/batches", headers=h("env-admin-token")).status_code == 200


def test_login_cookie_and_page(env):
    _, client, _, tokens, _, _ = env
    assert client.get("/", follow_redirects=False).headers["location"] == "/annotate"
    form = client.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    r = client.post(
        "/login",
        content="token=wrong",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 401 and "Unknown token" in r.text
    r = client.post(
        "/login",
        content=f"token={tokens[0]}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = client.get("/annotate")
    assert page.status_code == 200 and "ann0" in page.text and "annotate.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/api/me").json()["name"] == "ann0"  # cookie auth works for the API
    assert client.get("/static/annotate.js").status_code == 200
    assert client.post("/logout", follow_redirects=False).status_code == 303


def test_next_submit_double_submit_and_judgments(env):
    _, client, _, tokens, _, _ = env
    r = client.get("/api/next", headers=h(tokens[0]))
    assert r.status_code == 200
    item = r.json()["item"]
    assert r.json()["progress"] == {"done": 0, "remaining": 3, "more": False}
    assert item["dims"] == list(ALL) and item["prompt"].startswith("a red circle")
    assert item["fps"] == {"left": 8.0, "right": 8.0} and item["previous"] is None
    body = {
        "assignment_id": item["assignment_id"],
        "labels": {"VQ": "left", "MQ": "same", "TA": "right"},
        "time_spent_ms": 1234,
    }
    r = client.post("/api/judgments", json=body, headers=h(tokens[0]))
    assert r.status_code == 201, r.text
    again = client.post("/api/judgments", json=body, headers=h(tokens[0]))
    assert again.status_code == 409 and "already answered" in again.json()["detail"]
    mine = client.get("/api/judgments", headers=h(tokens[0])).json()["judgments"]
    assert len(mine) == 1 and mine[0]["labels"] == body["labels"]
    assert client.get("/api/judgments", headers=h(tokens[1])).json()["judgments"] == []
    # another annotator cannot answer, see, or stream this assignment
    other = {**body}
    assert client.post("/api/judgments", json=other, headers=h(tokens[1])).status_code == 404
    url = item["videos"]["left"]
    assert client.get(url, headers=h(tokens[1])).status_code == 404
    assert client.get("/api/me", headers=h(tokens[0])).json()["progress"]["done"] == 1


@pytest.mark.parametrize(
    ("labels", "time_ms", "fragment"),
    [
        ({"VQ": "left", "MQ": "same"}, 1, "missing ['TA']"),
        ({"VQ": "left", "MQ": "same", "TA": "B"}, 1, "labels.TA"),
        ({"VQ": "left", "MQ": "same", "TA": "same", "XX": "left"}, 1, "unknown ['XX']"),
        ({"VQ": "left", "MQ": "same", "TA": 1}, 1, "string"),
        ({"VQ": "left", "MQ": "same", "TA": "same"}, -1, "greater than or equal"),
    ],
)
def test_bad_labels_are_422(env, labels, time_ms, fragment):
    _, client, _, tokens, _, _ = env
    item = client.get("/api/next", headers=h(tokens[0])).json()["item"]
    body = {"assignment_id": item["assignment_id"], "labels": labels, "time_spent_ms": time_ms}
    r = client.post("/api/judgments", json=body, headers=h(tokens[0]))
    assert r.status_code == 422
    assert fragment in r.text


def test_unknown_assignment_and_bad_skip(env):
    _, client, _, tokens, _, _ = env
    body = {"assignment_id": 424242, "labels": dict.fromkeys(ALL, "same"), "time_spent_ms": 1}
    assert client.post("/api/judgments", json=body, headers=h(tokens[0])).status_code == 404
    skip = {"assignment_id": 424242, "reason": "unsure", "time_spent_ms": 1}
    assert client.post("/api/skips", json=skip, headers=h(tokens[0])).status_code == 404
    item = client.get("/api/next", headers=h(tokens[0])).json()["item"]
    bad = {"assignment_id": item["assignment_id"], "reason": "lunch", "time_spent_ms": 1}
    assert client.post("/api/skips", json=bad, headers=h(tokens[0])).status_code == 422
    assert client.get("/api/assignments/424242/video/left", headers=h(tokens[0])).status_code == 404
    # not JSON: refused before anything is stored
    r = client.post(
        "/api/judgments",
        content="assignment_id=1",
        headers={**h(tokens[0]), "Content-Type": "text/plain"},
    )
    assert r.status_code == 422


@pytest.mark.parametrize("bad", [0, -1, 2**31, 2**63, 2**64, 10**30])
def test_ids_out_of_range_are_422_not_500(env, bad):
    db, _, admin, tokens, root, _ = env
    client = TestClient(create_app(db, root), raise_server_exceptions=False)
    t = h(tokens[0])
    judged = {"assignment_id": bad, "labels": dict.fromkeys(ALL, "same"), "time_spent_ms": 1}
    assert client.post("/api/judgments", json=judged, headers=t).status_code == 422
    skip = {"assignment_id": bad, "reason": "unsure", "time_spent_ms": 1}
    assert client.post("/api/skips", json=skip, headers=t).status_code == 422
    assert client.get(f"/api/assignments/{bad}/video/left", headers=t).status_code == 422
    if bad > 0:  # other integers that are stored
        pair = {"prompt": "p", "path_a": "clips/c0.mp4", "path_b": "clips/c1.mp4"}
        batch = {"name": "b9", "pairs": [pair | {"num_frames_a": bad}]}
        assert client.post("/api/admin/batches", json=batch, headers=h(admin)).status_code == 422
        batch = {"name": "b9", "pairs": [pair], "seed": bad}
        r = client.post("/api/admin/batches", json=batch, headers=h(admin))
        assert r.status_code == 400 and "seed" in r.json()["detail"]


def test_skip_and_undo(env):
    _, client, _, tokens, _, _ = env
    t = h(tokens[0])
    assert client.post("/api/undo", headers=t).status_code == 409  # nothing to undo
    first = client.get("/api/next", headers=t).json()["item"]
    body = {"assignment_id": first["assignment_id"], "reason": "video broken", "time_spent_ms": 5}
    assert client.post("/api/skips", json=body, headers=t).status_code == 201
    second = client.get("/api/next", headers=t).json()["item"]
    assert second["assignment_id"] != first["assignment_id"]
    labels = {"VQ": "right", "MQ": "left", "TA": "same"}
    judged = {"assignment_id": second["assignment_id"], "labels": labels, "time_spent_ms": 9}
    assert client.post("/api/judgments", json=judged, headers=t).status_code == 201
    r = client.post("/api/undo", headers=t)
    assert r.status_code == 200
    back = r.json()["item"]
    assert back["assignment_id"] == second["assignment_id"] and back["previous"] == labels
    assert (
        client.get("/api/next", headers=t).json()["item"]["assignment_id"] == back["assignment_id"]
    )
    assert client.post("/api/judgments", json=judged, headers=t).status_code == 201


def test_video_range_requests_and_traversal(env):
    db, client, _, tokens, root, tmp_path = env
    t = h(tokens[0])
    item = client.get("/api/next", headers=t).json()["item"]
    url = item["videos"]["left"]
    full = client.get(url, headers=t)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    part = client.get(url, headers={**t, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-19/{len(full.content)}"
    assert part.content == full.content[10:20]
    tail = client.get(url, headers={**t, "Range": "bytes=-8"})
    assert tail.status_code == 206 and tail.content == full.content[-8:]
    assert client.get(url, headers={**t, "Range": "bytes=999999-"}).status_code == 416
    # left and right are the two different videos of the pair
    right = client.get(item["videos"]["right"], headers=t)
    assert right.status_code == 200 and right.content != full.content
    # traversal in the URL never reaches the file system
    aid = item["assignment_id"]
    for bad in (
        f"/api/assignments/{aid}/video/..%2F..%2Fetc%2Fpasswd",
        f"/api/assignments/{aid}/video/../../../etc/passwd",
        "/api/assignments/..%2F1/video/left",
        f"/api/assignments/{aid}/video/A",
        "/static/../app.py",
        "/static/..%2Fapp.py",
    ):
        assert client.get(bad, headers=t).status_code in (404, 422), bad
    # a stored path that escapes the root (tampered database) or a symlink out: 403
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"secret")
    os.symlink(secret, root / "clips" / "escape.mp4")
    for stored in ("../secret.mp4", "clips/escape.mp4", str(secret)):
        with db.write() as s:
            s.execute(update(Pair).values(path_a=stored, path_b=stored))
        r = client.get(url, headers=t)
        assert r.status_code == 403 and b"secret" not in r.content, stored
    with db.write() as s:
        s.execute(update(Pair).values(path_a="clips/gone.mp4", path_b="clips/gone.mp4"))
    assert client.get(url, headers=t).status_code == 404


def test_admin_endpoints(env):
    db, client, admin, tokens, root, _ = env
    a = h(admin)
    r = client.post("/api/admin/annotators", json={"name": "carol"}, headers=a)
    assert r.status_code == 201
    carol = r.json()["token"]
    assert client.get("/api/me", headers=h(carol)).json()["name"] == "carol"
    assert (
        client.post("/api/admin/annotators", json={"name": "carol"}, headers=a).status_code == 400
    )
    names = [x["name"] for x in client.get("/api/admin/annotators", headers=a).json()["annotators"]]
    assert names == ["ann0", "ann1", "carol"]
    pairs = [
        {"prompt": p.prompt, "path_a": p.path_a, "path_b": p.path_b, "meta": p.meta}
        for p in make_pairs(root, 2)
    ]
    r = client.post(
        "/api/admin/batches", json={"name": "b2", "pairs": pairs, "k": 1, "dims": ["TA"]}, headers=a
    )
    assert r.status_code == 201 and r.json()["pairs"] == 2
    bad = [{**pairs[0], "path_b": "../../etc/passwd"}]
    r = client.post("/api/admin/batches", json={"name": "b3", "pairs": bad}, headers=a)
    assert r.status_code == 400 and "outside the videos root" in r.json()["detail"]
    bad = [pairs[0], {**pairs[1], "path_b": "clips/c1.mp4\x00.txt"}]
    r = client.post("/api/admin/batches", json={"name": "b3", "pairs": bad}, headers=a)
    assert r.status_code == 400 and "NUL byte" in r.json()["detail"]
    assert "request: row 2: path_B: " in r.json()["detail"]
    # the checks of `vidalign annotate import`: A and B the same file, a prompt with a
    # control character, a meta key that is a column; nothing of the batch is stored
    bad = [
        {**pairs[0], "path_b": pairs[0]["path_a"]},
        {**pairs[1], "prompt": "p\x1b[2J"},
        {**pairs[1], "meta": {"fps_A": "8"}},
    ]
    r = client.post("/api/admin/batches", json={"name": "b3", "pairs": bad}, headers=a)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "request: row 1: path_B: is the same video as path_A" in detail
    assert "request: row 2: prompt: control character U+001B" in detail
    assert "request: row 3: meta.fps_A: is a column of the pair format" in detail
    batches = client.get("/api/admin/batches", headers=a).json()["batches"]
    assert [(b["name"], b["pairs"], b["dims"]) for b in batches] == [
        ("b1", 3, list(ALL)),
        ("b2", 2, ["TA"]),
    ]
    # two annotators judge pair-by-pair; export gives the majority, stats the agreement
    for tok, choice in ((tokens[0], "left"), (tokens[1], "left")):
        for _ in range(3):
            item = client.get("/api/next", headers=h(tok)).json()["item"]
            assert item["dims"] == list(ALL)  # batch b1 comes first
            body = {
                "assignment_id": item["assignment_id"],
                "labels": dict.fromkeys(ALL, choice),
                "time_spent_ms": 2000,
            }
            assert client.post("/api/judgments", json=body, headers=h(tok)).status_code == 201
    ex = client.get("/api/admin/export", params={"batch": "b1"}, headers=a).json()
    assert ex["dims"] == list(ALL) and len(ex["pairs"]) == 3 and ex["too_few_votes"] == 0
    assert all(p["votes"] == 2 for p in ex["pairs"])
    assert ex["pairs"][0]["meta"] == {"A_model": "m0", "B_model": "m1"}
    assert client.get("/api/admin/export", params={"batch": "nope"}, headers=a).status_code == 400
    st = client.get("/api/admin/stats", params={"batch": "b1"}, headers=a).json()
    assert st["batches"] == ["b1"]
    assert st["dims"]["VQ"]["judgments"] == 6 and st["dims"]["VQ"]["pairs_multi"] == 3
    assert [x["judged"] for x in st["annotators"]] == [3, 3, 0]
    assert st["annotators"][0]["median_seconds"] == 2.0
    with db.read() as s:
        assert s.query(Judgment).count() == 6


def test_a_pair_of_one_file_under_two_names_is_refused_by_api_and_cli(env, capsys):
    db, client, admin, _, root, _ = env
    (root / "clips" / "alias.mp4").symlink_to("c1.mp4")
    pair = {"prompt": "p", "path_a": "clips/c1.mp4", "path_b": "clips/alias.mp4"}
    r = client.post("/api/admin/batches", json={"name": "b2", "pairs": [pair]}, headers=h(admin))
    why = "path_B: clips/alias.mp4 is the same file as path_A clips/c1.mp4"
    assert r.status_code == 400 and f"request: row 1: {why}" in r.json()["detail"]
    (root / "todo.csv").write_text("path_A,path_B,prompt\nclips/c1.mp4,clips/alias.mp4,p\n")
    argv = ["import", str(root / "todo.csv"), "--batch", "b2", "--db", db.url]
    assert annotate_main([*argv, "--videos-root", str(root)]) == 2
    assert f"todo.csv: row 1: {why}" in capsys.readouterr().err
    batches = client.get("/api/admin/batches", headers=h(admin)).json()["batches"]
    assert [b["name"] for b in batches] == ["b1"]
