"""The oracle, on clips decoded from real mp4 files: each judge ranks its own failures by
severity, and a failure aimed at one dimension moves the other two far less."""

import numpy as np
import pytest
import torch

from vidalign.synth.degrade import FAILURE_DIMS, FAILURE_MODES
from vidalign.synth.oracle import judge, pointwise_mos
from vidalign.synth.prompts import PromptError
from vidalign.synth.segment import OracleError
from vidalign.synth.validate import VALIDATION_PROMPTS, severity_sweep, spearman

LEVELS = np.linspace(0.0, 1.0, 6)


def _check_sweeps(size: int, frames: int, prompts: list[str], tmp_path) -> None:
    report = []
    ratios = []
    for mode in FAILURE_MODES:
        sweeps = [
            severity_sweep(
                p, mode, LEVELS, seed=7 + i, size=size, num_frames=frames, work_dir=tmp_path
            )
            for i, p in enumerate(prompts)
        ]
        rho = [s.rho for s in sweeps]
        drop = float(np.mean([s.own_drop for s in sweeps]))
        other = max(
            float(np.mean([s.other_moves()[d] for s in sweeps])) for d in sweeps[0].other_moves()
        )
        ratios.append(other / drop)
        report.append(f"{mode}: rho {np.round(rho, 3).tolist()} drop {drop:.3f} other {other:.3f}")
        assert np.mean(rho) >= 0.9 and min(rho) >= 0.8, report[-1]
        assert drop > 0.1, report[-1]  # the own judge really moves
        if mode in SHARED:  # the second judge sees it too, and really moves
            shared = float(np.mean([s.other_moves()[SHARED[mode]] for s in sweeps]))
            assert shared > 0.1, report[-1]
            continue
        assert other <= 0.4 * drop, report[-1]  # the others move far less
    assert np.median(ratios) <= 0.15, report


SHARED = {"missing_object": "MQ"}
"""Failures that two judges see by design: an object that fades out has no motion to judge,
and MQ counts that as failed motion (``vidalign.synth.oracle``)."""


def test_an_empty_clip_has_no_good_motion():
    # A prompted object that is never drawn: MQ must not call its motion perfect.
    prompt = "a large red circle moves right on a gray background"
    empty = torch.full((8, 3, 32, 32), 128, dtype=torch.uint8)
    assert judge(empty, prompt)["MQ"] < 0.05


@pytest.mark.slow
def test_oracle_ranks_failures_64x64x16(tmp_path):
    _check_sweeps(64, 16, [VALIDATION_PROMPTS[0], VALIDATION_PROMPTS[2]], tmp_path)


def test_oracle_ranks_failures_32x32x8(tmp_path):
    _check_sweeps(32, 8, [VALIDATION_PROMPTS[1], VALIDATION_PROMPTS[3]], tmp_path)


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (0, 1, 2) vs (0.5, 0.5, 2): r = 0.866
    assert spearman([1, 2, 3], [5, 5, 9]) == pytest.approx(np.sqrt(3) / 2)


def test_bad_videos_get_low_scores_not_errors():
    prompt = "a large red circle moves right and a small blue square bounces on a gray background"
    rng = np.random.default_rng(0)
    clips = {
        "noise": torch.from_numpy(rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)),
        "black": torch.zeros(8, 3, 40, 40, dtype=torch.uint8),
        "grey": torch.full((12, 3, 64, 48), 128, dtype=torch.uint8),
        "odd": torch.from_numpy(rng.integers(0, 256, (2, 1, 33, 37), dtype=np.uint8)),
    }
    for name, clip in clips.items():
        scores = judge(clip, prompt)
        assert set(scores) == {"VQ", "MQ", "TA"}
        assert all(0.0 <= v <= 1.0 and np.isfinite(v) for v in scores.values()), name
        assert scores["TA"] < 0.3, (name, scores)
    assert judge(clips["noise"], prompt)["VQ"] < 0.1


@pytest.mark.parametrize(
    "frames, match",
    [
        (torch.zeros(8, 3, 32, 32, dtype=torch.float32), "uint8"),
        (torch.zeros(3, 32, 32, dtype=torch.uint8), "shape"),
        (torch.zeros(8, 4, 32, 32, dtype=torch.uint8), "shape"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "at least 2 frames"),
        ([[1, 2, 3]], "tensor"),
    ],
)
def test_not_a_video_is_an_error(frames, match):
    with pytest.raises(OracleError, match=match):
        judge(frames, "a large red circle moves right on a gray background")


def test_prompt_outside_grammar_is_an_error():
    with pytest.raises(PromptError):
        judge(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), "a cat playing piano")


def test_pointwise_mos():
    assert pointwise_mos({"VQ": 1.0, "MQ": 0.0, "TA": 0.5}) == {"VQ": 5.0, "MQ": 1.0, "TA": 3.0}
    assert set(FAILURE_DIMS.values()) == {"VQ", "MQ", "TA"}
