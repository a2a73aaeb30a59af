"""The reference scorer that every reward model is read against: chance.

:class:`RandomScorer` is the chance row of the accuracy table. Each (video, prompt, dim)
gets a standard-normal reward drawn from a generator seeded by a hash of (seed, video
content, prompt, dim), so the same video scores the same wherever it appears, in any batch,
on any machine. It satisfies :class:`vidalign.eval.scorer.Scorer`, with Overall =
Σ_d w_d · s_d. The ceiling on synthetic data, the oracle, is the synthetic world's
(``vidalign.synth.scorers.OracleScorer``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidalign import DEFAULT_DIMS
from vidalign.eval.scorer import (
    OVERALL,
    EvalError,
    check_lengths,
    resolve_weights,
    weighted_overall,
)


def video_fingerprint(video: Any) -> str:
    """A content hash identifying a video given as a path, a ``Video`` or a frame tensor.

    Paths hash the file's bytes (so a copied or moved file keeps its identity); a
    ``Video`` or a tensor hashes its frames with their shape and dtype.
    """
    h = hashlib.sha256()
    if isinstance(video, str | os.PathLike):
        with Path(video).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return "file:" + h.hexdigest()
    frames = getattr(video, "frames", video)
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise EvalError(f"cannot identify a video of type {type(video).__name__}")
    t = frames.detach().cpu().contiguous()
    h.update(f"{tuple(t.shape)}|{t.dtype}|".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "frames:" + h.hexdigest()


class RandomScorer:
    """Standard-normal rewards, deterministic per (seed, video content, prompt, dim).

    The draws are already zero-mean and unit-variance, so ``normalize`` changes nothing.

    Args:
        dims: dimension names.
        seed: changes every draw.
    """

    def __init__(self, dims: Sequence[str] = DEFAULT_DIMS, seed: int = 0) -> None:
        self.dims = list(dims)
        self.seed = int(seed)

    @property
    def scorer_id(self) -> str:
        return f"random:v1:seed={self.seed}:dims={','.join(self.dims)}"

    def _draw(self, fingerprint: str, prompt: str, dim: str) -> float:
        key = f"{self.seed}\0{fingerprint}\0{prompt}\0{dim}".encode()
        seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little")
        return float(np.random.default_rng(seed).standard_normal())

    def score(
        self,
        videos: Sequence[Any],
        prompts: Sequence[str],
        *,
        normalize: bool = True,
        weights: dict[str, float] | None = None,
    ) -> list[dict[str, float]]:
        """One dict per video: a N(0, 1) draw per dimension, plus their weighted sum."""
        check_lengths(videos, prompts)
        w = resolve_weights(self.dims, weights)
        out = []
        for video, prompt in zip(videos, prompts, strict=True):
            fp = video_fingerprint(video)
            s = {d: self._draw(fp, prompt, d) for d in self.dims}
            s[OVERALL] = weighted_overall(s, w)
            out.append(s)
        return out
