"""Classifier-free guidance as a wrapper of a velocity callable.

``v = v_uncond + s·(v_cond - v_uncond)`` (Ho & Salimans 2022, applied to velocities as in Wan).
Scale 1 is the conditional model itself, and the wrapper then skips the unconditional pass.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vidalign.flow.solver import VelocityFn


def classifier_free_guidance(model: VelocityFn, scale: float, uncond: Tensor) -> VelocityFn:
    """Return ``(x_t, t, cond) -> v_uncond + scale·(v_cond - v_uncond)``.

    Conditional and unconditional predictions run as one batched forward of size 2B.

    Args:
        model: velocity callable whose ``cond`` is a tensor (B, ...) (e.g. text embeddings).
        scale: guidance scale; 1 returns ``model`` unchanged.
        uncond: the unconditional ``cond``, (1, ...) or (B, ...), e.g. the empty-prompt embedding.
    """
    if scale == 1.0:
        return model

    def guided(x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        batch = x_t.shape[0]
        neg = uncond.to(cond.device, cond.dtype).expand(batch, *cond.shape[1:])
        v = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([cond, neg]))
        v_cond, v_uncond = v.chunk(2)
        return v_uncond + scale * (v_cond - v_uncond)

    return guided
