"""Scene specifications of the synthetic world and their vocabularies.

A scene is one or two objects (shape, colour, size, motion) on a plain background. It is
what a prompt describes (``vidalign.synth.prompts``) and what the renderer draws
(``vidalign.synth.render``); it holds no randomness: positions, speeds and bounce
parameters are drawn per clip by the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
"""Shape words; their geometry is in ``vidalign.synth.shapes``."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "yellow": (240, 220, 50),
    "green": (50, 180, 70),
    "cyan": (60, 210, 220),
    "blue": (40, 90, 230),
    "purple": (150, 70, 200),
    "pink": (245, 140, 200),
    "white": (245, 245, 245),
}
"""Object colours (sRGB, 0-255). Any two are at least 114 apart (Euclidean)."""

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (12, 12, 12),
    "dark blue": (20, 30, 80),
    "dark green": (20, 65, 35),
    "gray": (128, 128, 128),
    "beige": (225, 210, 180),
}
"""Background colours (sRGB, 0-255)."""

SIZES: dict[str, float] = {"small": 0.09, "large": 0.14}
"""Nominal object radius as a fraction of the frame's shorter side."""

MOTIONS: tuple[str, ...] = (
    "moves left",
    "moves right",
    "moves up",
    "moves down",
    "bounces",
    "grows",
    "shrinks",
    "stays still",
)
"""Motion phrases. ``moves *`` is constant velocity, ``bounces`` a drop from rest under
gravity with restitution, ``grows``/``shrinks`` a linear change of radius."""

DIRECTIONS: dict[str, tuple[float, float]] = {
    "moves left": (-1.0, 0.0),
    "moves right": (1.0, 0.0),
    "moves up": (0.0, -1.0),
    "moves down": (0.0, 1.0),
}
"""Unit direction (x, y) in image coordinates (y grows downwards) of each ``moves *`` phrase."""

HORIZONTAL = frozenset({"moves left", "moves right"})
VERTICAL = frozenset({"moves up", "moves down", "bounces"})

MIN_CONTRAST = 100.0
"""Smallest object-to-background colour distance (0-255 units) the prompt sampler allows."""


@dataclass(frozen=True)
class SceneObject:
    """One object: vocabulary words only.

    Attributes:
        shape: one of ``SHAPES``.
        colour: a key of ``COLOURS``.
        size: a key of ``SIZES``.
        motion: one of ``MOTIONS``.
    """

    shape: str
    colour: str
    size: str
    motion: str


@dataclass(frozen=True)
class Scene:
    """One or two objects on a named background.

    Attributes:
        objects: 1 or 2 objects; with two, the first is drawn in the left (or top) half.
        background: a key of ``BACKGROUNDS``.
    """

    objects: tuple[SceneObject, ...]
    background: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.objects) <= 2:
            raise ValueError(f"a scene has 1 or 2 objects, got {len(self.objects)}")
        for obj in self.objects:
            for value, vocab, name in (
                (obj.shape, SHAPES, "shape"),
                (obj.colour, COLOURS, "colour"),
                (obj.size, SIZES, "size"),
                (obj.motion, MOTIONS, "motion"),
            ):
                if value not in vocab:
                    raise ValueError(f"unknown {name} {value!r}; expected one of {list(vocab)}")
        if self.background not in BACKGROUNDS:
            raise ValueError(
                f"unknown background {self.background!r}; expected one of {list(BACKGROUNDS)}"
            )


def rgb(name: str) -> np.ndarray:
    """Colour of an object or background word as float RGB in [0, 1], shape (3,)."""
    table = COLOURS if name in COLOURS else BACKGROUNDS
    return np.asarray(table[name], dtype=np.float64) / 255.0


def contrast(colour: str, background: str) -> float:
    """Euclidean distance (0-255 units) between an object colour and a background colour."""
    return float(np.linalg.norm(np.subtract(COLOURS[colour], BACKGROUNDS[background])))
