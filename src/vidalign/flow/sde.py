"""A stochastic sampler with the Euler ODE's marginals, and each step's Gaussian log-probability.

Online RL (Flow-GRPO) needs a policy with a density: the ODE ``dx = v dt`` is deterministic,
so it is replaced by the reverse-time SDE with the same marginals p_t. With the score of the
straight path, ``∇log p_t(x) = −E[noise | x_t = x] / t = −(x + (1 − t)·v) / t``, the family

    dx = [v + σ_t² / (2t) · (x + (1 − t)·v)] dt + σ_t dw,     t running from 1 to 0,

keeps p_t for every σ_t (dt < 0 here; σ_t = 0 is the ODE). One Euler–Maruyama step from t to
t_next (dt = t_next − t < 0) is Gaussian:

    mean = x + dt·[v + σ_t² / (2t) · (x + (1 − t)·v)],    std = σ_t·√|dt|,

with σ_t = a·√(t / (1 − t)) (noise level a, about 0.7). At t = 1 that is infinite; the step
from t = 1 uses σ at ``t_cap`` (the grid's second time by default, as Flow-GRPO does).
Conventions as in ``path.py``: x_t = (1 − t)·x0 + t·noise, v = noise − x0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from vidalign.flow.solver import VelocityFn

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def sde_sigma(t: Tensor, noise_level: float, *, t_cap: float | None = None) -> Tensor:
    """σ_t = a·√(t / (1 − t)) (float32), with t clamped to ``t_cap`` (< 1) when given."""
    t = t.float()
    if t_cap is not None:
        t = t.clamp(max=float(t_cap))
    return noise_level * torch.sqrt(t / (1 - t))


def _bcast(x: Tensor, like: Tensor) -> Tensor:
    """A scalar or (B,) tensor reshaped to broadcast against ``like`` (B, ...)."""
    x = torch.as_tensor(x, device=like.device, dtype=torch.float32)
    return x.reshape(-1, *([1] * (like.ndim - 1))) if x.ndim else x


def sde_step_mean(x: Tensor, v: Tensor, t: Tensor, t_next: Tensor, sigma: Tensor) -> Tensor:
    """The mean of one SDE step, in float32. x, v: (B, ...); t, t_next, sigma: scalars or (B,)."""
    xf, vf = x.float(), v.float()
    tt, dt, s = _bcast(t, x), _bcast(t_next, x) - _bcast(t, x), _bcast(sigma, x)
    return xf + dt * (vf + s.pow(2) / (2 * tt) * (xf + (1 - tt) * vf))


def sde_step_std(t: Tensor, t_next: Tensor, sigma: Tensor) -> Tensor:
    """σ_t·√|dt| (float32), the std of one SDE step."""
    return sigma.float() * torch.sqrt((t.float() - t_next.float()).abs())


def gaussian_log_prob(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """log N(x; mean, std²) per element in float32, averaged over all but the batch axis: (B,).

    ``std``: scalar or (B,) (broadcast over each sample's elements).
    """
    xf, mf = x.float(), mean.float()
    s = _bcast(std, xf)
    lp = -((xf - mf) ** 2) / (2 * s**2) - torch.log(s) - LOG_SQRT_2PI
    return lp.flatten(1).mean(dim=1)


@dataclass
class SDEStep:
    """One stochastic step of a rollout: ``x`` at time ``t`` went to ``x_next`` at ``t_next``.

    Attributes:
        index: the step's position in the grid.
        t, t_next: float32 scalars. sigma: σ_t of the step.
        x, x_next: (B, ...) float32. log_prob: (B,) float32, log N(x_next; mean, std²).
    """

    index: int
    t: Tensor
    t_next: Tensor
    sigma: Tensor
    x: Tensor
    x_next: Tensor
    log_prob: Tensor


def sde_window(steps: int, window: tuple[int, int] | None) -> range:
    """The steps that run as SDE: all of them (None) or ``[start, start + size)``."""
    if window is None:
        return range(steps)
    start, size = window
    if not (start >= 0 and size >= 1 and start + size <= steps):
        raise ValueError(f"SDE window (start {start}, size {size}) is not inside {steps} steps")
    return range(start, start + size)


NoiseFn = Callable[[int], Tensor]
"""``noise_fn(i) -> (B, ...)`` standard normal noise of step i (the caller owns the seeds)."""


def sde_sample(
    model: VelocityFn,
    x: Tensor,
    cond: Any,
    grid: Tensor,
    noise_level: float,
    noise_fn: NoiseFn,
    *,
    window: tuple[int, int] | None = None,
    t_cap: float | None = None,
) -> tuple[Tensor, list[SDEStep]]:
    """Sample from ``x`` at ``grid[0]`` along the decreasing ``grid``; SDE steps on ``window``.

    Outside the window (``fast`` sampling) the step is the Euler ODE step of ``euler_sample``.
    With ``noise_level`` 0 every step is the Euler step, bit for bit.

    Args:
        model: velocity callable ``model(x_t, t (B,), cond)``.
        x: (B, ...) the starting noise.
        grid: (steps + 1,) strictly decreasing times.
        noise_fn: gives step i's standard normal noise (B, ...), called only on SDE steps.
        window: (start, size) of the SDE steps, or None for all.
        t_cap: the t at which σ of a step from t = 1 is taken (default: ``grid[1]``).

    Returns:
        The final sample (dtype of ``x``) and one ``SDEStep`` per SDE step.
    """
    if grid.ndim != 1 or grid.numel() < 2:
        raise ValueError(f"grid must be 1-D with at least 2 times, got shape {tuple(grid.shape)}")
    if not bool((grid[1:] < grid[:-1]).all()):
        raise ValueError("grid must be strictly decreasing (sampling runs from t=1 to t=0)")
    if noise_level < 0:
        raise ValueError(f"noise_level must be at least 0, got {noise_level}")
    grid = grid.to(x.device)
    steps = grid.numel() - 1
    sde = set(sde_window(steps, window))
    cap = float(grid[1]) if t_cap is None else t_cap
    batch = x.shape[0]
    out: list[SDEStep] = []
    for i in range(steps):
        t, t_next = grid[i].float(), grid[i + 1].float()
        v = model(x, t.expand(batch), cond)
        if i not in sde or noise_level == 0:
            x = x + (grid[i + 1] - grid[i]).to(x.dtype) * v.to(x.dtype)
            continue
        sigma = sde_sigma(t, noise_level, t_cap=cap)
        mean = sde_step_mean(x, v, t, t_next, sigma)
        std = sde_step_std(t, t_next, sigma)
        x_next = mean + std * noise_fn(i).to(mean.device, torch.float32)
        out.append(
            SDEStep(i, t, t_next, sigma, x.float(), x_next, gaussian_log_prob(x_next, mean, std))
        )
        x = x_next.to(x.dtype)
    return x, out
