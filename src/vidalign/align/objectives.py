"""One training objective per method: the model calls around the pure losses of ``losses``.

Each returns what its loss returns: ``(per_sample, stats)`` for Flow-DPO and Flow-RWR, the
bare (B,) tensor for SFT (its loss is the primitive ``flow_matching_loss``).

Every function takes the policy as a velocity callable ``policy(x_t, t, cond) -> v``; Flow-DPO
also takes ``reference``, the same callable on the same network, which it runs under
``no_grad`` inside ``lora_disabled(base)`` (REFERENCE.md §4: never a second copy).
Shapes: x0 and noise ``(B, C, F, H, W)``, t ``(B,)``, cond ``(B, L, D)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from vidalign.align.losses import (
    DPOStats,
    RWRStats,
    flow_dpo_loss,
    flow_matching_loss,
    flow_rwr_loss,
)
from vidalign.flow import interpolate, target_velocity
from vidalign.policy.lora import lora_disabled

Velocity = Callable[[Tensor, Tensor, Tensor], Tensor]


def flow_dpo_objective(
    policy: Velocity,
    reference: Velocity,
    base: torch.nn.Module,
    x0_w: Tensor,
    x0_l: Tensor,
    cond: Tensor,
    noise: Tensor,
    t: Tensor,
    beta_t: Tensor,
    sft_weight: float = 0.0,
) -> tuple[Tensor, DPOStats]:
    """Flow-DPO per pair. Winner and loser share ``noise`` and ``t`` and run as one batch.

    Args:
        policy, reference: velocity callables; ``reference`` is run with the adapters of
            ``base`` (the LoRA-wrapped transformer) disabled.
        x0_w, x0_l: winner / loser data (B, C, F, H, W). cond: (B, L, D).
        noise: (B, C, F, H, W), shared. t: (B,), shared. beta_t: (B,).
        sft_weight: weight of the winners' flow-matching anchor (``flow_dpo_loss``).

    Returns:
        Per-pair losses (B,) and ``DPOStats``.
    """
    b = x0_w.shape[0]
    x0 = torch.cat([x0_w, x0_l])
    eps = torch.cat([noise, noise])
    tt = torch.cat([t, t])
    cc = torch.cat([cond, cond])
    x_t = interpolate(x0, eps, tt)
    v = target_velocity(x0, eps)
    with torch.no_grad(), lora_disabled(base):
        ref = reference(x_t, tt, cc)
    pred = policy(x_t, tt, cc)
    return flow_dpo_loss(
        pred[:b], pred[b:], ref[:b], ref[b:], v[:b], v[b:], beta_t, sft_weight=sft_weight
    )


def flow_matching_objective(
    policy: Velocity, x0: Tensor, cond: Tensor, noise: Tensor, t: Tensor
) -> Tensor:
    """Per-sample flow-matching loss ``mean((v − v_θ(x_t, t))²)`` (SFT). Returns (B,)."""
    pred = policy(interpolate(x0, noise, t), t, cond)
    return flow_matching_loss(pred, target_velocity(x0, noise))


def flow_rwr_objective(
    policy: Velocity, x0: Tensor, cond: Tensor, noise: Tensor, t: Tensor, weights: Tensor
) -> tuple[Tensor, RWRStats]:
    """Flow-RWR per sample, ``w·mean((v − v_θ)²)`` with w from ``rwr_weights``. Returns the
    (B,) losses and ``RWRStats``."""
    pred = policy(interpolate(x0, noise, t), t, cond)
    return flow_rwr_loss(pred, target_velocity(x0, noise), weights)
