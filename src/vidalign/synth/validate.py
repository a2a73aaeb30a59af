"""Validation of the oracle: does each judge rank clips by the severity of its own failures?

``severity_sweep`` renders one scene at a ladder of severities of one failure mode, sends
every clip through a real mp4 file (encode, decode), and judges the decoded frames. From a
sweep, ``spearman`` of severity against the negated score of the mode's own dimension
measures the ranking; the largest move of each other dimension's score, against the drop of
the own dimension, measures how specific the failure is.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidalign.synth.degrade import FAILURE_DIMS, render_with_failures
from vidalign.synth.oracle import DIMS, judge
from vidalign.synth.prompts import parse_prompt
from vidalign.video import read_video, write_video

VALIDATION_PROMPTS: tuple[str, ...] = (
    "a large red circle moves right on a gray background",
    "a small yellow square bounces on a dark blue background",
    "a large cyan triangle grows and a small pink square moves down on a black background",
    "a small white diamond moves up on a dark green background",
)


def rankdata(x: Sequence[float]) -> np.ndarray:
    """Ranks 0..n-1, ties sharing their mean rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of mean-tie ranks); NaN if constant."""
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class Sweep:
    """Oracle scores of one scene along a ladder of one failure's severity.

    Attributes:
        mode, prompt: what was swept.
        severities: shape (S,).
        scores: dimension -> scores, shape (S,).
    """

    mode: str
    prompt: str
    severities: np.ndarray
    scores: dict[str, np.ndarray]

    @property
    def dim(self) -> str:
        return FAILURE_DIMS[self.mode]

    @property
    def rho(self) -> float:
        """Spearman of severity against the own dimension's score, negated (1 = perfect)."""
        return spearman(self.severities, -self.scores[self.dim])

    @property
    def own_drop(self) -> float:
        own = self.scores[self.dim]
        return float(own[0] - own[-1])

    def other_moves(self) -> dict[str, float]:
        """Largest absolute change from severity 0 of every other dimension."""
        return {d: float(np.abs(s - s[0]).max()) for d, s in self.scores.items() if d != self.dim}


def severity_sweep(
    prompt: str,
    mode: str,
    severities: Sequence[float],
    *,
    seed: int,
    size: int,
    num_frames: int,
    fps: float = 8.0,
    work_dir: str | Path | None = None,
) -> Sweep:
    """Render, encode to mp4, decode and judge ``prompt`` at each severity of ``mode``."""
    scene = parse_prompt(prompt)
    scores: dict[str, list[float]] = {d: [] for d in DIMS}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        path = Path(tmp) / "clip.mp4"
        for s in severities:
            frames = render_with_failures(
                scene, {mode: float(s)}, seed=seed, size=size, num_frames=num_frames
            )
            write_video(path, frames, fps)
            for d, v in judge(read_video(path), prompt).items():
                scores[d].append(v)
    return Sweep(
        mode=mode,
        prompt=prompt,
        severities=np.asarray(severities, dtype=np.float64),
        scores={d: np.asarray(v) for d, v in scores.items()},
    )
