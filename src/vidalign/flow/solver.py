"""Euler integration of dx/dt = v(x, t) from t = 1 (noise) to t = 0 (data).

The sampler only knows a velocity callable ``model(x_t, t, cond) -> v``. Classifier-free
guidance and reward guidance (Flow-NRG) are wrappers that return another such callable, so
they compose without touching the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor


class VelocityFn(Protocol):
    """``v = model(x_t, t, cond)``: x_t (B, C, F, H, W), t (B,), cond anything the model reads."""

    def __call__(self, x_t: Tensor, t: Tensor, cond: Any) -> Tensor: ...


StepCallback = Callable[[int, Tensor, Tensor, Tensor], None]


def euler_sample(
    model: VelocityFn,
    noise: Tensor,
    cond: Any,
    grid: Tensor,
    *,
    callback: StepCallback | None = None,
) -> Tensor:
    """Integrate from ``x_{t_0} = noise`` along the decreasing ``grid`` with Euler steps.

    ``x_{t_{i+1}} = x_{t_i} + (t_{i+1} - t_i)·v(x_{t_i}, t_i)``. Since ``t`` decreases the step
    moves against ``v = noise - x0``, i.e. towards the data.

    Args:
        model: velocity callable; it gets ``t`` as a (B,) tensor.
        noise: (B, ...) starting point at ``grid[0]`` (normally 1).
        cond: passed through to ``model``.
        grid: (steps + 1,) decreasing times, e.g. ``time_grid(steps, shift=...)``.
        callback: called as ``callback(i, t, x_t, v)`` after each velocity evaluation.

    Returns:
        (B, ...) the sample at ``grid[-1]`` (normally t = 0), dtype of ``noise``.
    """
    if grid.ndim != 1 or grid.numel() < 2:
        raise ValueError(f"grid must be 1-D with at least 2 times, got shape {tuple(grid.shape)}")
    if not bool((grid[1:] < grid[:-1]).all()):
        raise ValueError("grid must be strictly decreasing (sampling runs from t=1 to t=0)")
    x = noise
    batch = noise.shape[0]
    grid = grid.to(noise.device)
    for i in range(grid.numel() - 1):
        t = grid[i].expand(batch).to(torch.float32)
        v = model(x, t, cond)
        if callback is not None:
            callback(i, t, x, v)
        x = x + (grid[i + 1] - grid[i]).to(x.dtype) * v.to(x.dtype)
    return x
