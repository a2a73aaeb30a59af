"""The straight interpolation path between data and noise, and its inverses.

``x_t = (1 - t)·x0 + t·noise`` and ``v = d x_t / dt = noise - x0`` (REFERENCE.md §4). Given a
point ``x_t`` and a velocity ``v`` at time ``t`` both end points follow:
``x0 = x_t - t·v`` and ``noise = x_t + (1 - t)·v``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def _expand(t: Tensor, like: Tensor) -> Tensor:
    """Reshape per-sample times ``t`` (B,) to broadcast against ``like`` (B, ...)."""
    if t.ndim != 1 or t.shape[0] != like.shape[0]:
        raise ValueError(f"t must have shape ({like.shape[0]},), got {tuple(t.shape)}")
    return t.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def interpolate(x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """x_t = (1 - t)·x0 + t·noise.

    Args:
        x0: data, (B, C, F, H, W) or any (B, ...).
        noise: same shape as ``x0``.
        t: (B,) times in [0, 1].

    Returns:
        x_t with the shape of ``x0``.
    """
    tt = _expand(t, x0)
    return (1 - tt) * x0 + tt * noise


def target_velocity(x0: Tensor, noise: Tensor) -> Tensor:
    """v = noise - x0, the constant velocity of the straight path (B, ...)."""
    return noise - x0


def x0_from_velocity(x_t: Tensor, v: Tensor, t: Tensor) -> Tensor:
    """x0 = x_t - t·v. x_t, v: (B, ...); t: (B,)."""
    return x_t - _expand(t, x_t) * v


def noise_from_velocity(x_t: Tensor, v: Tensor, t: Tensor) -> Tensor:
    """noise = x_t + (1 - t)·v. x_t, v: (B, ...); t: (B,)."""
    return x_t + (1 - _expand(t, x_t)) * v


@dataclass
class PathSample:
    """One draw on the path: ``x_t`` at time ``t`` and its target velocity ``v``.

    Attributes:
        x0: (B, ...) data.
        noise: (B, ...) Gaussian noise.
        t: (B,) times.
        x_t: (B, ...) interpolated point.
        v: (B, ...) target velocity ``noise - x0``.
    """

    x0: Tensor
    noise: Tensor
    t: Tensor
    x_t: Tensor
    v: Tensor


def sample_path(
    x0: Tensor, t: Tensor, *, noise: Tensor | None = None, generator: torch.Generator | None = None
) -> PathSample:
    """Draw noise (unless given) and return the path point and target for ``x0`` at ``t``.

    Args:
        x0: (B, ...) data.
        t: (B,) times.
        noise: optional (B, ...) noise; winner and loser of a DPO pair pass the same one.
        generator: RNG for the noise.
    """
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    elif noise.shape != x0.shape:
        raise ValueError(f"noise {tuple(noise.shape)} and x0 {tuple(x0.shape)} differ in shape")
    return PathSample(
        x0=x0,
        noise=noise,
        t=t,
        x_t=interpolate(x0, noise, t),
        v=target_velocity(x0, noise),
    )
