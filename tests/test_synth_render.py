"""Renderer and failure modes: shapes, motion laws worked by hand, seeded determinism."""

import math

import numpy as np
import pytest
import torch

from vidalign.synth.degrade import FAILURE_MODES, render_with_failures
from vidalign.synth.motion import bounce_profile
from vidalign.synth.profiles import PROFILES, sample_clip
from vidalign.synth.prompts import parse_prompt
from vidalign.synth.render import render_clean
from vidalign.synth.scenes import SHAPES
from vidalign.synth.shapes import coverage, sdf


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_has_the_area_of_its_circle(shape):
    ys, xs = np.mgrid[0:200, 0:200] + 0.5
    area = coverage(sdf(shape, xs - 100, ys - 100, 40.0)).sum()
    assert area == pytest.approx(math.pi * 40**2, rel=0.01)


def test_bounce_profile_by_hand():
    # t_f = 0.4, e = 0.5: u = (t/0.4)^2 before contact; the rebound leaves at half the
    # contact speed, peaks at height e^2 = 0.25 (u = 0.75) after 0.5 * 0.4 = 0.2, and lands at 0.8.
    t = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.9])
    u = bounce_profile(t, np.array(0.4), np.array(0.5))
    np.testing.assert_allclose(u[:5], [0.0, 0.25, 1.0, 0.75, 1.0], atol=1e-9)
    assert 0.9 < u[5] < 1.0  # second, lower hop


def _centroid(frames: torch.Tensor, background: tuple[int, int, int]) -> np.ndarray:
    x = frames.numpy().astype(np.float64)
    d = np.abs(x - np.array(background)[None, :, None, None]).sum(axis=1)
    w = d / d.max()  # anti-aliased coverage: sub-pixel centroids
    ys, xs = np.mgrid[0 : x.shape[2], 0 : x.shape[3]]
    return np.stack([(w * xs).sum((1, 2)) / w.sum((1, 2)), (w * ys).sum((1, 2)) / w.sum((1, 2))], 1)


def test_clean_motion_laws():
    moves = render_clean(
        parse_prompt("a large red square moves right on a black background"), seed=1
    )
    assert moves.shape == (16, 3, 64, 64) and moves.dtype == torch.uint8
    c = _centroid(moves, (12, 12, 12))
    steps = np.diff(c[:, 0])
    assert (steps > 1).all() and steps.std() < 0.02  # constant velocity to the right
    assert np.ptp(c[:, 1]) < 0.2
    bounce = _centroid(
        render_clean(parse_prompt("a small red circle bounces on a black background"), seed=2),
        (12, 12, 12),
    )[:, 1]
    low = int(np.argmax(np.diff(bounce) < 0))  # last frame before the first rebound
    assert low > 2 and (np.diff(bounce[: low + 1]) > 0).all()  # falls ...
    assert np.diff(np.diff(bounce[: low + 1])).min() > 0  # ... accelerating (gravity)
    assert bounce[low:].min() < bounce[low] - 3  # then rebounds


@pytest.mark.parametrize("size,frames", [(32, 8), (48, 12), (64, 16)])
def test_any_clip_shape(size, frames):
    clip = sample_clip(
        "a small blue diamond grows and a large white circle moves up on a gray background",
        "grainy-v1",
        seed=0,
        size=size,
        num_frames=frames,
    )
    assert clip.shape == (frames, 3, size, size) and clip.dtype == torch.uint8


def test_failures_are_seeded_and_zero_severity_is_clean():
    scene = parse_prompt("a large pink triangle moves down on a dark blue background")
    clean = render_clean(scene, seed=5)
    assert torch.equal(render_with_failures(scene, {}, seed=5), clean)
    for mode in FAILURE_MODES:
        a = render_with_failures(scene, {mode: 0.7}, seed=5)
        assert torch.equal(a, render_with_failures(scene, {mode: 0.7}, seed=5)), mode
        assert not torch.equal(a, clean), mode


def test_profiles_and_bad_severities():
    assert len(PROFILES) == 12
    assert sum(p.era == "older" for p in PROFILES.values()) == 6
    scene = parse_prompt("a large pink triangle moves down on a dark blue background")
    with pytest.raises(ValueError, match="unknown failure mode"):
        render_with_failures(scene, {"sparkle": 0.5}, seed=0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        render_with_failures(scene, {"noise": 1.5}, seed=0)
    with pytest.raises(ValueError, match="unknown generator profile"):
        sample_clip("a large pink triangle moves down on a dark blue background", "nope", seed=0)
