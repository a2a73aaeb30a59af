"""Failure modes of the world's generators, each with a severity in [0, 1].

* Visual quality (VQ) failures are pixel post-processing (``vidalign.synth.pixels``).
* Motion quality (MQ) failures perturb the trajectories the renderer draws (time warps,
  held frames, jitter, outline wobble) or the per-frame brightness (flicker).
* Text alignment (TA) failures change what is drawn: the colour, the shape, the motion or
  the presence of one object.

Every mode draws its random pattern from its own stream, seeded by ``(seed, mode)``, with
draws that do not depend on the severity: for a fixed seed, raising one severity only
scales one failure, so the damage grows monotonically with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch

from vidalign.synth import pixels
from vidalign.synth.motion import ObjectPlan, plan_scene
from vidalign.synth.render import check_clip_shape, frame_times, rasterise, to_uint8
from vidalign.synth.scenes import BACKGROUNDS, COLOURS, MIN_CONTRAST, SHAPES, Scene, rgb

FAILURE_DIMS: dict[str, str] = {
    "noise": "VQ",
    "blur": "VQ",
    "blocking": "VQ",
    "colour_shift": "VQ",
    "jitter": "MQ",
    "stutter": "MQ",
    "flicker": "MQ",
    "wobble": "MQ",
    "speed": "MQ",
    "wrong_colour": "TA",
    "wrong_shape": "TA",
    "wrong_motion": "TA",
    "missing_object": "TA",
}
"""Every failure mode and the dimension it damages."""

FAILURE_MODES: tuple[str, ...] = tuple(FAILURE_DIMS)

JITTER = 0.035
"""Position noise at severity 1 (standard deviation, fraction of the shorter side)."""
WOBBLE = 0.18
"""Outline scale noise at severity 1 (standard deviation of each axis' scale)."""
FLICKER = 0.15
"""Per-frame brightness offset at severity 1 (standard deviation, in [0, 1] units)."""
SPEED = 0.85
"""Largest relative speed change at severity 1."""
HOLD = 0.5
"""Share of frames held (shown twice, then skipped) at severity 1."""


def check_severities(severities: Mapping[str, float]) -> dict[str, float]:
    """Validate a ``{mode: severity}`` mapping; missing modes are 0."""
    out = dict.fromkeys(FAILURE_MODES, 0.0)
    for mode, s in severities.items():
        if mode not in FAILURE_DIMS:
            raise ValueError(
                f"unknown failure mode {mode!r}; expected one of {list(FAILURE_MODES)}"
            )
        if not 0.0 <= float(s) <= 1.0:
            raise ValueError(f"severity of {mode!r} must be in [0, 1], got {s}")
        out[mode] = float(s)
    return out


def _stream(seed: int, mode: str) -> np.random.Generator:
    return np.random.default_rng([seed, 1 + FAILURE_MODES.index(mode)])


@dataclass(frozen=True)
class MotionPerturbation:
    """What the MQ failures do to one clip.

    Attributes:
        tau: time shown by each frame, shape (F,).
        offsets: centre offsets (px), shape (n_objects, F, 2).
        scales: outline scale factors (x, y), shape (n_objects, F, 2).
        flicker: per-frame brightness offsets, shape (F,).
    """

    tau: np.ndarray
    offsets: np.ndarray
    scales: np.ndarray
    flicker: np.ndarray


def _time_warp(tau: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """Four equal stretches of the clip played at speeds ``1 + SPEED s z_k``; ends fixed."""
    z = rng.permutation(np.array([1.0, -1.0, 0.6, -0.6]))
    speeds = 1.0 + SPEED * s * z
    knots_in = np.linspace(0.0, 1.0, len(z) + 1)
    knots_out = np.concatenate([[0.0], np.cumsum(speeds)]) / speeds.sum()
    return np.interp(tau, knots_in, knots_out)


def _holds(num_frames: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """Index of the time each frame shows: ``round(HOLD s (F-1))`` frames repeat their predecessor."""
    order = rng.permutation(np.arange(1, num_frames))
    held = set(order[: round(HOLD * s * (num_frames - 1))].tolist())
    index = np.arange(num_frames)
    for i in range(1, num_frames):
        if i in held:
            index[i] = index[i - 1]
    return index


def motion_perturbation(
    sev: Mapping[str, float], n_objects: int, num_frames: int, size: int, seed: int
) -> MotionPerturbation:
    """Draw the MQ failures of one clip (severities already checked)."""
    tau = _time_warp(frame_times(num_frames), sev["speed"], _stream(seed, "speed"))
    tau = tau[_holds(num_frames, sev["stutter"], _stream(seed, "stutter"))]
    shape = (n_objects, num_frames, 2)
    z_jitter = np.clip(_stream(seed, "jitter").standard_normal(shape), -2.5, 2.5)
    z_wobble = np.clip(_stream(seed, "wobble").standard_normal(shape), -2.0, 2.0)
    z_flicker = np.clip(_stream(seed, "flicker").standard_normal(num_frames), -2.5, 2.5)
    z_flicker -= np.median(z_flicker)  # fluctuation about the true brightness
    return MotionPerturbation(
        tau=tau,
        offsets=sev["jitter"] * JITTER * size * z_jitter,
        scales=1.0 + sev["wobble"] * WOBBLE * z_wobble,
        flicker=sev["flicker"] * FLICKER * z_flicker,
    )


def _rotate_path(plan: ObjectPlan, angle: float) -> ObjectPlan:
    """Turn a ``moves *`` path by ``angle``, shortening it if it would leave the region."""
    ux, uy = plan.direction
    c, s_ = math.cos(angle), math.sin(angle)
    direction = (c * ux - s_ * uy, s_ * ux + c * uy)
    cx, cy = plan.centre
    room_x = (plan.region.x1 - plan.region.x0) / 2 - abs(cx - plan.region.centre[0])
    room_y = (plan.region.y1 - plan.region.y0) / 2 - abs(cy - plan.region.centre[1])
    extent = max(plan.radius) * 1.3
    limits = [plan.distance]
    for room, u in ((room_x, direction[0]), (room_y, direction[1])):
        if abs(u) > 1e-9:
            limits.append(max(2 * (room - extent), 0.0) / abs(u))
    return replace(plan, direction=direction, distance=min(limits))


def _wrong_motion(plan: ObjectPlan, s: float, rng: np.random.Generator) -> ObjectPlan:
    """Move the motion away from the named one: rotate a path by ``s pi``, make a still
    object drift, reverse a growth through no growth, lower a bounce to nothing."""
    draws = rng.uniform(size=2)
    motion = plan.obj.motion
    if plan.distance > 0:
        sign = 1.0 if draws[0] < 0.5 else -1.0
        return _rotate_path(plan, sign * s * math.pi)
    if motion == "stays still":
        angle = 2 * math.pi * draws[1]
        still = replace(plan, direction=(math.cos(angle), math.sin(angle)), distance=1e9)
        span = min(plan.region.x1 - plan.region.x0, plan.region.y1 - plan.region.y0)
        drifting = _rotate_path(still, 0.0)
        return replace(drifting, distance=min(drifting.distance, 0.5 * span) * s)
    if motion in ("grows", "shrinks"):
        r0, r1 = plan.radius
        return replace(plan, radius=(r0 + s * (r1 - r0), r1 + s * (r0 - r1)))
    if plan.bounce is not None:
        top, floor, fall, e = plan.bounce
        return replace(plan, bounce=(floor - (1 - s) * (floor - top), floor, fall, e))
    return plan


def _wrong_colour(true: str, background: str, pick: float) -> str:
    """A palette colour other than ``true`` whose blend with it never fades into the background."""
    mix = np.linspace(0.0, 1.0, 11)[:, None]
    bg = np.asarray(BACKGROUNDS[background], dtype=np.float64)

    def path_contrast(c: str) -> float:
        path = (1 - mix) * np.asarray(COLOURS[true]) + mix * np.asarray(COLOURS[c])
        return float(np.linalg.norm(path - bg, axis=1).min())

    others = [c for c in COLOURS if c != true]
    floor = max(0.8 * MIN_CONTRAST, 0.75 * float(np.linalg.norm(np.asarray(COLOURS[true]) - bg)))
    options = [c for c in others if path_contrast(c) >= floor]
    if not options:
        options = [max(others, key=path_contrast)]
    return options[int(pick * len(options))]


def apply_text_failures(
    plans: list[ObjectPlan], sev: Mapping[str, float], background: str, seed: int
) -> list[ObjectPlan]:
    """Apply the TA failures to the plans of one clip; each hits one object chosen by seed."""
    plans = list(plans)
    rng = _stream(seed, "wrong_colour")
    k, pick = rng.integers(len(plans)), rng.uniform()
    if sev["wrong_colour"] > 0:
        wrong = rgb(_wrong_colour(plans[k].obj.colour, background, pick))
        s = sev["wrong_colour"]
        plans[k] = replace(plans[k], colour=(1 - s) * plans[k].colour + s * wrong)
    rng = _stream(seed, "wrong_shape")
    k, pick = rng.integers(len(plans)), rng.uniform()
    if sev["wrong_shape"] > 0:
        options = [sh for sh in SHAPES if sh != plans[k].shape]
        plans[k] = replace(
            plans[k], shape_to=options[int(pick * len(options))], morph=sev["wrong_shape"]
        )
    rng = _stream(seed, "wrong_motion")
    k = rng.integers(len(plans))
    if sev["wrong_motion"] > 0:
        plans[k] = _wrong_motion(plans[k], sev["wrong_motion"], rng)
    rng = _stream(seed, "missing_object")
    k = rng.integers(len(plans))
    if sev["missing_object"] > 0:
        plans[k] = replace(plans[k], opacity=1.0 - sev["missing_object"])
    return plans


def apply_visual_failures(frames: np.ndarray, sev: Mapping[str, float], seed: int) -> np.ndarray:
    """Colour shift, blur, blocking, then noise, on float frames (F, H, W, 3)."""
    if sev["colour_shift"] > 0:
        frames = pixels.colour_shift(frames, sev["colour_shift"], _stream(seed, "colour_shift"))
    if sev["blur"] > 0:
        frames = pixels.gaussian_blur(frames, sev["blur"])
    if sev["blocking"] > 0:
        frames = pixels.blocking(frames, sev["blocking"], _stream(seed, "blocking"))
    if sev["noise"] > 0:
        frames = pixels.gaussian_noise(frames, sev["noise"], _stream(seed, "noise"))
    return frames


def render_with_failures(
    scene: Scene,
    severities: Mapping[str, float],
    *,
    seed: int,
    size: int = 64,
    num_frames: int = 16,
) -> torch.Tensor:
    """Render ``scene`` with the given failure severities.

    With every severity 0 (or an empty mapping) this equals
    ``vidalign.synth.render.render_clean`` for the same seed.

    Args:
        scene: what the prompt asks for.
        severities: ``{mode: severity in [0, 1]}``; modes from ``FAILURE_MODES``.
        seed: fixes the clip's layout and every failure's random pattern.
        size: frame height and width (px).
        num_frames: frame count F.

    Returns:
        uint8 tensor (F, 3, size, size).
    """
    check_clip_shape(size, num_frames)
    sev = check_severities(severities)
    plans = plan_scene(scene, size, size, np.random.default_rng([seed, 0]))
    plans = apply_text_failures(plans, sev, scene.background, seed)
    motion = motion_perturbation(sev, len(plans), num_frames, size, seed)
    frames = rasterise(
        plans,
        rgb(scene.background),
        size,
        size,
        motion.tau,
        offsets=motion.offsets,
        scales=motion.scales,
    )
    if sev["flicker"] > 0:
        frames = pixels.brightness_offsets(frames, motion.flicker)
    return to_uint8(apply_visual_failures(frames, sev, seed))
