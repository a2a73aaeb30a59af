"""Flow-NRG: reward guidance as a wrapper of a velocity callable (REFERENCE.md §4).

    ṽ(x_t, t, y) = v(x_t, t, y) − w·min(t/(1−t), c)·∇_{x_t} Σ_d λ_d·r_d(x_t, t, y)

``v`` is whatever the sampler would call otherwise, normally the CFG wrapper of the generator,
so CFG comes first and the reward shift second. Sampling runs from t = 1 to 0 and the Euler
step is ``x ← x + (t_next − t)·ṽ`` with ``t_next < t``, so subtracting the gradient moves
``x_t`` up the reward.

Two controls keep the shift well behaved:

* **Cap c on t/(1−t).** The factor converts a gradient on ``x_t`` into a velocity and grows
  without bound near the noise end; at the grid's first point (t = 1) it is infinite. It is
  replaced by ``min(t/(1−t), c)``: the default c = 5 leaves every t ≤ 5/6 untouched.
* **Window [t_min, t_max].** Outside it the velocity is returned unchanged (no reward call).
  The default [0, 1] guides every step.

Guidance never changes any weights: the gradient is taken with ``torch.autograd.grad`` with
respect to a detached copy of ``x_t`` only, and the generator's velocity is computed as before
(under the sampler's ``no_grad``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from vidalign.flow import VelocityFn
from vidalign.guidance.errors import LatentRewardError

DEFAULT_MAX_RATIO = 5.0


class LatentReward(Protocol):
    """``r(x_t, t, cond) -> (B, n)`` with column j for ``dims[j]``."""

    dims: list[str]

    def __call__(self, x_t: Tensor, t: Tensor, cond: Any) -> Tensor: ...


@dataclass
class GuidanceSettings:
    """How strongly and where to guide.

    Attributes:
        scale: w; 0 turns guidance off (the wrapper returns the model itself).
        weights: λ per dimension; dimensions left out get 0. Empty: 1 for every dimension.
        t_min, t_max: the guidance window; steps with t outside it are not guided.
        max_ratio: c, the cap on t/(1−t).
    """

    scale: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)
    t_min: float = 0.0
    t_max: float = 1.0
    max_ratio: float = DEFAULT_MAX_RATIO

    def __post_init__(self) -> None:
        if not 0.0 <= self.t_min <= self.t_max <= 1.0:
            raise LatentRewardError(
                f"guidance window must satisfy 0 <= t_min <= t_max <= 1, got [{self.t_min}, {self.t_max}]"
            )
        if not self.max_ratio > 0:
            raise LatentRewardError(f"max_ratio must be positive, got {self.max_ratio}")


def guidance_ratio(t: Tensor, max_ratio: float = DEFAULT_MAX_RATIO) -> Tensor:
    """min(t/(1−t), c) elementwise, finite at t = 1 (= c there). t: any shape."""
    t = t.double()
    ratio = torch.where(t < 1, t / (1 - t).clamp_min(1e-12), torch.full_like(t, float("inf")))
    return ratio.clamp(max=max_ratio)


def weight_vector(dims: Sequence[str], weights: Mapping[str, float]) -> Tensor:
    """λ as a (n,) tensor in the order of ``dims``; unknown names are an error."""
    unknown = sorted(set(weights) - set(dims))
    if unknown:
        raise LatentRewardError(
            f"guidance weights for {unknown}, but the reward model has {list(dims)}"
        )
    if not weights:
        return torch.ones(len(dims))
    return torch.tensor([float(weights.get(d, 0.0)) for d in dims])


def reward_guidance(
    model: VelocityFn, reward: LatentReward, settings: GuidanceSettings
) -> VelocityFn:
    """Wrap ``model`` with the Flow-NRG shift (module docstring).

    Args:
        model: velocity callable ``(x_t (B, C, F, H, W), t (B,), cond) -> v``, CFG included.
        reward: latent reward model; it receives ``x_t`` in float32, ``t`` and ``cond``.
        settings: scale, per-dimension weights, window and cap.

    Returns:
        ``(x_t, t, cond) -> ṽ``, or ``model`` itself when ``settings.scale == 0``.
    """
    if settings.scale == 0:
        return model
    lam = weight_vector(reward.dims, settings.weights)

    def guided(x_t: Tensor, t: Tensor, cond: Any) -> Tensor:
        v = model(x_t, t, cond)
        inside = (t >= settings.t_min) & (t <= settings.t_max)
        if not bool(inside.any()):
            return v
        with torch.enable_grad():
            x = x_t.detach().float().requires_grad_(True)
            r = reward(x, t, cond)
            total = (r.float() * lam.to(r.device)).sum()
            (grad,) = torch.autograd.grad(total, x)
        factor = settings.scale * guidance_ratio(t, settings.max_ratio) * inside.double()
        shift = factor.float().view(-1, *([1] * (x.ndim - 1))) * grad
        return (v.float() - shift).to(v.dtype)

    return guided
