"""Flow-GRPO's pure pieces: group advantages, the PPO-clipped loss and the step KL.

Rewards come as a (N, D) tensor, N = prompts × G samples, D reward dimensions, with
``groups`` (N,) naming each sample's prompt group. Everything is float32.

Convention (every loss module): a loss returns ``(per_sample, stats)``, the (B,) losses and a
dataclass of detached diagnostics (``PolicyLossStats``); the caller reduces. ``step_kl``,
like ``flow.flow_matching_loss``, is a primitive term (the caller adds β·KL to the policy
loss) and returns the bare (B,) tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

StdMode = Literal["group", "global"]
Combine = Literal["advantages", "rewards"]


def group_normalise(
    r: Tensor, groups: Tensor, *, std: StdMode = "group", eps: float = 1e-4
) -> Tensor:
    """(r − group mean) / (std + eps) for a (N,) reward; std of the group or of all N.

    Standard deviations are the population ones (divide by n), as numpy's default.
    """
    r = r.float()
    if r.ndim != 1 or groups.shape != r.shape:
        raise ValueError(f"rewards {tuple(r.shape)} and groups {tuple(groups.shape)} must be (N,)")
    out = torch.empty_like(r)
    global_std = r.std(unbiased=False)
    for g in torch.unique(groups):
        sel = groups == g
        centred = r[sel] - r[sel].mean()
        sd = r[sel].std(unbiased=False) if std == "group" else global_std
        out[sel] = centred / (sd + eps)
    return out


def group_advantages(
    rewards: Tensor,
    groups: Tensor,
    weights: Sequence[float],
    *,
    combine: Combine = "advantages",
    std: StdMode = "group",
    clip: float = 0.0,
    eps: float = 1e-4,
) -> Tensor:
    """Advantages (N,) from multi-dimensional rewards (N, D).

    ``advantages``: normalise each dimension within its group, then Σ_d w_d·A_d (DanceGRPO
    sums its VQ and MQ advantages). ``rewards``: normalise Σ_d w_d·r_d within the group.
    ``clip`` > 0 clamps the result to [−clip, clip].
    """
    if rewards.ndim != 2 or rewards.shape[1] != len(weights):
        raise ValueError(f"rewards {tuple(rewards.shape)} need {len(weights)} columns (N, D)")
    w = torch.tensor(list(weights), dtype=torch.float32, device=rewards.device)
    r = rewards.float()
    if combine == "advantages":
        cols = [group_normalise(r[:, d], groups, std=std, eps=eps) for d in range(r.shape[1])]
        adv = torch.stack(cols, dim=1) @ w
    elif combine == "rewards":
        adv = group_normalise(r @ w, groups, std=std, eps=eps)
    else:
        raise ValueError(f"unknown combine {combine!r}; use 'advantages' or 'rewards'")
    return adv.clamp(-clip, clip) if clip > 0 else adv


@dataclass(frozen=True)
class PolicyLossStats:
    """Diagnostics of the clipped policy loss, each (B,), detached.

    ``ratio``: ρ = exp(lp − lp_old); ``clipped``: 1.0 where |ρ − 1| > ε, the ratio lies
    outside the clip range (its mean is PPO's clip fraction).
    """

    ratio: Tensor
    clipped: Tensor


def clipped_policy_loss(
    log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, clip_range: float
) -> tuple[Tensor, PolicyLossStats]:
    """PPO's clipped surrogate, per sample: −min(ρ·A, clip(ρ, 1−ε, 1+ε)·A), ρ = exp(lp − lp_old).

    All (B,). Returns the losses and ``PolicyLossStats``.
    """
    ratio = torch.exp(log_prob.float() - old_log_prob.float())
    a = advantages.float()
    unclipped = -a * ratio
    clipped = -a * ratio.clamp(1.0 - clip_range, 1.0 + clip_range)
    r = ratio.detach()
    stats = PolicyLossStats(ratio=r, clipped=((r - 1).abs() > clip_range).float())
    return torch.maximum(unclipped, clipped), stats


def step_kl(mean: Tensor, mean_ref: Tensor, std: Tensor) -> Tensor:
    """KL between N(mean, std²) and N(mean_ref, std²) per element, ‖μ − μ_ref‖² / (2 std²),
    averaged over all but the batch axis: (B,). ``std``: scalar or (B,).

    Both means come from the same x_t, so μ − μ_ref = dt·(1 + σ_t²(1 − t)/(2t))·(v − v_ref):
    a velocity-space squared error weighted per timestep."""
    d = (mean.float() - mean_ref.float()).pow(2).flatten(1).mean(dim=1)
    s = torch.as_tensor(std, dtype=torch.float32, device=d.device)
    return d / (2 * s.pow(2))
