"""The score cache: each (video, prompt) once, resumable after a kill, loud or explicit skips."""

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from vidalign.eval.score_cache import (
    ScoringError,
    drop_skipped,
    pair_items,
    score_items,
    write_skipped,
)


class CountingScorer:
    """Score = a number read from the file; remembers every video it scored."""

    def __init__(self, fail_after=None, fail_on=(), nan_on=()):
        self.dims = ["VQ", "MQ"]
        self.seen = []  # videos whose scores were returned
        self.n_done = 0  # videos processed, also inside a batch that then failed
        self.calls = 0
        self.fail_after = fail_after
        self.fail_on = fail_on
        self.nan_on = nan_on

    def score(self, videos, prompts, *, normalize=True, weights=None):
        self.calls += 1
        out = []
        for v, p in zip(videos, prompts):
            if self.fail_after is not None and self.n_done >= self.fail_after:
                raise RuntimeError("killed")  # dead from here on, like a killed process
            if any(s in str(v) for s in self.fail_on):
                raise ValueError(f"cannot decode {v}")
            x = float(Path(v).read_text())
            vq = math.nan if any(s in str(v) for s in self.nan_on) else x
            out.append({"VQ": vq, "MQ": x + len(p), "Overall": vq + x + len(p)})
            self.n_done += 1
        self.seen += [str(v) for v in videos]
        return out


def make_videos(tmp_path, n):
    paths = []
    for i in range(n):
        p = tmp_path / f"v{i}.mp4"
        p.write_text(str(i))
        paths.append(str(p))
    return paths


def test_pair_items_unique_in_order():
    pairs = [
        SimpleNamespace(prompt="x", path_a="a", path_b="b"),
        SimpleNamespace(prompt="x", path_a="b", path_b="c"),
        SimpleNamespace(prompt="y", path_a="a", path_b="b"),
    ]
    assert pair_items(pairs) == [("a", "x"), ("b", "x"), ("c", "x"), ("a", "y"), ("b", "y")]


def test_scores_each_item_once_and_reuses_the_cache(tmp_path):
    vids = make_videos(tmp_path, 5)
    items = [(v, "p") for v in vids]
    cache = tmp_path / "cache.jsonl"
    s1 = CountingScorer()
    t1 = score_items(s1, items, cache, scorer_id="s", batch_size=2, progress=False)
    assert (t1.n_scored, t1.n_cached) == (5, 0)
    assert s1.calls == 3 and sorted(s1.seen) == sorted(vids)
    assert t1.scores[(vids[3], "p")] == {"VQ": 3.0, "MQ": 4.0, "Overall": 7.0}
    assert len(cache.read_text().splitlines()) == 5

    s2 = CountingScorer()
    t2 = score_items(s2, items, cache, scorer_id="s", progress=False)
    assert (t2.n_scored, t2.n_cached, s2.calls) == (0, 5, 0)
    assert t2.scores == t1.scores

    # another scorer id, another prompt and an edited file are scored anew
    s3 = CountingScorer()
    t3 = score_items(s3, [*items, (vids[0], "q")], cache, scorer_id="other", progress=False)
    assert t3.n_scored == 6
    os.utime(vids[1], ns=(1, 1))
    s4 = CountingScorer()
    t4 = score_items(s4, items, cache, scorer_id="s", progress=False)
    assert s4.seen == [vids[1]] and t4.n_cached == 4


def test_killed_run_resumes_with_only_the_rest(tmp_path):
    vids = make_videos(tmp_path, 7)
    items = [(v, "p") for v in vids]
    cache = tmp_path / "cache.jsonl"
    # dies at the 4th video: batch [v0, v1] is saved, batch [v2, v3] fails, and the
    # one-at-a-time retry pins the error on v2
    with pytest.raises(ScoringError, match=r"v2\.mp4.*RuntimeError: killed"):
        score_items(
            CountingScorer(fail_after=3), items, cache, scorer_id="s", batch_size=2, progress=False
        )
    assert len(cache.read_text().splitlines()) == 2

    rest = CountingScorer()
    resumed = score_items(rest, items, cache, scorer_id="s", batch_size=2, progress=False)
    assert rest.seen == vids[2:]
    assert (resumed.n_cached, resumed.n_scored) == (2, 5)
    full = score_items(
        CountingScorer(), items, tmp_path / "fresh.jsonl", scorer_id="s", progress=False
    )
    assert resumed.scores == full.scores


def test_truncated_last_line_is_rescored(tmp_path):
    vids = make_videos(tmp_path, 3)
    items = [(v, "p") for v in vids]
    cache = tmp_path / "cache.jsonl"
    score_items(CountingScorer(), items[:2], cache, scorer_id="s", progress=False)
    lines = cache.read_text().splitlines()
    cache.write_text(lines[0] + "\n" + lines[1][:20])  # killed while writing line 2
    s = CountingScorer()
    t = score_items(s, items, cache, scorer_id="s", progress=False)
    assert s.seen == vids[1:]
    assert t.n_cached == 1
    entries = [json.loads(x) for x in cache.read_text().splitlines()[2:]]
    assert [e["path"] for e in entries] == [os.path.abspath(v) for v in vids[1:]]


def test_failures_name_the_video_and_are_never_numbers(tmp_path):
    vids = make_videos(tmp_path, 3)
    items = [(v, "p") for v in vids]
    with pytest.raises(ScoringError, match=r"v1\.mp4.*ValueError: cannot decode"):
        score_items(
            CountingScorer(fail_on=["v1"]),
            items,
            tmp_path / "c1.jsonl",
            scorer_id="s",
            batch_size=3,
            progress=False,
        )
    with pytest.raises(ScoringError, match=r"non-finite reward for \['VQ', 'Overall'\].*v2\.mp4"):
        score_items(
            CountingScorer(nan_on=["v2"]),
            items,
            tmp_path / "c2.jsonl",
            scorer_id="s",
            progress=False,
        )
    missing = str(tmp_path / "gone.mp4")
    with pytest.raises(ScoringError, match=r"1 video\(s\) not found.*gone\.mp4"):
        score_items(
            CountingScorer(),
            [*items, (missing, "p")],
            tmp_path / "c3.jsonl",
            scorer_id="s",
            progress=False,
        )


def test_skip_mode_records_and_excludes(tmp_path):
    vids = make_videos(tmp_path, 4)
    missing = str(tmp_path / "gone.mp4")
    pairs = [
        SimpleNamespace(prompt="p", path_a=vids[0], path_b=vids[1]),
        SimpleNamespace(prompt="p", path_a=vids[2], path_b=vids[1]),
        SimpleNamespace(prompt="p", path_a=vids[2], path_b=vids[3]),
        SimpleNamespace(prompt="p", path_a=vids[0], path_b=missing),
    ]
    t = score_items(
        CountingScorer(fail_on=["v1"]),
        pair_items(pairs),
        tmp_path / "c.jsonl",
        scorer_id="s",
        batch_size=4,
        skip_errors=True,
        progress=False,
    )
    assert sorted(s.path for s in t.skipped) == sorted([vids[1], missing])
    assert set(t.scores) == {(vids[i], "p") for i in (0, 2, 3)}
    reasons = {s.path: s.reason for s in t.skipped}
    assert "ValueError: cannot decode" in reasons[vids[1]]
    assert "cannot stat" in reasons[missing]
    kept = drop_skipped(pairs, t.skipped)
    assert kept == [pairs[2]]
    out = write_skipped(tmp_path / "skipped.jsonl", [("model", s) for s in t.skipped])
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["path"] for r in rows} == {vids[1], missing} and rows[0]["scorer"] == "model"


def test_skip_mode_refuses_a_scorer_that_fails_everything(tmp_path):
    vids = make_videos(tmp_path, 3)
    with pytest.raises(ScoringError, match=r"every one of 3 videos failed.*v0\.mp4"):
        score_items(
            CountingScorer(fail_on=["v"]),
            [(v, "p") for v in vids],
            tmp_path / "c.jsonl",
            scorer_id="s",
            skip_errors=True,
            progress=False,
        )
