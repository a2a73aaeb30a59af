"""RewardScorer: save / load round trip, normalisation, Overall, inputs, explicit errors."""

import json

import pytest
import torch

from reward_testdata import make_clip
from vidalign.reward.builder import ModelLoadError, build_tiny
from vidalign.reward.processing import SamplingContract, SamplingError
from vidalign.reward.scorer import RewardScorer, ScoreError
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import TinyQwen2VLSpec
from vidalign.video import read_video, write_video

DIMS = ("VQ", "MQ", "TA")


@pytest.fixture(scope="module")
def scorer():
    tpl = RewardTemplate.builtin("default", DIMS)
    contract = SamplingContract(fps=None, num_frames=8, max_pixels=56 * 56)
    model, rp = build_tiny(dims=DIMS, spec=TinyQwen2VLSpec(), contract=contract, template=tpl)
    return RewardScorer(model, rp, batch_size=2)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("vids")
    paths = []
    for i, (colour, frames) in enumerate([("red", 16), ("blue", 12), ("green", 16)]):
        paths.append(
            str(write_video(root / f"v{i}.mp4", make_clip(colour, frames=frames, seed=i), fps=8))
        )
    return paths


def test_save_load_round_trip_and_manifest(scorer, videos, tmp_path):
    prompts = ["a red square", "a blue square", "a green square"]
    stats = scorer.fit_normalization(videos, prompts)
    before = scorer.score(videos, prompts)
    folder = scorer.save_pretrained(tmp_path / "model")
    manifest = json.loads((folder / "vidalign_reward.json").read_text())
    assert manifest["dims"] == list(DIMS)
    assert manifest["sampling"] == {
        "fps": None,
        "num_frames": 8,
        "max_pixels": 3136,
        "min_pixels": None,
    }
    assert manifest["normalization"]["VQ"]["mean"] == pytest.approx(stats["VQ"][0])
    assert "{prompt}" in manifest["template"]
    loaded = RewardScorer.from_pretrained(folder)
    after = loaded.score(videos, prompts)
    for b, a in zip(before, after):
        assert a == pytest.approx(b, abs=1e-6)
    # normalised on the fitting set: mean 0, std 1 per dimension
    z = torch.tensor([[row[d] for d in DIMS] for row in after])
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=1e-4, rtol=0)


def test_overall_weights_raw_and_input_kinds(scorer, videos):
    prompts = ["a red square", "a blue square", "a green square"]
    scorer.fit_normalization(videos, prompts)
    row = scorer.score(videos[:1], prompts[:1], weights={"VQ": 0.5, "MQ": 0.0, "TA": 2.0})[0]
    assert row["Overall"] == pytest.approx(0.5 * row["VQ"] + 2.0 * row["TA"])
    mean, std = scorer.stats["TA"]
    assert row["TA"] == pytest.approx((row["TA_raw"] - mean) / std)
    raw = scorer.score(videos[:1], prompts[:1], normalize=False)[0]
    assert raw["VQ"] == pytest.approx(row["VQ_raw"]) and raw["Overall"] == pytest.approx(
        raw["VQ"] + raw["MQ"] + raw["TA"]
    )
    video = read_video(videos[0], num_frames=8, max_pixels=56 * 56)
    default = scorer.score(videos[:1], prompts[:1])[0]
    as_video = scorer.score([video], prompts[:1])[0]
    as_tensor = scorer.score([video.frames], prompts[:1])[0]
    assert as_video == pytest.approx(default, abs=1e-5)
    assert as_tensor == pytest.approx(default, abs=1e-5)
    with pytest.raises(Exception, match="weights"):
        scorer.score(videos[:1], prompts[:1], weights={"VQ": 1.0})


def test_batching_by_length_keeps_input_order(scorer, videos):
    prompts = ["a red square", "a blue square", "a green square"]
    together = scorer.score(videos, prompts, normalize=False)
    alone = [scorer.score([v], [p], normalize=False)[0] for v, p in zip(videos, prompts)]
    for t, a in zip(together, alone):
        assert t == pytest.approx(a, abs=1e-5)


def test_float_tensor_input_keeps_gradients(scorer):
    frames = (make_clip("red").float() / 255).requires_grad_()
    row = scorer.score([frames], ["a red square"], normalize=False)[0]
    assert isinstance(row["Overall"], torch.Tensor)
    row["Overall"].backward()
    assert frames.grad.abs().sum() > 0


def test_errors_name_the_video_and_are_never_numbers(scorer, videos, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ScoreError) as err:
        scorer.score([videos[0], str(bad)], ["a", "b"], normalize=False)
    # the path once, at the start; PyAV's own text without the path it repeats
    want = f"{bad}: not a readable video file (Invalid data found when processing input)"
    assert str(err.value) == want
    rows = scorer.score([videos[0], str(bad)], ["a", "b"], normalize=False, errors="report")
    assert rows[1] == {"error": want}
    assert isinstance(rows[0]["VQ"], float)
    with pytest.raises(ScoreError, match="prompt must be text"):
        scorer.score([videos[0]], [None], normalize=False)
    with pytest.raises(SamplingError, match="fps or num_frames"):
        scorer.score(videos[:1], ["a"], fps=2.0, num_frames=8)
    with pytest.raises(ModelLoadError, match="not a vidalign reward model"):
        RewardScorer.from_pretrained(tmp_path)
