"""Motion laws of the world and per-clip motion plans.

Time is normalised per clip: frame ``i`` of ``F`` is at ``tau_i = i / (F - 1)``, so every
clip shows one whole motion whatever its frame count; fps only labels the clip.

* ``moves <dir>``: constant velocity, ``p(tau) = c + (tau - 1/2) * D * u``.
* ``bounces``: dropped from rest at ``tau = 0``, falls under constant gravity onto the
  region's floor and rebounds with restitution ``e`` (speed after = ``e`` x speed before).
* ``grows`` / ``shrinks``: the radius changes linearly in time.
* ``stays still``: nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidalign.synth.layout import Region, margin_px, nominal_radius, regions
from vidalign.synth.scenes import DIRECTIONS, Scene, SceneObject, rgb
from vidalign.synth.shapes import EXTENT

GROWTH = (0.6, 1.3)
"""Radius at the start and end of ``grows`` (reversed for ``shrinks``), times the nominal."""
TRAVEL = (0.6, 0.95)
"""Path length of ``moves *`` as a fraction of the room its region leaves along the path."""
DROP = (0.75, 1.0)
"""Drop height of ``bounces`` as a fraction of the region's free height."""
FALL_TIME = (0.3, 0.5)
"""Time of the first fall, as a fraction of the clip."""
RESTITUTION = (0.55, 0.75)
HEADROOM = 1.1
"""Extra room kept around an object for shape wobble."""


@dataclass(frozen=True)
class ObjectPlan:
    """Clip-level parameters of one object, drawn once per clip.

    Attributes:
        obj: the scene object it realises.
        region: its region (``vidalign.synth.layout``).
        shape, shape_to, morph: drawn shape is ``(1 - morph) * sdf(shape) + morph * sdf(shape_to)``.
        colour: RGB in [0, 1], shape (3,).
        opacity: in [0, 1].
        centre: path midpoint (px), or resting position.
        direction: unit vector (x, y) of ``moves *`` paths.
        distance: path length D (px) of ``moves *``; 0 otherwise.
        radius: equal-area radius (px) at ``tau = 0`` and ``tau = 1``.
        bounce: ``(y_top, y_floor, fall_time, restitution)`` for ``bounces``, else None.
    """

    obj: SceneObject
    region: Region
    shape: str
    shape_to: str
    morph: float
    colour: np.ndarray
    opacity: float
    centre: tuple[float, float]
    direction: tuple[float, float]
    distance: float
    radius: tuple[float, float]
    bounce: tuple[float, float, float, float] | None


def bounce_profile(tau: np.ndarray, fall_time: np.ndarray, restitution: np.ndarray) -> np.ndarray:
    """Height below the drop point, as a fraction of the drop height (0 = top, 1 = floor).

    ``u(tau) = (tau / t_f)^2`` until the first contact; after contact ``k`` the object
    leaves the floor at ``e^k`` times the first contact speed ``v_0 = 2 / t_f`` (units of
    drop height per clip) under gravity ``g = 2 / t_f^2``.

    Args:
        tau: times in [0, 1], shape (F,).
        fall_time, restitution: broadcastable arrays (e.g. (G, 1)) of ``t_f`` and ``e``.

    Returns:
        ``u`` with the broadcast shape of the three inputs, e.g. (G, F).
    """
    tau, t_f, e = np.broadcast_arrays(tau, fall_time, restitution)
    g = 2.0 / t_f**2
    u = np.where(tau <= t_f, 0.5 * g * tau**2, 1.0)
    speed = g * t_f
    contact = t_f.copy()
    for _ in range(64):
        speed = speed * e
        flight = 2.0 * speed / g
        s = tau - contact
        inside = (s > 0) & (s <= flight)
        u = np.where(inside, 1.0 - (speed * s - 0.5 * g * s**2), u)
        contact = contact + flight
        if np.all(contact >= tau.max()) or np.all(flight < 1e-6):
            break
    return u


def radius_range(obj: SceneObject, height: int, width: int) -> tuple[float, float]:
    """Equal-area radius (px) of ``obj`` at the start and end of its clip."""
    r = nominal_radius(obj.size, height, width)
    if obj.motion == "grows":
        return GROWTH[0] * r, GROWTH[1] * r
    if obj.motion == "shrinks":
        return GROWTH[1] * r, GROWTH[0] * r
    return r, r


def object_room(obj: SceneObject, region: Region, height: int, width: int) -> tuple[float, float]:
    """Half-ranges (px) left for the centre of ``obj`` in x and y inside ``region``; at least 1 px."""
    extent = max(radius_range(obj, height, width)) * EXTENT[obj.shape] * HEADROOM
    margin = margin_px(height, width)
    half_w = (region.x1 - region.x0) / 2 - margin - extent
    half_h = (region.y1 - region.y0) / 2 - margin - extent
    return max(half_w, 1.0), max(half_h, 1.0)


def plan_object(
    obj: SceneObject, region: Region, height: int, width: int, rng: np.random.Generator
) -> ObjectPlan:
    """Draw one object's path, size and bounce parameters (always 6 draws from ``rng``)."""
    draws = rng.uniform(size=6)
    radius = radius_range(obj, height, width)
    room_x, room_y = object_room(obj, region, height, width)
    cx0, cy0 = region.centre
    direction, distance, bounce = (0.0, 0.0), 0.0, None
    cx = cx0 + room_x * (2 * draws[0] - 1)
    cy = cy0 + room_y * (2 * draws[1] - 1)
    if obj.motion in DIRECTIONS:
        direction = DIRECTIONS[obj.motion]
        along = room_x if direction[0] != 0 else room_y
        distance = 2 * along * (TRAVEL[0] + (TRAVEL[1] - TRAVEL[0]) * draws[2])
        slack = along - distance / 2
        if direction[0] != 0:
            cx = cx0 + slack * (2 * draws[0] - 1)
        else:
            cy = cy0 + slack * (2 * draws[1] - 1)
    elif obj.motion == "bounces":
        floor = cy0 + room_y
        top = floor - 2 * room_y * (DROP[0] + (DROP[1] - DROP[0]) * draws[3])
        fall = FALL_TIME[0] + (FALL_TIME[1] - FALL_TIME[0]) * draws[4]
        e = RESTITUTION[0] + (RESTITUTION[1] - RESTITUTION[0]) * draws[5]
        bounce = (top, floor, fall, e)
        cy = top
    return ObjectPlan(
        obj=obj,
        region=region,
        shape=obj.shape,
        shape_to=obj.shape,
        morph=0.0,
        colour=rgb(obj.colour),
        opacity=1.0,
        centre=(cx, cy),
        direction=direction,
        distance=distance,
        radius=radius,
        bounce=bounce,
    )


def plan_scene(scene: Scene, height: int, width: int, rng: np.random.Generator) -> list[ObjectPlan]:
    """Plans for every object of ``scene`` in a ``height x width`` frame."""
    return [
        plan_object(obj, region, height, width, rng)
        for obj, region in zip(scene.objects, regions(scene, height, width), strict=True)
    ]


def trajectory(plan: ObjectPlan, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, y (px) and equal-area radius (px) at times ``tau`` (shape (F,)); each (F,)."""
    tau = np.asarray(tau, dtype=np.float64)
    cx, cy = plan.centre
    x = np.full_like(tau, cx)
    y = np.full_like(tau, cy)
    if plan.distance > 0:
        x = cx + (tau - 0.5) * plan.distance * plan.direction[0]
        y = cy + (tau - 0.5) * plan.distance * plan.direction[1]
    if plan.bounce is not None:
        top, floor, fall, e = plan.bounce
        y = top + (floor - top) * bounce_profile(tau, np.asarray(fall), np.asarray(e))
    r0, r1 = plan.radius
    radius = r0 + (r1 - r0) * tau
    return x, y, radius
