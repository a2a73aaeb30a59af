"""Training data of the alignment trainer: clips from a pair file and their cached x0.

A pair file written by ``vidalign align make-pairs`` links each side to its sampled x0
(``latent_A`` / ``latent_B`` columns, safetensors with key ``x0``) and its reward
(``reward_A`` / ``reward_B``). Any other pair file works for DPO and SFT too: its videos
are then decoded and encoded by the generator's codec once and kept in memory.

What each method trains on:

* ``dpo``: (winner, loser) pairs, ranked by the chosen label; ties are left out;
* ``sft``: the winner of each such pair (the chosen samples);
* ``rwr``: every distinct clip of the file, with its reward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

from vidalign.data import OVERALL, load_pairs
from vidalign.errors import VidalignError


class AlignDataError(VidalignError):
    """The training pairs or their cached latents are unusable; the message says where."""


@dataclass(frozen=True)
class Clip:
    """One video of the training data.

    Attributes:
        prompt: its prompt.
        video: the mp4 (absolute).
        latent: the cached x0 (absolute), or None to encode ``video``.
        reward: its scalar reward, or None when the file holds none.
    """

    prompt: str
    video: str
    latent: str | None = None
    reward: float | None = None


@dataclass(frozen=True)
class ClipPair:
    """A preferred and a rejected clip of the same prompt."""

    winner: Clip
    loser: Clip


def read_clip_pairs(
    path: str | Path, *, label: str = OVERALL, dims: Sequence[str] | None = None
) -> list[ClipPair]:
    """Winner/loser pairs of a pair file, ranked by ``label`` (ties dropped).

    Args:
        path: the pair file (.csv, .jsonl, .parquet).
        label: the label that decides the winner: ``Overall`` (make-pairs' weighted reward)
            or a dimension name.
        dims: label columns to read (default: inferred).
    """
    path = Path(path)
    pairs = load_pairs(path, dims=dims)
    root = path.parent
    out = []
    for row, p in enumerate(pairs, start=1):
        if label not in p.labels:
            raise AlignDataError(
                f"{path}: row {row} has no {label!r} label; labels: {sorted(p.labels)}"
            )
        if p.labels[label] == 0:
            continue
        a = _clip(p.prompt, p.path_a, p.meta, "A", root, path, row)
        b = _clip(p.prompt, p.path_b, p.meta, "B", root, path, row)
        out.append(ClipPair(a, b) if p.labels[label] > 0 else ClipPair(b, a))
    if not out:
        raise AlignDataError(f"{path}: no pair with a strict {label!r} preference")
    return out


def _clip(
    prompt: str, video: str, meta: dict[str, str], side: str, root: Path, path: Path, row: int
) -> Clip:
    latent = meta.get(f"latent_{side}") or None
    reward: float | None = None
    text = meta.get(f"reward_{side}")
    if text:
        try:
            reward = float(text)
        except ValueError:
            reward = math.nan
        if not math.isfinite(reward):
            raise AlignDataError(f"{path}: row {row}, reward_{side}: not a finite number: {text!r}")
    if latent is not None and not Path(latent).is_absolute():
        latent = str(root / latent)
    return Clip(prompt, video, latent, reward)


def sft_clips(pairs: Sequence[ClipPair]) -> list[Clip]:
    """The chosen side of every pair (a clip that wins twice appears twice)."""
    return [p.winner for p in pairs]


def rwr_clips(pairs: Sequence[ClipPair], *, where: str = "pairs") -> list[Clip]:
    """Every distinct clip, in first-seen order; each must carry a reward."""
    seen: dict[str, Clip] = {}
    for p in pairs:
        for c in (p.winner, p.loser):
            seen.setdefault(c.video, c)
    missing = [c.video for c in seen.values() if c.reward is None]
    if missing:
        raise AlignDataError(
            f"{where}: Flow-RWR needs a reward per video (reward_A / reward_B columns, written "
            f"by `vidalign align make-pairs`); none for {missing[:3]}"
        )
    return list(seen.values())


class LatentStore:
    """x0 of each clip: read from its cache file, or encoded once from its video.

    Args:
        shape: the expected (C, F', H', W'), checked for every clip.
        encode: video path → x0 (C, F', H', W'); needed only for clips without a cache.
        keep: keep loaded tensors in memory (small data); cache files are re-read otherwise.
    """

    def __init__(
        self,
        shape: Sequence[int],
        encode: Callable[[str], Tensor] | None = None,
        *,
        keep: bool = True,
    ) -> None:
        self.shape = tuple(shape)
        self.encode = encode
        self.keep = keep
        self._memory: dict[str, Tensor] = {}

    def get(self, clip: Clip) -> Tensor:
        """x0 (C, F', H', W') float32 of ``clip``."""
        key = clip.latent or clip.video
        if key in self._memory:
            return self._memory[key]
        if clip.latent is not None:
            try:
                x0 = load_file(clip.latent)["x0"]
            except (OSError, SafetensorError, KeyError) as err:
                raise AlignDataError(
                    f"{clip.latent}: cannot read the cached x0 of {clip.video} ({err!r})"
                ) from None
            keep = self.keep
        else:
            if self.encode is None:
                raise AlignDataError(f"{clip.video}: no cached latent and no encoder given")
            x0 = self.encode(clip.video)
            keep = True  # encoding is the expensive path: never repeat it
        if tuple(x0.shape) != self.shape:
            raise AlignDataError(
                f"{clip.latent or clip.video}: x0 has shape {tuple(x0.shape)}, the generator "
                f"expects {self.shape}"
            )
        x0 = x0.float()
        if keep:
            self._memory[key] = x0
        return x0

    def batch(self, clips: Sequence[Clip]) -> Tensor:
        """Stacked x0 (B, C, F', H', W')."""
        return torch.stack([self.get(c) for c in clips])
