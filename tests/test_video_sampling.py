"""Frame-count, index and size rules of REFERENCE.md §2, against hand-worked values."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidalign.video import VideoError, num_sampled_frames, sample_frame_indices, smart_resize


@pytest.mark.parametrize(
    ("total", "src_fps", "fps", "expected"),
    [
        (160, 8.0, 2.0, 40),  # 160 / 8 * 2 = 40, already even
        (45, 10.0, 2.0, 8),  # n = 9 -> round(4.5) * 2 = 8: half-to-even goes down
        (70, 10.0, 2.0, 14),  # n = 14
        (55, 10.0, 2.0, 12),  # n = 11 -> round(5.5) * 2 = 12: half-to-even goes up
        (63, 10.0, 2.0, 12),  # n = 12.6 -> round(6.3) * 2 = 12
        (16, 8.0, 2.0, 4),  # n = 4
        (16, 8.0, 1.0, 4),  # n = 2, clamped up to the minimum of 4
        (16, 8.0, 100.0, 16),  # n = 200, clamped to even(min(768, 16)) = 16
        (15, 8.0, 100.0, 14),  # clamped to even(min(768, 15)) = 14
        (3, 8.0, 2.0, 2),  # upper clamp even(3) = 2 wins over the minimum of 4
        (10_000, 25.0, 100.0, 768),  # the 768 cap
    ],
)
def test_frame_count_by_fps(total, src_fps, fps, expected):
    assert num_sampled_frames(total, src_fps, fps=fps) == expected


@pytest.mark.parametrize(
    ("count", "expected"), [(4, 4), (6, 6), (5, 4), (7, 8), (9, 8), (11, 12), (3, 4), (2, 2)]
)
def test_fixed_count_rounds_half_to_even(count, expected):
    # count / 2 = 2.5 -> 2, 3.5 -> 4, 4.5 -> 4, 5.5 -> 6, 1.5 -> 2 (Python round)
    assert num_sampled_frames(100, 8.0, num_frames=count) == expected


def test_indices_hand_worked():
    # linspace(0, 7, 4) = [0, 2.33, 4.67, 7]
    assert sample_frame_indices(8, 8.0, num_frames=4) == [0, 2, 5, 7]
    # linspace(0, 15, 8): step 15/7 = 2.143 -> [0, 2.14, 4.29, 6.43, 8.57, 10.71, 12.86, 15]
    assert sample_frame_indices(16, 8.0, num_frames=8) == [0, 2, 4, 6, 9, 11, 13, 15]
    # 45 frames at 10 fps sampled at 2 fps: n = 8; linspace(0, 44, 8) step 6.286
    assert sample_frame_indices(45, 10.0, fps=2.0) == [0, 6, 13, 19, 25, 31, 38, 44]
    # num_frames=5 rounds (half-to-even) to 4: linspace(0, 9, 4) = [0, 3, 6, 9]
    assert sample_frame_indices(10, 8.0, num_frames=5) == [0, 3, 6, 9]


def test_neither_rate_nor_count_takes_every_frame():
    assert sample_frame_indices(5, 8.0) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fps": 2.0, "num_frames": 4}, "exactly one of fps or num_frames"),
        ({"num_frames": 1}, "rounds to 0"),
        ({"num_frames": 0}, "integer >= 1"),
        ({"num_frames": 20}, "needs at least 20 frames"),
        ({"fps": 0.0}, "fps must be a finite number > 0"),
        ({"fps": float("nan")}, "fps must be a finite number > 0"),
    ],
)
def test_bad_requests_are_errors(kwargs, match):
    with pytest.raises(VideoError, match=match):
        sample_frame_indices(16, 8.0, **kwargs)


def test_single_frame_clip_cannot_be_sampled_by_fps():
    with pytest.raises(VideoError, match="too short"):
        sample_frame_indices(1, 8.0, fps=2.0)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(2, 3000),
    src_fps=st.floats(1.0, 120.0),
    fps=st.floats(0.1, 60.0),
)
def test_indices_are_spread_and_in_range(total, src_fps, fps):
    idx = sample_frame_indices(total, src_fps, fps=fps)
    assert idx[0] == 0 and idx[-1] == total - 1
    assert all(b > a for a, b in itertools.pairwise(idx))
    assert len(idx) % 2 == 0 and 2 <= len(idx) <= min(768, total)


@pytest.mark.parametrize(
    ("hw", "bounds", "expected"),
    [
        # REFERENCE.md §2: 112x112 under min 100352 scales UP to 336x336 despite max 12544
        ((112, 112), {"min_pixels": 100352, "max_pixels": 12544}, (336, 336)),
        # 480x640 under 448*448: rounded 476x644 is too big; beta = sqrt(307200/200704) = 1.2372
        # 480/1.2372 = 387.98 -> 364; 640/1.2372 = 517.3 -> 504
        ((480, 640), {"max_pixels": 448 * 448}, (364, 504)),
        # 64x64 rounds to 56x56 = 3136, exactly the cap: kept
        ((64, 64), {"max_pixels": 3136}, (56, 56)),
        # rounding is half-to-even: 42/28 = 1.5 -> 2 (56); 70/28 = 2.5 -> 2 (56)
        ((42, 70), {"max_pixels": 10**6}, (56, 56)),
        # odd sizes: 33 -> 28, 47 -> 56
        ((33, 47), {"max_pixels": 12544}, (28, 56)),
        # a side never drops below 28: 14/28 = 0.5 -> 0 -> 28
        ((14, 200), {}, (28, 196)),
        # upscaling: 64x64 under min 100352: beta = sqrt(24.5) = 4.95; 316.8 -> 336
        ((64, 64), {"min_pixels": 100352}, (336, 336)),
    ],
)
def test_smart_resize_hand_worked(hw, bounds, expected):
    assert smart_resize(*hw, **bounds) == expected
