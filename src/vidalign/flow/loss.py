"""The conditional flow-matching loss, per sample."""

from __future__ import annotations

from torch import Tensor


def flow_matching_loss(v_pred: Tensor, v: Tensor) -> Tensor:
    """Mean squared error ‖v - v_θ(x_t, t)‖² averaged over all but the batch axis.

    Args:
        v_pred: (B, ...) predicted velocity.
        v: (B, ...) target velocity ``noise - x0``.

    Returns:
        (B,) per-sample losses (weight or reduce them in the caller).
    """
    if v_pred.shape != v.shape:
        raise ValueError(f"prediction {tuple(v_pred.shape)} and target {tuple(v.shape)} differ")
    return (v_pred.float() - v.float()).pow(2).flatten(1).mean(dim=1)
