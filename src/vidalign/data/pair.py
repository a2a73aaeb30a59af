"""One preference judgement: a prompt, two videos, and a label per dimension."""

from __future__ import annotations

from dataclasses import dataclass, field

LABEL_TO_INT: dict[str, int] = {"A": 1, "B": -1, "same": 0}
"""On-disk label → code: +1 A preferred, -1 B preferred, 0 tie (REFERENCE.md §1)."""
INT_TO_LABEL: dict[int, str] = {v: k for k, v in LABEL_TO_INT.items()}
OVERALL = "Overall"
"""Label name of the human overall preference (benchmark files); never inferred as a dimension."""


@dataclass
class PreferencePair:
    """A prompt, videos A and B, and which one people preferred on each dimension.

    Attributes:
        prompt: the text both videos were generated from.
        path_a: video A (resolved: absolute when read by ``load_pairs``).
        path_b: video B.
        labels: dimension → +1 (A better), -1 (B better) or 0 (tie). Holds the
            requested dimensions, plus ``"Overall"`` when the file has that column.
        fps_a: the rate to sample A at, or None.
        fps_b: the rate to sample B at, or None.
        num_frames_a: the frame count to sample from A, or None.
        num_frames_b: the frame count to sample from B, or None.
        mos_a: dimension → pointwise score of A (for the regression loss); may be empty.
        mos_b: dimension → pointwise score of B.
        meta: every other column as text, e.g. ``A_model`` and ``B_model``.
    """

    prompt: str
    path_a: str
    path_b: str
    labels: dict[str, int]
    fps_a: float | None = None
    fps_b: float | None = None
    num_frames_a: int | None = None
    num_frames_b: int | None = None
    mos_a: dict[str, float] = field(default_factory=dict)
    mos_b: dict[str, float] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def overall(self) -> int | None:
        """The overall human label (+1 / -1 / 0), or None when the data has none."""
        return self.labels.get(OVERALL)
