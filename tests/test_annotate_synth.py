"""The synthetic world's simulated annotators label a batch through the HTTP API.

The world's ``annotate`` draws each rater's A/B/same vote from the pixel oracle's score
differences (Bradley–Terry with ties). Three HTTP annotators, one per rater column, then
do what a person does: fetch the item, watch the two videos the server sends (left and
right, order unknown to them), recognise which clip is which by its content, and click the
side their vote prefers. The export must equal the world's own majority labels.
"""

from __future__ import annotations

import hashlib

import numpy as np
from fastapi.testclient import TestClient

from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.app import create_app
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import open_database
from vidalign.annotate.export import export_pairs
from vidalign.data import PreferencePair, load_pairs
from vidalign.synth.annotators import AnnotatorConfig, annotate
from vidalign.synth.degrade import render_with_failures
from vidalign.synth.oracle import judge
from vidalign.synth.prompts import general_prompts, parse_prompt
from vidalign.video import read_video, write_video

DIMS = ("VQ", "MQ", "TA")
RATERS = 3


def test_simulated_annotators_label_through_http_and_export_matches(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    prompts = general_prompts(8, seed=3)
    failures = [{"noise": 0.8}, {"jitter": 0.8}, {"wrong_colour": 1.0}, {}, {"blur": 0.5}]
    pairs, scores = [], []
    for i, prompt in enumerate(prompts):
        scene = parse_prompt(prompt)
        judged = {}
        for side, sev in (("a", failures[i % 5]), ("b", failures[(i + 2) % 5])):
            path = root / f"p{i}_{side}.mp4"
            write_video(path, render_with_failures(scene, sev, seed=i, size=32, num_frames=8), 8.0)
            judged[side] = judge(read_video(path).frames, prompt)  # the decoded file, as served
        scores.append(judged)
        pairs.append(
            PreferencePair(prompt, f"p{i}_a.mp4", f"p{i}_b.mp4", labels={}, fps_a=8.0, fps_b=8.0)
        )
    differences = {d: np.array([s["a"][d] - s["b"][d] for s in scores]) for d in DIMS}
    world = annotate(differences, seed=11, config=AnnotatorConfig(raters=RATERS, pool=RATERS))
    digest = {p.prompt: {"A": _sha(root / p.path_a), "B": _sha(root / p.path_b)} for p in pairs}
    row_of = {p.prompt: i for i, p in enumerate(pairs)}

    db, _ = open_database(str(tmp_path / "ann.db"))
    import_batch(db, "synth", pairs, videos_root=root, settings=BatchSettings(k=RATERS, seed=7))
    tokens = [add_annotator(db, f"sim{r}")[1] for r in range(RATERS)]
    answered = 0
    with TestClient(create_app(db, root)) as client:
        for r, token in enumerate(tokens):
            headers = {"Authorization": f"Bearer {token}"}
            while (item := client.get("/api/next", headers=headers).json()["item"]) is not None:
                seen = {}
                for side in ("left", "right"):
                    res = client.get(item["videos"][side], headers=headers)
                    assert res.status_code == 200
                    seen[side] = hashlib.sha256(res.content).hexdigest()
                clips = digest[item["prompt"]]
                assert sorted(seen.values()) == sorted(clips.values())
                left_is_a = seen["left"] == clips["A"]
                row = row_of[item["prompt"]]
                choices = {}
                for d in item["dims"]:
                    vote = int(world[d].votes[row, r])  # +1 A, -1 B, 0 same
                    choices[d] = (
                        "same" if vote == 0 else "left" if (vote == 1) == left_is_a else "right"
                    )
                body = {
                    "assignment_id": item["assignment_id"],
                    "labels": choices,
                    "time_spent_ms": 3000,
                }
                assert client.post("/api/judgments", json=body, headers=headers).status_code == 201
                answered += 1
    assert answered == RATERS * len(pairs)

    out = tmp_path / "export.jsonl"
    export_pairs(db, out, videos_root=root)
    exported = load_pairs(out, dims=list(DIMS))
    assert [p.prompt for p in exported] == prompts
    for d in DIMS:
        assert [p.labels[d] for p in exported] == world[d].labels.tolist(), d
    # not a vacuous comparison: the labels hold strict preferences on every dimension
    assert all(any(p.labels[d] != 0 for p in exported) for d in DIMS)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
