"""Training-time sampling of t and the sampling-time grid.

* uniform: t ~ U(0, 1);
* logit-normal: t = sigmoid(u), u ~ N(mean, std²), which puts more training weight on the
  middle of the path (the choice of SD3 and of Flow-DPO, REFERENCE.md §4);
* timestep shift: t' = s·t / (1 + (s - 1)·t). With s > 1 more of the time is spent near the
  noise end, which larger (more redundant) inputs need; Wan2.1 samples with s = 3 to 5. It maps
  0 → 0 and 1 → 1 and is increasing, so it applies equally to training draws and sampling grids.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

TimeSampling = Literal["uniform", "logit_normal"]


def sample_uniform(
    batch: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> Tensor:
    """t ~ U(0, 1), shape (batch,)."""
    return torch.rand(batch, generator=generator, device=device)


def sample_logit_normal(
    batch: int,
    *,
    mean: float = 0.0,
    std: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """t = sigmoid(u), u ~ N(mean, std²), shape (batch,)."""
    u = torch.randn(batch, generator=generator, device=device) * std + mean
    return torch.sigmoid(u)


def shift_time(t: Tensor, shift: float) -> Tensor:
    """t' = shift·t / (1 + (shift - 1)·t), elementwise; shift = 1 is the identity."""
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    if shift == 1.0:
        return t
    return shift * t / (1 + (shift - 1) * t)


def sample_time(
    batch: int,
    kind: TimeSampling = "logit_normal",
    *,
    mean: float = 0.0,
    std: float = 1.0,
    shift: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Training times of shape (batch,): ``kind`` draws, then the timestep shift."""
    if kind == "uniform":
        t = sample_uniform(batch, generator=generator, device=device)
    elif kind == "logit_normal":
        t = sample_logit_normal(batch, mean=mean, std=std, generator=generator, device=device)
    else:
        raise ValueError(f"unknown time sampling {kind!r}; expected 'uniform' or 'logit_normal'")
    return shift_time(t, shift)


def time_grid(steps: int, *, shift: float = 1.0, device: torch.device | str = "cpu") -> Tensor:
    """Decreasing times ``1 = t_0 > t_1 > ... > t_steps = 0``, shape (steps + 1,)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    grid = torch.linspace(1.0, 0.0, steps + 1, device=device, dtype=torch.float64)
    return shift_time(grid, shift).to(torch.float32)
