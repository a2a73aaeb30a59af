"""Flow-DPO, Flow-RWR and flow-matching (SFT) losses (REFERENCE.md §4). Pure functions.

Every tensor of velocities is ``(B, C, F, H, W)``; ``t`` is ``(B,)``. Squared errors are
averaged over the elements of each sample, so loss scales do not depend on video size.

Convention (every loss module): a loss returns ``(per_sample, stats)``, the (B,) losses and a
dataclass of detached diagnostics (``DPOStats``, ``RWRStats``); the caller reduces, here by
the mean. ``flow_matching_loss`` is the shared primitive and returns the (B,) tensor alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

# Plain flow matching, the SFT loss: per-sample mean((v − v_θ)²), (B,). One definition,
# shared with pre-training (it also checks shapes and computes in float32).
from vidalign.flow.loss import flow_matching_loss

__all__ = [
    "DPOStats",
    "RWRStats",
    "dpo_beta",
    "flow_dpo_loss",
    "flow_matching_loss",
    "flow_rwr_loss",
    "rwr_weights",
]

BetaSchedule = Literal["constant", "one_minus_t_sq"]


def dpo_beta(beta: float, t: Tensor, schedule: BetaSchedule = "constant") -> Tensor:
    """β_t for Flow-DPO. ``constant``: β (the paper's recommendation);
    ``one_minus_t_sq``: β·(1 − t)², the weight the derivation gives, which vanishes at high
    noise and was found to cause reward hacking. ``t``: ``(B,)``."""
    if schedule == "constant":
        return torch.full_like(t, float(beta))
    if schedule == "one_minus_t_sq":
        return beta * (1.0 - t) ** 2
    raise ValueError(f"unknown beta schedule {schedule!r}; use 'constant' or 'one_minus_t_sq'")


@dataclass(frozen=True)
class DPOStats:
    """Per-pair diagnostics of Flow-DPO, each ``(B,)``.

    ``w_diff``/``l_diff``: policy error minus reference error on the winner / loser
    (negative means the policy fits that sample better than the reference).
    ``margin``: the logit inside the sigmoid; ``acc``: 1 where the implicit reward
    prefers the winner (margin > 0).
    """

    w_diff: Tensor
    l_diff: Tensor
    margin: Tensor
    acc: Tensor


def flow_dpo_loss(
    pred_w: Tensor,
    pred_l: Tensor,
    ref_w: Tensor,
    ref_l: Tensor,
    target_w: Tensor,
    target_l: Tensor,
    beta_t: Tensor,
    sft_weight: float = 0.0,
) -> tuple[Tensor, DPOStats]:
    """Flow-DPO, REFERENCE.md §4, with an optional flow-matching anchor on the winners.

    L = −log σ(−(β_t/2)·[(‖v^w − v_θ^w‖² − ‖v^w − v_ref^w‖²) − (‖v^l − v_θ^l‖² − ‖v^l − v_ref^l‖²)])
        + λ·‖v^w − v_θ^w‖²

    The DPO term only asks that the loser's error grow faster than the winner's, so it can be
    lowered by fitting both worse (measured on the synthetic world: with winners that are
    clean renders, the winners' error rose by 0.28 while the losers' rose by 0.40, and visual
    quality fell). ``sft_weight`` λ > 0 adds the winners' plain flow-matching loss, which
    keeps the policy fitting them (the SFT term of DPO variants for language models).

    The winner and loser must have been noised with the same ``noise`` and ``t``; the
    reference predictions come from the same network with adapters disabled (no grad).

    Worked example: with identical winner and loser the bracket is 0, so L = log 2 ≈ 0.6931
    and the gradient is 0. With w_diff = −0.2, l_diff = 0.2 and β_t = 10, the margin is
    −5·(−0.4) = 2 and L = −log σ(2) ≈ 0.1269; with λ = 0.5 and a winner error of 0.04,
    L = 0.1269 + 0.02 = 0.1469.

    Args:
        pred_w, pred_l: policy velocities on the noised winner / loser, ``(B, C, F, H, W)``.
        ref_w, ref_l: reference velocities on the same inputs.
        target_w, target_l: target velocities ``noise − x0`` of winner / loser.
        beta_t: ``(B,)`` KL strength per pair (see ``dpo_beta``).
        sft_weight: λ ≥ 0, weight of the winners' flow-matching loss.

    Returns:
        Per-pair losses ``(B,)`` and ``DPOStats``.
    """
    if sft_weight < 0:
        raise ValueError(f"sft_weight must be >= 0, got {sft_weight}")
    w_err = flow_matching_loss(pred_w, target_w)
    w_diff = w_err - flow_matching_loss(ref_w, target_w)
    l_diff = flow_matching_loss(pred_l, target_l) - flow_matching_loss(ref_l, target_l)
    margin = -0.5 * beta_t * (w_diff - l_diff)
    loss = -F.logsigmoid(margin)
    if sft_weight > 0:
        loss = loss + sft_weight * w_err
    stats = DPOStats(
        w_diff=w_diff.detach(),
        l_diff=l_diff.detach(),
        margin=margin.detach(),
        acc=(margin.detach() > 0).float(),
    )
    return loss, stats


RWRNormalisation = Literal["batch", "global"]


def rwr_weights(
    reward: Tensor,
    *,
    temperature: float = 1.0,
    normalisation: RWRNormalisation = "batch",
    reward_mean: float = 0.0,
) -> Tensor:
    """Flow-RWR weights ∝ exp(r / τ) for rewards ``(B,)``.

    The paper writes exp(r) and publishes no temperature or normalisation; vidalign's
    choice, documented here:

    * ``batch`` (default): self-normalised over the batch, w = B·softmax(r/τ). The weights
      average 1, so the loss scale matches plain flow matching whatever the reward scale;
      the catch is that a batch's weights depend on its other members.
    * ``global``: w = exp((r − r̄)/τ) with ``reward_mean`` r̄ fixed for the whole run (the
      mean reward of the training pairs), so a sample's weight never depends on its batch.

    Either way, equal rewards give weights of exactly 1 (for ``global`` when r = r̄).
    """
    if temperature <= 0:
        raise ValueError(f"RWR temperature must be positive, got {temperature}")
    if normalisation == "batch":
        return reward.numel() * torch.softmax(reward / temperature, dim=0)
    if normalisation == "global":
        return torch.exp((reward - reward_mean) / temperature)
    raise ValueError(f"unknown RWR normalisation {normalisation!r}; use 'batch' or 'global'")


@dataclass(frozen=True)
class RWRStats:
    """Diagnostics of Flow-RWR: ``weights`` ``(B,)``, the per-sample weights applied."""

    weights: Tensor


def flow_rwr_loss(v_pred: Tensor, v_target: Tensor, weights: Tensor) -> tuple[Tensor, RWRStats]:
    """Flow-RWR: the flow-matching loss weighted per sample, w·mean((v − v_θ)²).

    ``weights`` come from ``rwr_weights`` and carry no gradient. Returns the ``(B,)`` losses
    and ``RWRStats``.
    """
    w = weights.detach()
    return w * flow_matching_loss(v_pred, v_target), RWRStats(weights=w)
