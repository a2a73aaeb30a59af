"""Reward sources of Flow-GRPO: a reward model, a gold judge, a toy, and several at once.

A source scores a batch of decoded clips, uint8 (B, F, C, H, W), against their prompts and
returns a float32 (B, D) tensor, one column per name in ``dims``. ``names`` label the
samples (step, prompt, group index) in errors: a clip that cannot be scored, or a score
that is not finite, is a ``RewardError`` naming it, never a number.

Sources (``build_rewards``): a reward-model folder (``RewardScorer``; normalised rewards
when the folder has statistics), a gold source named by a word (the synthetic world's
``oracle``, ``vidalign.synth.scorers.OracleReward``, which the CLI and the demo pass in; only
as a gold control: it is what the evaluation trusts, so optimising it measures nothing), and
``brightness`` (mean pixel value in [0, 1], a toy for tests and benchmarks). A source checks
its input with :func:`check_clips` and its output with :func:`finite_rewards`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
from torch import Tensor

from vidalign.errors import VidalignError
from vidalign.reward.scorer import RewardScorer


class RewardError(VidalignError):
    """A rollout could not be scored; the message names the sample and its prompt."""


class RewardSource(Protocol):
    dims: list[str]

    def __call__(self, clips: Tensor, prompts: Sequence[str], names: Sequence[str]) -> Tensor: ...


def check_clips(clips: Tensor, prompts: Sequence[str], names: Sequence[str]) -> None:
    """Clips uint8 (B, F, C, H, W) with one prompt and one name each, else ``RewardError``."""
    if clips.dtype != torch.uint8 or clips.ndim != 5:
        raise RewardError(
            f"clips must be uint8 (B, F, C, H, W), got {clips.dtype} {tuple(clips.shape)}"
        )
    if not len(prompts) == len(names) == clips.shape[0]:
        raise RewardError(f"{clips.shape[0]} clips, {len(prompts)} prompts, {len(names)} names")


def finite_rewards(
    r: Tensor, dims: Sequence[str], prompts: Sequence[str], names: Sequence[str]
) -> Tensor:
    """``r`` (B, D) when every reward is finite, else a ``RewardError`` naming the first sample."""
    bad = (~torch.isfinite(r)).nonzero()
    if bad.numel():
        i, d = (int(v) for v in bad[0])
        raise RewardError(
            f"{names[i]} (prompt {prompts[i]!r}): reward {dims[d]} is {r[i, d].item()}, not finite"
        )
    return r


class ModelReward:
    """A reward model folder (``RewardScorer.from_pretrained``), e.g. VideoReward."""

    def __init__(
        self, folder: str, *, device: str | torch.device | None = None, batch_size: int = 8
    ):
        self.folder = folder
        self.scorer = RewardScorer.from_pretrained(folder, device=device, batch_size=batch_size)
        self.dims = list(self.scorer.dims)

    def __call__(self, clips: Tensor, prompts: Sequence[str], names: Sequence[str]) -> Tensor:
        check_clips(clips, prompts, names)
        rows = self.scorer.score(
            list(clips.cpu()), list(prompts), normalize=self.scorer.stats is not None,
            errors="report",
        )  # fmt: skip
        for i, row in enumerate(rows):
            if "error" in row:
                raise RewardError(
                    f"{names[i]} (prompt {prompts[i]!r}): the reward model {self.folder} "
                    f"cannot score it: {row['error']}"
                )
        r = torch.tensor([[row[d] for d in self.dims] for row in rows], dtype=torch.float32)
        return finite_rewards(r, self.dims, prompts, names)


class BrightnessReward:
    """Mean pixel value in [0, 1] (a toy reward with a known optimum: white)."""

    def __init__(self) -> None:
        self.dims = ["brightness"]

    def __call__(self, clips: Tensor, prompts: Sequence[str], names: Sequence[str]) -> Tensor:
        check_clips(clips, prompts, names)
        return clips.float().flatten(1).mean(dim=1, keepdim=True).cpu() / 255.0


class CombinedRewards:
    """Several sources side by side: dimensions ``dim`` for one source, ``dim@i`` for several."""

    def __init__(self, sources: Sequence[RewardSource]):
        if not sources:
            raise RewardError("no reward source given")
        self.sources = list(sources)
        many = len(self.sources) > 1
        self.dims = [f"{d}@{i}" if many else d for i, s in enumerate(self.sources) for d in s.dims]

    def __call__(self, clips: Tensor, prompts: Sequence[str], names: Sequence[str]) -> Tensor:
        """(B, D) float32: each source's columns in turn, checked for shape and finiteness."""
        check_clips(clips, prompts, names)
        parts = []
        for source in self.sources:
            r = torch.as_tensor(source(clips, prompts, names)).float().cpu()
            if r.shape != (clips.shape[0], len(source.dims)):
                raise RewardError(
                    f"{type(source).__name__} returned rewards of shape {tuple(r.shape)} for "
                    f"{clips.shape[0]} clips and dims {list(source.dims)}"
                )
            parts.append(r)
        return finite_rewards(torch.cat(parts, dim=1), self.dims, prompts, names)


def build_rewards(
    specs: Sequence[str],
    *,
    gold_sources: Mapping[str, RewardSource] | None = None,
    gold_control: bool = False,
    device: str | torch.device | None = None,
    batch_size: int = 8,
) -> CombinedRewards:
    """Sources from their specs: a key of ``gold_sources`` (the CLI and the demo pass the
    synthetic world's ``{"oracle": ...}``, ``vidalign.synth.scorers.gold_sources``; only
    with ``gold_control``), ``brightness`` or a reward-model folder."""
    gold_sources = gold_sources or {}
    sources: list[RewardSource] = []
    for spec in specs:
        if spec in gold_sources:
            if not gold_control:
                raise RewardError(
                    f"reward source {spec!r} is the gold judge; optimise it only as a control "
                    "run with gold_control=true (the learned arm uses a reward model folder)"
                )
            sources.append(gold_sources[spec])
        elif spec == "brightness":
            sources.append(BrightnessReward())
        else:
            sources.append(ModelReward(spec, device=device, batch_size=batch_size))
    return CombinedRewards(sources)


def resolve_reward_weights(dims: Sequence[str], weights: dict[str, float]) -> list[float]:
    """Weights in ``dims`` order; an empty mapping is 1 each, else it must name every dim."""
    if not weights:
        return [1.0] * len(dims)
    unknown = sorted(set(weights) - set(dims))
    missing = [d for d in dims if d not in weights]
    if unknown or missing:
        raise RewardError(
            f"reward.weights must name exactly the reward dimensions {list(dims)}; "
            f"unknown {unknown}, missing {missing}"
        )
    w = [float(weights[d]) for d in dims]
    if not all(math.isfinite(x) for x in w) or not any(w):
        raise RewardError(f"reward.weights {weights} must be finite and not all 0")
    return w
