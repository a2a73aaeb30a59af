"""Signed distance functions of the world's shapes, shared by the renderer and the oracle.

Every shape is scaled by its *equal-area radius* ``r``: a circle of radius ``r``, and a
square, diamond and triangle of area ``pi * r**2``. Distances are in pixels; negative
inside. Coordinates are image coordinates (y grows downwards); the triangle points up and
is centred on its centroid.
"""

from __future__ import annotations

import math

import numpy as np

SQUARE_HALF_SIDE = math.sqrt(math.pi) / 2  # 4 a^2 = pi
DIAMOND_HALF_DIAGONAL = math.sqrt(math.pi / 2)  # 2 d^2 = pi
TRIANGLE_CIRCUMRADIUS = math.sqrt(4 * math.pi / (3 * math.sqrt(3)))  # (3 sqrt3 / 4) R^2 = pi
_TRI_NORMALS = np.array(
    [[0.0, 1.0], [math.sqrt(3) / 2, -0.5], [-math.sqrt(3) / 2, -0.5]]
)  # outward edge normals of an apex-up equilateral triangle, image coordinates

EXTENT: dict[str, float] = {
    "circle": 1.0,
    "square": SQUARE_HALF_SIDE,
    "diamond": DIAMOND_HALF_DIAGONAL,
    "triangle": TRIANGLE_CIRCUMRADIUS,
}
"""Largest axis-aligned half-extent of each shape, in units of ``r``."""

MAX_EXTENT = max(EXTENT.values())


def sdf(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """Signed distance (px) from points to a shape's outline.

    Polygons use the maximum of their edges' half-plane distances: exact inside and
    along edges, slightly short of the true distance beyond a corner, which is
    immaterial within the one-pixel anti-aliasing band.

    Args:
        shape: one of ``vidalign.synth.scenes.SHAPES``.
        dx, dy: offsets (px) of the points from the shape's centre, broadcastable.
        r: equal-area radius (px), broadcastable against ``dx``.

    Returns:
        Distances with the broadcast shape of ``dx``, ``dy`` and ``r``.
    """
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - SQUARE_HALF_SIDE * r
    if shape == "diamond":
        return (np.abs(dx) + np.abs(dy)) / math.sqrt(2) - (DIAMOND_HALF_DIAGONAL / math.sqrt(2)) * r
    if shape == "triangle":
        inradius = TRIANGLE_CIRCUMRADIUS / 2 * r
        d = np.maximum(
            dx * _TRI_NORMALS[0, 0] + dy * _TRI_NORMALS[0, 1],
            dx * _TRI_NORMALS[1, 0] + dy * _TRI_NORMALS[1, 1],
        )
        d = np.maximum(d, dx * _TRI_NORMALS[2, 0] + dy * _TRI_NORMALS[2, 1])
        return d - inradius
    raise ValueError(f"unknown shape {shape!r}")


def coverage(signed_distance: np.ndarray) -> np.ndarray:
    """Pixel coverage in [0, 1] from the signed distance at the pixel centre (1-px box filter)."""
    return np.clip(0.5 - signed_distance, 0.0, 1.0)
