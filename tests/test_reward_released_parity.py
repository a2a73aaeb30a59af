"""A released VideoReward checkpoint scores as the release's own inference code scores it.

The fixture in ``tests/fixtures/released/`` was made by ``make_fixture.py`` with the
release's code and pinned versions (transformers 4.45.2): a tiny LoRA reward model in the
release layout, clips under the pixel cap, over it and of odd aspect ratios, and the
release's scores for them. Here they are reproduced from the committed files alone, and
each of the four things the release does differently from a plain Qwen2-VL pipeline is
shown to matter: undoing any one moves the scores.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch

from vidalign.reward import load_released
from vidalign.reward.builder import ModelLoadError
from vidalign.reward.model import plain_position_ids
from vidalign.reward.scorer import MANIFEST, RewardScorer
from vidalign.video import RELEASE_VIDEO_MIN_PIXELS

FIXTURE = Path(__file__).parent / "fixtures" / "released"
EXPECTED = json.loads((FIXTURE / "expected_scores.json").read_text())
CLIPS = EXPECTED["clips"]
DIMS = EXPECTED["dims"]
VIDEOS = [str(FIXTURE / c["video"]) for c in CLIPS]
PROMPTS = [c["prompt"] for c in CLIPS]
TOLERANCE = 1e-3


def load(folder: Path = FIXTURE / "videoreward", base: Path = FIXTURE / "base") -> RewardScorer:
    return load_released(folder, base_model=base, template=FIXTURE / "template.txt")


@pytest.fixture(scope="module")
def scorer() -> RewardScorer:
    return load()


def worst_gap(rows: list[dict]) -> float:
    """Largest |vidalign − release| over raw and normalised scores of every clip."""
    gaps = []
    for clip, row in zip(CLIPS, rows, strict=True):
        gaps += [abs(row[f"{d}_raw"] - clip["raw"][d]) for d in DIMS]
        gaps += [abs(row[k] - v) for k, v in clip["normalized"].items()]
    return max(gaps)


def test_fixture_covers_the_cases():
    # stage 1 scales a small clip up past the processor's cap, stage 2 brings it down;
    # sizes of the sources differ, and so do their rates and aspect ratios
    names = [c["video"] for c in CLIPS]
    assert any("under_cap" in n for n in names) and any("over_cap" in n for n in names)
    assert any("odd_aspect" in n for n in names)
    assert len({tuple(c["video_grid_thw"]) for c in CLIPS}) >= 4
    assert EXPECTED["versions"]["transformers"] == "4.45.2"


def test_scores_match_the_release_one_at_a_time(scorer):
    rows = [scorer.score([v], [p])[0] for v, p in zip(VIDEOS, PROMPTS)]
    assert worst_gap(rows) < TOLERANCE


def test_scores_match_the_release_batched(scorer):
    scorer.batch_size = 8
    assert worst_gap(scorer.score(VIDEOS, PROMPTS)) < TOLERANCE
    scorer.batch_size = 2  # several batches, each padded differently
    assert worst_gap(scorer.score(VIDEOS, PROMPTS)) < TOLERANCE


def test_patch_grids_and_lengths_match_the_release(scorer):
    for video, clip in zip(VIDEOS, CLIPS):
        processed = scorer.prepare(video)
        assert processed.grid_thw.tolist() == clip["video_grid_thw"], video
        batch = scorer.processor.collate([processed], [clip["prompt"]])
        assert batch["input_ids"].shape[1] == clip["sequence_length"], video


def test_mrope_positions_would_miss_the_release(scorer):
    scorer.model.position_ids = "mrope"
    try:
        assert worst_gap(scorer.score(VIDEOS, PROMPTS)) > 1e-2
    finally:
        scorer.model.position_ids = "plain"


def test_reader_bounds_on_the_processor_would_miss_the_release(scorer):
    # the old loader gave the processor the reader's floor and the data config's cap
    # (224 x 224 here, over the base processor's 12544), so frames were resized again
    size = scorer.processor.processor.video_processor.size
    kept = size["shortest_edge"], size["longest_edge"]
    cap = scorer.processor.contract.max_pixels
    assert cap > kept[1]
    size["shortest_edge"], size["longest_edge"] = RELEASE_VIDEO_MIN_PIXELS, cap
    try:
        under_cap = scorer.prepare(VIDEOS[0])
        assert under_cap.grid_thw.tolist() != CLIPS[0]["video_grid_thw"]
        assert worst_gap(scorer.score(VIDEOS, PROMPTS)) > 1e-2
    finally:
        size["shortest_edge"], size["longest_edge"] = kept


def test_a_rebuilt_tokenizer_would_miss_the_release(scorer):
    from transformers import Qwen2VLProcessor

    from vidalign.reward.tokenizer import add_reward_tokens

    rebuilt = Qwen2VLProcessor.from_pretrained(str(FIXTURE / "base"), local_files_only=True)
    add_reward_tokens(rebuilt.tokenizer, scorer.processor.template.tokens)
    digits = next(p for p in PROMPTS if "10" in p)
    assert rebuilt.tokenizer.tokenize(digits) != scorer.processor.tokenizer.tokenize(digits)
    kept = scorer.processor.tokenizer
    scorer.processor.tokenizer = rebuilt.tokenizer
    try:
        assert worst_gap(scorer.score(VIDEOS, PROMPTS)) > 1e-2
    finally:
        scorer.processor.tokenizer = kept


def test_pil_second_resize_is_what_the_release_does(scorer):
    resized = [i for i, c in enumerate(CLIPS) if "over_cap" not in c["video"]]
    clip = scorer.prepare(VIDEOS[resized[0]])
    scorer.processor.second_resize = "torchvision"
    try:
        other = scorer.prepare(VIDEOS[resized[0]])
    finally:
        scorer.processor.second_resize = "pil"
    assert not torch.equal(clip.pixel_values, other.pixel_values)
    assert clip.grid_thw.tolist() == other.grid_thw.tolist()


def test_plain_positions_count_real_tokens():
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])
    pos = plain_position_ids(mask)
    assert pos.shape == (3, 2, 4)
    assert pos[0].tolist() == [[0, 1, 2, 0], [0, 0, 1, 2]]
    assert torch.equal(pos[0], pos[2])


def test_saved_settings_round_trip_and_old_manifests_load_as_mrope(scorer, tmp_path):
    saved = scorer.save_pretrained(tmp_path / "rm")
    manifest = json.loads((saved / MANIFEST).read_text())
    assert manifest["position_ids"] == "plain" and manifest["second_resize"] == "pil"
    again = RewardScorer.from_pretrained(saved)
    assert worst_gap(again.score(VIDEOS, PROMPTS)) < TOLERANCE

    del manifest["position_ids"], manifest["second_resize"]  # written before the fields
    (saved / MANIFEST).write_text(json.dumps(manifest))
    old = RewardScorer.from_pretrained(saved)
    assert old.model.position_ids == "mrope" and old.processor.second_resize == "torchvision"

    manifest["position_ids"] = "rope2d"
    (saved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="position_ids"):
        RewardScorer.from_pretrained(saved)


def test_a_base_without_tokenizer_json_is_refused(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(FIXTURE / "base", base)
    (base / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match=r"no tokenizer\.json"):
        load(base=base)


def test_the_cli_scores_a_released_folder_the_same(capsys):
    from vidalign.cli.main import main

    argv = ["reward", "score", str(FIXTURE / "videoreward"), "--device", "cpu"]
    argv += ["--template", str(FIXTURE / "template.txt")]
    for video, prompt in zip(VIDEOS, PROMPTS):
        argv += ["--video", video, "--prompt", prompt]
    assert main(argv) == 0  # the base folder is found from model_config.json
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert worst_gap(rows) < TOLERANCE
    explicit = [*argv, "--base-model", str(FIXTURE / "base"), "--batch-size", "1"]
    assert main(explicit) == 0
    assert worst_gap([json.loads(x) for x in capsys.readouterr().out.splitlines()]) < TOLERANCE
    without_template = [a for a in argv if a != str(FIXTURE / "template.txt") and a != "--template"]
    assert main(without_template) == 2
    assert "--template" in capsys.readouterr().err


def test_prefetching_gives_the_same_scores(scorer):
    scorer.batch_size = 2
    scorer.prefetch = 0
    inline = scorer.score(VIDEOS * 2, PROMPTS * 2)
    assert scorer.last_timing.wait_s == pytest.approx(scorer.last_timing.prepare_s)
    scorer.prefetch = 2
    ahead = scorer.score(VIDEOS * 2, PROMPTS * 2)
    assert ahead == inline
    timing = scorer.last_timing
    assert timing.clips == 2 * len(VIDEOS) and timing.forward_s > 0 and timing.prepare_s > 0
    bad = scorer.score([*VIDEOS[:2], str(FIXTURE / "nope.mp4")], PROMPTS[:3], errors="report")
    assert "nope.mp4" in bad[2]["error"]
    for got, want in zip(bad[:2], ahead[:2]):  # other batches: float rounding only
        assert got == pytest.approx(want, abs=1e-5)
    scorer.prefetch = 1
