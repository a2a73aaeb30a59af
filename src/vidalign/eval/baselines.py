"""Reference scorers that every reward model is read against.

* :class:`RandomScorer`: the chance row of the accuracy table. Each (video, prompt, dim)
  gets a standard-normal reward drawn from a generator seeded by a hash of
  (seed, video content, prompt, dim), so the same video scores the same wherever it
  appears, in any batch, on any machine.
* :class:`OracleScorer`: the ceiling on synthetic data. It decodes each video and calls
  the synthetic world's pixel-only oracle judge, so it is the noise-free version of what
  the simulated annotators saw.

Both satisfy :class:`vidalign.eval.scorer.Scorer`, with Overall = Σ_d w_d · s_d.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidalign import DEFAULT_DIMS, __version__
from vidalign.eval.scorer import OVERALL, EvalError, resolve_weights, weighted_overall


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
        _check_lengths(videos, prompts)
        w = resolve_weights(self.dims, weights)
        out = []
        for video, prompt in zip(videos, prompts, strict=True):
            fp = video_fingerprint(video)
            s = {d: self._draw(fp, prompt, d) for d in self.dims}
            s[OVERALL] = weighted_overall(s, w)
            out.append(s)
        return out


class OracleScorer:
    """The synthetic world's pixel-only oracle as a scorer: the accuracy ceiling.

    Each video is decoded with ``vidalign.video.read_video`` (all frames, native rate and
    size, as the synthetic dataset wrote them) and judged with
    ``vidalign.synth.oracle.judge(frames, prompt)``.

    Normalisation: the oracle's raw values (each in [0, 1], higher is better) are
    z-normalised per dimension with fixed ``stats`` {dim: (mean, std)}, like a reward
    model's stored statistics. The default, ``stats=None``, is mean 0 and std 1 for every
    dimension, so the "normalised" rewards are the raw oracle values and Overall is
    Σ_d w_d · oracle_d on that common [0, 1] scale. Normalisation never changes
    per-dimension accuracy; it only sets how dimensions weigh against each other in
    Overall.

    Args:
        dims: which oracle dimensions to report (default: VQ, MQ, TA).
        stats: per-dimension (mean, std) for normalisation, or None.
    """

    def __init__(
        self,
        dims: Sequence[str] = DEFAULT_DIMS,
        stats: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.dims = list(dims)
        stats = dict(stats or {})
        unknown = [d for d in stats if d not in self.dims]
        if unknown:
            raise EvalError(f"oracle stats for unknown dimensions {unknown}; dims: {self.dims}")
        self.stats = {d: tuple(map(float, stats.get(d, (0.0, 1.0)))) for d in self.dims}
        bad = [d for d, (_, sd) in self.stats.items() if not sd > 0]
        if bad:
            raise EvalError(f"oracle stats need std > 0; not for {bad}")

    @property
    def scorer_id(self) -> str:
        from vidalign.synth.oracle import ORACLE_VERSION

        stats = ",".join(f"{d}={m:g}/{s:g}" for d, (m, s) in self.stats.items())
        return f"oracle:v{ORACLE_VERSION}:vidalign-{__version__}:dims={','.join(self.dims)}:stats={stats}"

    def score(
        self,
        videos: Sequence[Any],
        prompts: Sequence[str],
        *,
        normalize: bool = True,
        weights: dict[str, float] | None = None,
    ) -> list[dict[str, float]]:
        """Judge each video against its prompt.

        Args:
            videos: mp4 paths, ``Video`` objects, or uint8 frame tensors (F, C, H, W).
            prompts: one prompt per video, from the synthetic grammar.
            normalize: apply ``stats`` (z-normalisation) to each dimension.
            weights: w_d of Overall (None: all 1).
        """
        from vidalign.synth.oracle import judge
        from vidalign.video import read_video

        _check_lengths(videos, prompts)
        w = resolve_weights(self.dims, weights)
        out = []
        for video, prompt in zip(videos, prompts, strict=True):
            if isinstance(video, str | os.PathLike):
                video = read_video(video)
            frames = getattr(video, "frames", video)
            raw = judge(frames, prompt)
            missing = [d for d in self.dims if d not in raw]
            if missing:
                raise EvalError(f"the oracle judges {sorted(raw)}, not {missing}")
            s = {d: float(raw[d]) for d in self.dims}
            if normalize:
                s = {d: (v - self.stats[d][0]) / self.stats[d][1] for d, v in s.items()}
            s[OVERALL] = weighted_overall(s, w)
            out.append(s)
        return out


def _check_lengths(videos: Sequence[Any], prompts: Sequence[str]) -> None:
    if len(videos) != len(prompts):
        raise EvalError(f"got {len(videos)} videos but {len(prompts)} prompts")
