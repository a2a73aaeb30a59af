"""Pixel-only oracle judges of visual quality (VQ), motion quality (MQ) and text alignment (TA).

``judge(frames, prompt)`` reads decoded frames and the prompt text, never how a clip was
made, so it scores a trained generator's samples exactly as it scores the world's
profiles. Each score is in (0, 1], higher is better; a bad video gets a low score, not an
error. What each judge measures:

* **VQ** ``= exp(-(P_noise + P_blur + P_block + P_colour))``:
  noise level from the median absolute Laplacian inside 8x8 blocks (Immerkaer's
  estimator, robust to edges); edge sharpness of each object's coverage map
  (``sum g^2 / sum g`` of its pixel gradients: about 0.5 to 1 for a crisp edge);
  8x8 block-edge steps (median step across block boundaries minus the median step
  elsewhere); the background's distance from the colour the prompt names.
* **MQ** ``= seen · exp(-(P_path + P_area + P_flicker))``, where ``seen`` is the share of
  frames in which each prompted object is seen, averaged over objects (an object that fades
  out or is never drawn has no motion to judge, and that counts as failed motion: without
  the factor an empty clip scored MQ ≈ 1), and the penalties are: RMS residual of each object's centroid
  path from the motion law the prompt names (a straight line at constant speed, or the
  bounce law of ``vidalign.synth.motion`` fitted over fall time and restitution);
  roughness of ``sqrt(area)`` about a straight line (outline wobble); roughness of the
  background brightness about a straight line (flicker).
* **TA**: per prompted object, ``presence x prod_k (1/4 + 3/4 part_k) ** w_k`` over the
  parts colour, shape, motion (``w = 1``) and size (``w = 1/2``), averaged over objects: a
  part that fails outright divides the object's TA by 4. Presence saturates (``(1 - e^{-3 v}) / (1 - e^{-3})``, capped at
  1) in the object's integrated contrast over the clip, ``v``, relative to what an object
  of the named colour and size would show (blur keeps it; fading or vanishing lowers it).
  Colour is the distance of the object's colour, corrected by the background's cast, from
  the line of mixtures of the named colour with the background. Shape is the mean over up
  to 6 frames of a softmax over template fits (IoU of the coverage with each shape drawn
  at the measured centroid and area, at three blur levels). Size compares the measured
  radius with the named size; motion checks direction and travel, stillness, growth rate or a fall
  followed by a rebound.

Penalty scales are set so that each failure mode at severity 1 costs roughly 2 to 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from vidalign.synth.layout import regions
from vidalign.synth.motion import (
    DROP,
    GROWTH,
    TRAVEL,
    bounce_profile,
    object_room,
    radius_range,
)
from vidalign.synth.prompts import parse_prompt
from vidalign.synth.scenes import DIRECTIONS, SHAPES, Scene, SceneObject, rgb
from vidalign.synth.segment import (
    MIN_COVERAGE,
    MIN_THRESHOLD,
    ObjectTrace,
    as_float_frames,
    background,
    box3,
    deblock,
    dilate,
    trace_object,
)
from vidalign.synth.shapes import coverage, sdf

DIMS: tuple[str, ...] = ("VQ", "MQ", "TA")
ORACLE_VERSION = 2
"""Bumped whenever a score changes, so that score caches keyed by the scorer id are redone.
2: MQ is scaled by the share of frames in which the prompted objects are seen."""

# Penalty = max(0, measure - baseline) / scale, per component.
NOISE_BASE, NOISE_SCALE = 0.004, 0.03
SHARP_BASE, SHARP_SCALE = 0.38, 0.1
BLOCK_BASE, BLOCK_SCALE = 0.002, 0.02
COLOUR_BASE, COLOUR_SCALE = 0.03, 0.07
SMOOTH_PER_NOISE = 0.025
"""One more 3x3 mean pass (up to 4 in all) before segmenting per this much noise."""
PATH_BASE, PATH_SCALE = 0.2, 1.3  # percent of the frame's shorter side
AREA_BASE, AREA_SCALE = 0.8, 5.0  # percent of sqrt(area)
FLICKER_BASE, FLICKER_SCALE = 0.3, 5.0  # percent brightness
TA_WEIGHTS = {"colour": 1.0, "shape": 1.0, "motion": 1.0, "size": 0.5}
TA_FLOOR = 0.25
"""TA of an object is ``presence x prod_k (TA_FLOOR + (1 - TA_FLOOR) part_k) ** TA_WEIGHTS[k]``."""
COLOUR_TOLERANCE = 0.25
SIZE_TOLERANCE = 0.2  # in log radius
SHAPE_TEMPERATURE = 0.05
SHAPE_FRAMES = 6
"""Frames (evenly spread over those showing the object) whose outline is fitted."""
TEMPLATE_BLURS = (1, 2, 5)
"""Extra 3x3 mean passes between the template blurs tried (1, 3 and 8 passes in all)."""
FIT_FALL = np.linspace(0.15, 1.2, 22)
FIT_RESTITUTION = np.linspace(0.3, 0.9, 13)


def _line_residual(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Residuals of a least-squares straight line through ``values`` (N, ...) against ``t`` (N,)."""
    design = np.stack([np.ones_like(t), t], axis=1)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef


def _slope(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``values`` (N, ...) against ``t`` (N,)."""
    tc = t - t.mean()
    return (tc[:, None] * (values - values.mean(axis=0))).sum(axis=0) / max((tc**2).sum(), 1e-12)


# ---- VQ --------------------------------------------------------------------------------------


def noise_level(frames: np.ndarray) -> float:
    """Noise standard deviation from the median |Laplacian| inside 8x8 blocks.

    Immerkaer's kernel ``[[1,-2,1],[-2,4,-2],[1,-2,1]]`` cancels flat and linear patches;
    its norm is 6, so ``sigma = 1.4826 median|L| / 6`` for Gaussian noise.
    """
    x = frames
    lap = (
        x[:, :-2, :-2] - 2 * x[:, :-2, 1:-1] + x[:, :-2, 2:]
        - 2 * x[:, 1:-1, :-2] + 4 * x[:, 1:-1, 1:-1] - 2 * x[:, 1:-1, 2:]
        + x[:, 2:, :-2] - 2 * x[:, 2:, 1:-1] + x[:, 2:, 2:]
    )  # fmt: skip
    h, w = x.shape[1:3]
    inner_y = ~np.isin((np.arange(1, h - 1)) % 8, (0, 7))
    inner_x = ~np.isin((np.arange(1, w - 1)) % 8, (0, 7))
    values = np.abs(lap[:, inner_y][:, :, inner_x])
    return float(1.4826 * np.median(values) / 6.0)


def blockiness(frames: np.ndarray) -> float:
    """Median brightness step across 8x8 block edges minus the median step elsewhere.

    Steps are between neighbouring columns (rows) of 8-row (8-column) strip means, so
    that noise averages out; both directions are averaged.
    """
    lum = frames.mean(axis=-1)  # (F, H, W)
    out = []
    for img in (lum, lum.transpose(0, 2, 1)):
        f, h, w = img.shape
        strips = h // 8
        if strips == 0 or w < 9:
            continue
        means = img[:, : strips * 8].reshape(f, strips, 8, w).mean(axis=2)  # (F, S, W)
        steps = np.abs(np.diff(means, axis=-1))  # step between columns x-1 and x, x = 1..W-1
        at_edge = (np.arange(1, w) % 8) == 0
        out.append(np.median(steps[..., at_edge]) - np.median(steps[..., ~at_edge]))
    return float(max(np.mean(out), 0.0)) if out else 0.0


LUMA = np.array([[0.299, 0.587, 0.114]])
MIN_LUMA = 0.08
MIN_EDGE_CONTRAST = 0.15
LUMA_WEIGHTED = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.169 * 0.3, -0.331 * 0.3, 0.5 * 0.3],
        [0.5 * 0.3, -0.419 * 0.3, -0.081 * 0.3],
    ]
)
"""RGB -> Y, and RGB -> (Y, 0.3 Cb, 0.3 Cr). Edges are judged on luma, which codecs keep at
full resolution, and with down-weighted chroma where luma contrast is under ``MIN_LUMA``."""


def sharpness(
    frames: np.ndarray,
    bg: np.ndarray,
    trace: ObjectTrace,
    region_slices: tuple[slice, slice],
    luma_contrast: bool,
) -> float | None:
    """``sum g^2 / sum g`` of the gradients g of an object's raw coverage, or None.

    Coverage here is the projection onto the object's contrast in ``LUMA`` space when the
    prompt's colours differ in luma (``luma_contrast``), else in ``LUMA_WEIGHTED`` space.
    Objects fainter than ``MIN_EDGE_CONTRAST`` have no edge to judge (None).
    """
    if not trace.present.any() or trace.contrast < MIN_EDGE_CONTRAST:
        return None
    rows, cols = region_slices
    space = LUMA if luma_contrast else LUMA_WEIGHTED
    delta = space @ (trace.colour - bg.mean(axis=0))
    if float(delta @ delta) < 1e-6:
        return None
    raw = (frames[:, rows, cols] - bg[:, None, None, :]) @ space.T @ delta / (delta @ delta)
    raw = np.clip(raw, -0.5, 1.5) * dilate(trace.coverage > 0, 1)
    raw = raw[trace.present]
    g = np.concatenate([np.abs(np.diff(raw, axis=1)).ravel(), np.abs(np.diff(raw, axis=2)).ravel()])
    total = g.sum()
    return float((g**2).sum() / total) if total > 1e-9 else None


def visual_quality(
    frames: np.ndarray,
    bg: np.ndarray,
    scene: Scene,
    traces: list[ObjectTrace],
    sigma: float,
    blocks: float,
) -> tuple[float, dict[str, float]]:
    """VQ score and its components (module docstring)."""
    regs = regions(scene, *frames.shape[1:3])
    named_bg = rgb(scene.background)
    sharp = []
    for obj, tr, reg in zip(scene.objects, traces, regs):
        luma = abs(float(LUMA[0] @ (rgb(obj.colour) - named_bg))) >= MIN_LUMA
        if (s := sharpness(frames, bg, tr, reg.slices(), luma)) is not None:
            sharp.append(s)
    parts = {
        "noise": sigma,
        "sharpness": float(np.mean(sharp)) if sharp else SHARP_BASE,
        "blockiness": blocks,
        "background_error": float(np.linalg.norm(np.median(bg, axis=0) - rgb(scene.background))),
    }
    penalty = (
        max(0.0, parts["noise"] - NOISE_BASE) / NOISE_SCALE
        + max(0.0, SHARP_BASE - parts["sharpness"]) / SHARP_SCALE
        + max(0.0, parts["blockiness"] - BLOCK_BASE) / BLOCK_SCALE
        + max(0.0, parts["background_error"] - COLOUR_BASE) / COLOUR_SCALE
    )
    return math.exp(-penalty), parts


# ---- MQ --------------------------------------------------------------------------------------


def _bounce_residual(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residuals of the best bounce-law fit ``y = a + b u(t; t_f, e)``.

    ``a, b`` are solved in closed form for every ``(t_f, e)`` of a grid, and the grid is
    refined three times around the best point (final step about 1e-4).
    """
    yc = y - y.mean()
    fall, rest = FIT_FALL, FIT_RESTITUTION
    best_res = yc
    for _ in range(4):
        tf, e = np.meshgrid(fall, rest, indexing="ij")
        u = bounce_profile(t, tf.reshape(-1, 1), e.reshape(-1, 1))  # (G, N)
        uc = u - u.mean(axis=1, keepdims=True)
        b = (uc @ yc) / np.maximum((uc**2).sum(axis=1), 1e-12)
        res = yc[None, :] - b[:, None] * uc
        best = int(np.argmin((res**2).sum(axis=1)))
        best_res = res[best]
        i, j = np.unravel_index(best, tf.shape)
        step_f, step_e = fall[1] - fall[0], rest[1] - rest[0]
        fall = np.linspace(fall[i] - step_f, fall[i] + step_f, 9)
        rest = np.linspace(rest[j] - step_e, rest[j] + step_e, 9)
    return best_res


def motion_quality(
    bg: np.ndarray, scene: Scene, traces: list[ObjectTrace], size: float
) -> tuple[float, dict[str, float]]:
    """MQ score and its components (module docstring)."""
    num_frames = bg.shape[0]
    tau = np.linspace(0.0, 1.0, num_frames)
    path, area, weight = 0.0, 0.0, 0.0
    seen = float(np.mean([tr.present.mean() for tr in traces])) if traces else 1.0
    for obj, tr in zip(scene.objects, traces):
        keep = tr.present
        if keep.sum() < 3:
            continue
        t, xy = tau[keep], tr.centre[keep]
        res_x = _line_residual(t, xy[:, 0])
        if obj.motion == "bounces":
            res_y = _bounce_residual(t, xy[:, 1])
        else:
            res_y = _line_residual(t, xy[:, 1])
        rms = math.sqrt(float(np.mean(res_x**2 + res_y**2)))
        root = np.sqrt(np.maximum(tr.area[keep], 0.0))
        rough = math.sqrt(float(np.mean(_line_residual(t, root) ** 2))) / max(root.mean(), 1e-9)
        w = keep.mean()
        path += w * 100 * rms / size
        area += w * 100 * rough
        weight += w
    if weight > 0:
        path, area = path / weight, area / weight
    brightness = bg.mean(axis=1)
    flicker = 100 * math.sqrt(float(np.mean(_line_residual(tau, brightness) ** 2)))
    parts = {"path": path, "area": area, "flicker": flicker, "seen": seen}
    penalty = (
        max(0.0, path - PATH_BASE) / PATH_SCALE
        + max(0.0, area - AREA_BASE) / AREA_SCALE
        + max(0.0, flicker - FLICKER_BASE) / FLICKER_SCALE
    )
    return seen * math.exp(-penalty), parts


# ---- TA --------------------------------------------------------------------------------------


def _colour_error(seen: np.ndarray, named: np.ndarray, named_bg: np.ndarray) -> float:
    """Distance of a seen colour from the line of named-colour / background mixtures.

    A blurred or faint object shows ``bg + k (named - bg)`` with ``k < 1``; mixtures with
    ``k`` in [0.5, 1.1] count as the named colour (presence judges faintness).
    """
    v = named - named_bg
    w = seen - named_bg
    k = float(np.clip(w @ v / max(float(v @ v), 1e-12), 0.5, 1.1))
    return float(np.linalg.norm(w - k * v))


def _shape_score(obj: SceneObject, tr: ObjectTrace, region_slices) -> float:
    """Mean over frames of the softmax weight of the named shape among template fits."""
    rows, cols = region_slices
    keep = np.flatnonzero(tr.present)
    if keep.size == 0:
        return 0.0
    keep = keep[np.unique(np.linspace(0, keep.size - 1, SHAPE_FRAMES).round().astype(int))]
    h, w = tr.coverage.shape[1:]
    ys = (np.arange(h) + 0.5 + rows.start)[None, :, None]
    xs = (np.arange(w) + 0.5 + cols.start)[None, None, :]
    cx = tr.centre[keep, 0][:, None, None]
    cy = tr.centre[keep, 1][:, None, None]
    r = np.sqrt(np.maximum(tr.area[keep], 1e-9) / math.pi)[:, None, None]
    seen = np.clip(tr.coverage[keep], 0.0, 1.0)
    ious = []
    for shape in SHAPES:
        template = coverage(sdf(shape, xs - cx, ys - cy, r))
        best = np.zeros(len(keep))
        for passes in TEMPLATE_BLURS:
            for _ in range(passes):
                template = box3(template)
            floored = np.where(template < MIN_COVERAGE, 0.0, template)
            inter = np.minimum(seen, floored).sum(axis=(1, 2))
            union = np.maximum(seen, floored).sum(axis=(1, 2))
            best = np.maximum(best, inter / np.maximum(union, 1e-9))
        ious.append(best)
    logits = np.stack(ious, axis=1) / SHAPE_TEMPERATURE  # (K, S)
    logits -= logits.max(axis=1, keepdims=True)
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return float(prob[:, SHAPES.index(obj.shape)].mean())


def _motion_score(
    obj: SceneObject, tr: ObjectTrace, tau: np.ndarray, room: tuple[float, float], size: float
) -> float:
    keep = tr.present
    if keep.sum() < 2:
        return 0.0
    t, xy = tau[keep], tr.centre[keep]
    if obj.motion in DIRECTIONS:
        u = np.asarray(DIRECTIONS[obj.motion])
        v = _slope(t, xy)  # px per clip
        speed = float(np.linalg.norm(v))
        if speed < 1e-9:
            return 0.0
        along = room[0] if u[0] != 0 else room[1]
        travel = 2 * along * TRAVEL[0]
        return 0.5 * (1 + float(v @ u) / speed) * min(1.0, speed / (0.5 * travel))
    if obj.motion == "stays still":
        drift = float(np.linalg.norm(_slope(t, xy)))
        return math.exp(-drift / (0.1 * size))
    if obj.motion in ("grows", "shrinks"):
        expected = math.log(GROWTH[1] / GROWTH[0]) * (1 if obj.motion == "grows" else -1)
        log_r = 0.5 * np.log(np.maximum(tr.area[keep], 1e-9))
        rate = float(_slope(t, log_r[:, None])[0])
        return float(np.clip(0.5 * (1 + rate / expected), 0.0, 1.0))
    # bounces: a drop of the expected height, then a rebound
    y = xy[:, 1]
    drop = float(y.max() - y.min())
    height = 2 * room[1] * DROP[0]
    first_low = int(np.argmax(y >= y.max() - 0.1 * max(drop, 1e-9)))
    rise = float(y.max() - y[first_low:].min()) if first_low < len(y) else 0.0
    rebound = min(1.0, rise / max(0.15 * drop, 1e-9))
    return min(1.0, drop / height) * rebound


def text_alignment(
    scene: Scene, traces: list[ObjectTrace], bg: np.ndarray, height: int, width: int
) -> tuple[float, dict[str, float]]:
    """TA score and its components, averaged over objects (module docstring)."""
    tau = np.linspace(0.0, 1.0, bg.shape[0])
    named_bg = rgb(scene.background)
    cast = np.median(bg, axis=0) - named_bg
    size = float(min(height, width))
    totals = dict.fromkeys(("presence", "colour", "shape", "size", "motion"), 0.0)
    score = 0.0
    for obj, tr, reg in zip(scene.objects, traces, regions(scene, height, width)):
        named = rgb(obj.colour)
        if not tr.present.any():
            parts = dict.fromkeys(totals, 0.0)
        else:
            colour_error = _colour_error(tr.colour - cast, named, named_bg)
            r0, r1 = radius_range(obj, height, width)
            expected_area = math.pi * (r0**2 + r0 * r1 + r1**2) / 3  # mean of pi r(t)^2
            seen_area = float(tr.mass[tr.present].mean())
            log_ratio = 0.5 * math.log(max(seen_area, 1e-9) / expected_area)
            named_contrast = float(np.linalg.norm(named - named_bg))
            visible = float(tr.mass.mean()) * tr.contrast / (expected_area * named_contrast)
            parts = {
                "presence": min(1.0, (1 - math.exp(-3 * visible)) / (1 - math.exp(-3))),
                "colour": math.exp(-((colour_error / COLOUR_TOLERANCE) ** 2)),
                "shape": _shape_score(obj, tr, reg.slices()),
                "size": math.exp(-0.5 * (log_ratio / SIZE_TOLERANCE) ** 2),
                "motion": _motion_score(obj, tr, tau, object_room(obj, reg, height, width), size),
            }
        for k, v in parts.items():
            totals[k] += v / len(scene.objects)
        looks = math.prod(
            (TA_FLOOR + (1 - TA_FLOOR) * parts[k]) ** w for k, w in TA_WEIGHTS.items()
        )
        score += parts["presence"] * looks / len(scene.objects)
    return float(score), totals


# ---- entry points ----------------------------------------------------------------------------


def judge_details(frames: object, prompt: str) -> dict[str, dict[str, float]]:
    """Scores and their measured components: ``{"scores": {dim: s}, "VQ": {...}, ...}``."""
    scene = parse_prompt(prompt)
    x = as_float_frames(frames)
    _, h, w, _ = x.shape
    bg = background(x)
    sigma = noise_level(x)
    blocks = blockiness(x)
    smooth = box3(deblock(x, bg) if blocks > BLOCK_BASE else x)
    for _ in range(min(3, int(sigma / SMOOTH_PER_NOISE))):
        smooth = box3(smooth)
    threshold = max(MIN_THRESHOLD, 3.0 * sigma)
    traces = []
    for obj, reg in zip(scene.objects, regions(scene, h, w)):
        r_min = min(radius_range(obj, h, w))
        traces.append(trace_object(x, smooth, bg, reg, threshold, 0.2 * math.pi * r_min**2))
    vq, vq_parts = visual_quality(x, bg, scene, traces, sigma, blocks)
    mq, mq_parts = motion_quality(bg, scene, traces, float(min(h, w)))
    ta, ta_parts = text_alignment(scene, traces, bg, h, w)
    return {
        "scores": {"VQ": vq, "MQ": mq, "TA": ta},
        "VQ": vq_parts,
        "MQ": mq_parts,
        "TA": ta_parts,
    }


def judge(frames: object, prompt: str) -> dict[str, float]:
    """Oracle scores of one clip against its prompt.

    Args:
        frames: decoded clip, uint8 (F, C, H, W) tensor or array, or a ``vidalign.video.Video``.
        prompt: a prompt of the world's grammar (``vidalign.synth.prompts``).

    Returns:
        ``{"VQ": ..., "MQ": ..., "TA": ...}``, each in [0, 1], higher is better.

    Raises:
        OracleError: ``frames`` is not a uint8 (F, C, H, W) clip.
        PromptError: ``prompt`` is outside the grammar.
    """
    return judge_details(frames, prompt)["scores"]


def pointwise_mos(scores: Mapping[str, float]) -> dict[str, float]:
    """Pointwise 1-5 opinion scores for the regression loss: ``1 + 4 * score``."""
    return {dim: 1.0 + 4.0 * float(np.clip(s, 0.0, 1.0)) for dim, s in scores.items()}


__all__ = ["DIMS", "judge", "judge_details", "pointwise_mos"]
