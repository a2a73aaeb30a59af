"""Preference pairs as latents: every video read once, encoded by the generator's codec.

The latent reward model reads what the generator's transformer reads, so a pair file's videos
go through the generator's own sampling contract: ``num_frames`` frames spread over the clip,
resized to the generator's ``height × width``, then ``adapter.encode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from vidalign.data import PreferencePair
from vidalign.guidance.errors import LatentRewardError
from vidalign.policy.adapter import Generator


@dataclass
class LatentPairs:
    """Pairs of latents with their prompt embeddings and labels.

    Attributes:
        x0: (V, C, F', H', W') float32 latents of the distinct videos.
        a, b: (P,) long, rows of ``x0`` holding video A and video B of each pair.
        cond: (U, L, D) text embeddings of the distinct prompts.
        prompt: (P,) long, row of ``cond`` of each pair.
        labels: (P, n) long in {+1, 0, −1}, column j for ``dims[j]`` (0 where invalid).
        valid: (P, n) bool, False where a pair has no label for a dimension.
        dims: dimension names.
    """

    x0: Tensor
    a: Tensor
    b: Tensor
    cond: Tensor
    prompt: Tensor
    labels: Tensor
    valid: Tensor
    dims: list[str]

    def __len__(self) -> int:
        return int(self.a.shape[0])


def pair_dims(pairs: Sequence[PreferencePair], dims: Sequence[str] | None) -> list[str]:
    """``dims`` if given, else every label name of the pairs except ``Overall`` (file order)."""
    if dims:
        return list(dims)
    found: list[str] = []
    for p in pairs:
        found += [d for d in p.labels if d != "Overall" and d not in found]
    if not found:
        raise LatentRewardError("the pairs have no label dimensions")
    return found


def read_clip(path: str, num_frames: int, height: int, width: int) -> Tensor:
    """uint8 (F, C, H, W): ``num_frames`` frames of ``path`` resized to ``height × width``."""
    from vidalign.video import read_video, resize_frames

    video = read_video(path, num_frames=num_frames)
    if video.frames.shape[0] != num_frames:
        raise LatentRewardError(
            f"{path}: got {video.frames.shape[0]} frames, the generator needs {num_frames}"
        )
    return resize_frames(video.frames, height, width)


def encode_pairs(
    pairs: Sequence[PreferencePair],
    adapter: Generator,
    dims: Sequence[str],
    *,
    batch_size: int = 16,
    progress: bool = False,
) -> LatentPairs:
    """Read, encode and index the videos and prompts of ``pairs`` (module docstring)."""
    if not pairs:
        raise LatentRewardError("no preference pairs to encode")
    d = adapter.defaults
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    row = {path: i for i, path in enumerate(paths)}
    prompts = sorted({p.prompt for p in pairs})
    prow = {text: i for i, text in enumerate(prompts)}
    latents = []
    starts = range(0, len(paths), batch_size)
    for s in tqdm(starts, desc="encode videos", disable=not progress, dynamic_ncols=True):
        clips = [read_clip(p, d.num_frames, d.height, d.width) for p in paths[s : s + batch_size]]
        with torch.no_grad():
            latents.append(adapter.encode(torch.stack(clips)).float().cpu())
    with torch.no_grad():
        cond = adapter.encode_text(prompts).float().cpu()
    labels = torch.zeros(len(pairs), len(dims), dtype=torch.long)
    valid = torch.zeros(len(pairs), len(dims), dtype=torch.bool)
    for i, p in enumerate(pairs):
        for j, dim in enumerate(dims):
            if dim in p.labels:
                labels[i, j] = int(p.labels[dim])
                valid[i, j] = True
    if not valid.any():
        raise LatentRewardError(f"no pair has a label for any of {list(dims)}")
    return LatentPairs(
        x0=torch.cat(latents),
        a=torch.tensor([row[p.path_a] for p in pairs]),
        b=torch.tensor([row[p.path_b] for p in pairs]),
        cond=cond,
        prompt=torch.tensor([prow[p.prompt] for p in pairs]),
        labels=labels,
        valid=valid,
        dims=list(dims),
    )
