"""Where objects live in a frame: one region per object, known to renderer and oracle alike.

A one-object scene uses the whole frame. A two-object scene splits it in halves, the first
object in the first half: top/bottom bands when the objects move only horizontally (so
horizontal paths get the long side), left/right halves otherwise. This is a law of the
world, so the oracle can find each prompted object without being told how a clip was made.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidalign.synth.scenes import HORIZONTAL, SIZES, VERTICAL, Scene

MARGIN = 0.03
"""Gap between an object's extent and its region's edge, as a fraction of the shorter side."""


@dataclass(frozen=True)
class Region:
    """Axis-aligned box in pixels, ``[x0, x1) x [y0, y1)``."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the pixels whose centres lie inside the region."""
        return slice(round(self.y0), round(self.y1)), slice(round(self.x0), round(self.x1))


def split_axis(scene: Scene) -> str | None:
    """``None`` for one object, ``"y"`` (top/bottom bands) or ``"x"`` (left/right halves)."""
    if len(scene.objects) == 1:
        return None
    motions = {o.motion for o in scene.objects}
    if motions & HORIZONTAL and not motions & VERTICAL:
        return "y"
    return "x"


def regions(scene: Scene, height: int, width: int) -> list[Region]:
    """One region per object of ``scene`` in a ``height x width`` frame."""
    axis = split_axis(scene)
    if axis is None:
        return [Region(0.0, 0.0, float(width), float(height))]
    if axis == "x":
        mid = width / 2
        return [Region(0.0, 0.0, mid, float(height)), Region(mid, 0.0, float(width), float(height))]
    mid = height / 2
    return [Region(0.0, 0.0, float(width), mid), Region(0.0, mid, float(width), float(height))]


def nominal_radius(size: str, height: int, width: int) -> float:
    """Equal-area radius (px) of an object of the named size."""
    return SIZES[size] * min(height, width)


def margin_px(height: int, width: int) -> float:
    return MARGIN * min(height, width)
