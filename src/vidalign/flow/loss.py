"""The conditional flow-matching loss, per sample: the project's one squared velocity error.

Pre-training, SFT, Flow-RWR and Flow-DPO all measure ‖v − v_θ‖² through this function.
It is the primitive the losses are built from, so it returns the bare (B,) tensor and no
stats; the losses proper (``align.losses``, ``reward.losses``, ``align.grpo_losses``) return
``(per_sample, stats)``.
"""

from __future__ import annotations

from torch import Tensor


def flow_matching_loss(v_pred: Tensor, v: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean squared error ‖v - v_θ(x_t, t)‖² averaged over all but the batch axis, in float32.

    Args:
        v_pred: (B, ...) predicted velocity.
        v: (B, ...) target velocity ``noise - x0``.
        weight: optional per-element weights, broadcastable to ``v`` (applied before the mean).

    Returns:
        (B,) per-sample losses (weight or reduce them in the caller).
    """
    if v_pred.shape != v.shape:
        raise ValueError(f"prediction {tuple(v_pred.shape)} and target {tuple(v.shape)} differ")
    error = (v_pred.float() - v.float()).pow(2)
    if weight is not None:
        error = weight * error
    return error.flatten(1).mean(dim=1)
