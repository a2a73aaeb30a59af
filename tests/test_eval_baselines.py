"""Random and Oracle baselines: deterministic, identity-true, weighted Overall."""

import shutil

import numpy as np
import pytest
import torch

from vidalign.eval.baselines import RandomScorer, video_fingerprint
from vidalign.eval.scorer import EvalError, Scorer


def test_random_is_deterministic_per_video_and_prompt(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(b"clip-a")
    b.write_bytes(b"clip-b")
    sc = RandomScorer(["VQ", "MQ", "TA"], seed=3)
    assert isinstance(sc, Scorer)
    alone = sc.score([str(a)], ["p"])[0]
    batch = sc.score([str(b), str(a), str(a)], ["p", "p", "q"])
    assert batch[1] == alone  # same video, same prompt: same score in any batch or position
    assert batch[2]["VQ"] != alone["VQ"]  # another prompt
    assert batch[0]["VQ"] != alone["VQ"]  # another video
    assert RandomScorer(["VQ", "MQ", "TA"], seed=3).score([str(a)], ["p"])[0] == alone
    assert RandomScorer(["VQ", "MQ", "TA"], seed=4).score([str(a)], ["p"])[0] != alone
    # identity is the content: a copy elsewhere scores the same
    shutil.copy(a, tmp_path / "copy.mp4")
    assert sc.score([str(tmp_path / "copy.mp4")], ["p"])[0] == alone
    # a dimension's draw does not depend on which other dimensions exist
    assert RandomScorer(["TA"], seed=3).score([str(a)], ["p"])[0]["TA"] == alone["TA"]


def test_random_overall_and_distribution():
    frames = [torch.full((2, 3, 4, 4), i, dtype=torch.uint8) for i in range(20)]
    sc = RandomScorer(["VQ", "MQ"], seed=0)
    videos = frames * 20
    prompts = [f"p{i // 20}" for i in range(400)]
    out = sc.score(videos, prompts, weights={"VQ": 2.0, "MQ": -1.0})
    for s in out:
        assert s["Overall"] == pytest.approx(2 * s["VQ"] - s["MQ"])
    vq = np.array([s["VQ"] for s in out])
    assert abs(vq.mean()) < 0.2 and 0.8 < vq.std() < 1.2  # N(0, 1), so normalize is a no-op
    # tensors and arrays with the same frames are the same video
    assert video_fingerprint(frames[5]) == video_fingerprint(frames[5].numpy())
    assert video_fingerprint(frames[5]) != video_fingerprint(frames[6])
    with pytest.raises(EvalError, match="2 videos but 1 prompts"):
        sc.score(frames[:2], ["p"])
    with pytest.raises(EvalError, match="cannot identify"):
        video_fingerprint(3.5)
