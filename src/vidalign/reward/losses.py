"""Pairwise and pointwise reward losses, per dimension (REFERENCE.md §2).

All functions take rewards of the two videos of each pair, ``r_a, r_b: (B, n)`` (one
column per dimension). They never call a model.

Convention (every loss module): a loss returns ``(per_sample, stats)``, the (B,) loss of
each pair and a dataclass of diagnostics, here ``RewardLossStats``; the caller reduces.

Reduction. Each (pair, dimension) slot that a loss does not use (a tie under BT, an
invalid label, a missing score) contributes 0, and the batch loss (``batch_loss``) is the
sum over slots divided by the fixed count ``B * n``. A fixed denominator makes the loss of
a global batch equal to the mean of its per-process shares, so data-parallel and gradient
accumulation runs match a single-process run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class RewardLossStats:
    """Diagnostics of a reward loss; ``per_sample``, its (B,) partner, is
    ``per_slot.sum(dim=1) / n``.

    Attributes:
        per_slot: (B, n) loss of each pair and dimension (0 where unused). The one stats
            field that keeps its graph: ``batch_loss`` reduces it to the training loss.
        used: (B, n) bool, slots that contributed.
        metrics: floats: ``loss/<dim>`` (mean over used slots) and ``acc/<dim>`` (share of
            strict pairs whose margin has the label's sign), for dimensions with any slot.
    """

    per_slot: Tensor
    used: Tensor
    metrics: dict[str, float] = field(default_factory=dict)


def batch_loss(stats: RewardLossStats) -> Tensor:
    """The scalar batch loss ``per_slot.sum() / (B * n)`` (the fixed denominator).

    It equals ``per_sample.mean()`` up to rounding; summing the slots directly gives one
    rounding, so every caller (training, evaluation, the latent reward model) gets the
    same number and gradient.
    """
    return stats.per_slot.sum() / max(stats.per_slot.numel(), 1)


def _finish(
    per_slot: Tensor, used: Tensor, margin: Tensor, labels: Tensor | None, dims: Sequence[str]
) -> tuple[Tensor, RewardLossStats]:
    n = per_slot.shape[1]
    per_slot = torch.where(used, per_slot, torch.zeros_like(per_slot))
    metrics: dict[str, float] = {}
    with torch.no_grad():
        for j, dim in enumerate(dims):
            u = used[:, j]
            if u.any():
                metrics[f"loss/{dim}"] = float(per_slot[u, j].mean())
            if labels is not None:
                strict = labels[:, j] != 0
                if strict.any():
                    agree = torch.sign(margin[strict, j]) == labels[strict, j].to(margin.dtype)
                    metrics[f"acc/{dim}"] = float(agree.float().mean())
    per_sample = per_slot.sum(dim=1) / max(n, 1)
    return per_sample, RewardLossStats(per_slot=per_slot, used=used, metrics=metrics)


def _check(r_a: Tensor, r_b: Tensor, labels: Tensor, valid: Tensor | None) -> Tensor:
    if r_a.shape != r_b.shape or r_a.ndim != 2 or labels.shape != r_a.shape:
        raise ValueError(
            f"expected r_a, r_b, labels of one shape (B, n), got "
            f"{tuple(r_a.shape)}, {tuple(r_b.shape)}, {tuple(labels.shape)}"
        )
    ok = torch.isin(labels, torch.tensor([-1, 0, 1], device=labels.device))
    if valid is None:
        valid = ok
    elif not (ok | ~valid).all():
        raise ValueError("labels of valid slots must be in {+1, 0, -1}")
    return valid.bool() & ok


def bt_loss(
    r_a: Tensor,
    r_b: Tensor,
    labels: Tensor,
    valid: Tensor | None = None,
    *,
    dims: Sequence[str] = (),
) -> tuple[Tensor, RewardLossStats]:
    """Bradley–Terry: −log σ(Δ) on strict pairs, Δ = r_chosen − r_rejected; ties unused.

    Args:
        r_a, r_b: (B, n) rewards of videos A and B.
        labels: (B, n) in {+1 (A), −1 (B), 0 (tie)}.
        valid: (B, n) bool, False for missing labels (default: all valid).
        dims: names of the n dimensions, for the metrics.

    Example: r_a − r_b = 0, label +1 → log 2 = 0.6931.
    """
    valid = _check(r_a, r_b, labels, valid)
    m = r_a - r_b
    delta = labels.to(m.dtype) * m  # r_chosen − r_rejected
    per_slot = F.softplus(-delta)  # −log σ(Δ)
    used = valid & (labels != 0)
    return _finish(per_slot, used, m, labels, dims or [str(j) for j in range(m.shape[1])])


def btt_loss(
    r_a: Tensor,
    r_b: Tensor,
    labels: Tensor,
    valid: Tensor | None = None,
    *,
    theta: float = 5.0,
    dims: Sequence[str] = (),
) -> tuple[Tensor, RewardLossStats]:
    """Bradley–Terry with ties (Rao–Kupper), θ > 1.

    strict: −log σ(Δ − log θ);
    tie:    −log σ(m − log θ) − log σ(−m − log θ) − log(θ² − 1), m = r_a − r_b.

    The tie term is minimised at m = 0, so ties pull the margin toward 0.
    Example (θ = 5): tie with m = 0 → 2·log(1 + 5) − log 24 = 0.4055;
    strict with Δ = 0 → log(1 + 5) = 1.7918.
    """
    if theta <= 1:
        raise ValueError(f"theta must be > 1 for the Rao–Kupper model, got {theta}")
    valid = _check(r_a, r_b, labels, valid)
    m = r_a - r_b
    log_theta = math.log(theta)
    delta = labels.to(m.dtype) * m
    strict = F.softplus(-(delta - log_theta))
    tie = F.softplus(-(m - log_theta)) + F.softplus(-(-m - log_theta)) - math.log(theta**2 - 1)
    per_slot = torch.where(labels == 0, tie, strict)
    return _finish(per_slot, valid, m, labels, dims or [str(j) for j in range(m.shape[1])])


def regression_loss(
    r_a: Tensor,
    r_b: Tensor,
    score_a: Tensor,
    score_b: Tensor,
    *,
    labels: Tensor | None = None,
    dims: Sequence[str] = (),
) -> tuple[Tensor, RewardLossStats]:
    """Pointwise MSE to per-video scores: (r_a − s_a)² + (r_b − s_b)², NaN scores unused.

    A slot is used when both scores are finite. ``labels`` (optional) only feed the
    accuracy metric. Example: r_a = 1, s_a = 3, r_b = 0, s_b = 0 → 4.
    """
    if not (r_a.shape == r_b.shape == score_a.shape == score_b.shape) or r_a.ndim != 2:
        raise ValueError("r_a, r_b, score_a, score_b must share one shape (B, n)")
    used = torch.isfinite(score_a) & torch.isfinite(score_b)
    sa = torch.nan_to_num(score_a, nan=0.0).to(r_a.dtype)
    sb = torch.nan_to_num(score_b, nan=0.0).to(r_b.dtype)
    per_slot = (r_a - sa) ** 2 + (r_b - sb) ** 2
    return _finish(per_slot, used, r_a - r_b, labels, dims or [str(j) for j in range(r_a.shape[1])])
