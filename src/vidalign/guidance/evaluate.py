"""Accuracy of a latent reward model on noised held-out pairs, binned by t.

Each pair is noised ``draws`` times, each time with a fresh t ~ U(0, 1) and noise shared by A
and B (as in training); the margins ``r_A − r_B`` are then grouped into equal-width t bins and
scored against the labels with and without ties (REFERENCE.md §3). A first row at exactly
t = 0 shows the clean-latent accuracy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties
from vidalign.flow import interpolate
from vidalign.guidance.data import LatentPairs
from vidalign.guidance.model import LatentRewardModel


@dataclass
class BinAccuracy:
    """Accuracy of one t bin.

    Attributes:
        t_lo, t_hi: the bin's range (both 0 for the clean row).
        count: (pair, draw) samples in the bin.
        without_ties: dimension → accuracy over strict pairs (None when the bin has none).
        with_ties: dimension → tie-calibrated accuracy.
    """

    t_lo: float
    t_hi: float
    count: int
    without_ties: dict[str, float | None]
    with_ties: dict[str, float]


@torch.no_grad()
def pair_margins(
    model: LatentRewardModel, data: LatentPairs, t: Tensor, noise_seed: int, batch_size: int = 32
) -> Tensor:
    """Margins r_A − r_B (P, n) of every pair at its time ``t`` (P,), A and B sharing noise."""
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(noise_seed)
    out = []
    for s in range(0, len(data), batch_size):
        sl = slice(s, s + batch_size)
        x0a, x0b = data.x0[data.a[sl]], data.x0[data.b[sl]]
        noise = torch.randn(x0a.shape, generator=g)
        tt = t[sl]
        xa, xb = interpolate(x0a, noise, tt), interpolate(x0b, noise, tt)
        cond = data.cond[data.prompt[sl]]
        r = model(
            torch.cat([xa, xb]).to(device),
            torch.cat([tt, tt]).to(device),
            torch.cat([cond, cond]).to(device),
        )
        ra, rb = r.float().cpu().chunk(2)
        out.append(ra - rb)
    return torch.cat(out)


def _score(labels: Tensor, valid: Tensor, margins: Tensor, dims: list[str], lo: float, hi: float):
    without: dict[str, float | None] = {}
    with_: dict[str, float] = {}
    for j, d in enumerate(dims):
        h = labels[valid[:, j], j].numpy()
        m = margins[valid[:, j], j].numpy()
        if h.size == 0:
            continue
        without[d] = accuracy_without_ties(h, m) if (h != 0).any() else None
        with_[d] = accuracy_with_ties(h, m)[0]
    return BinAccuracy(lo, hi, int(labels.shape[0]), without, with_)


def binned_accuracy(
    model: LatentRewardModel,
    data: LatentPairs,
    *,
    bins: int = 5,
    draws: int = 8,
    seed: int = 0,
    batch_size: int = 32,
) -> list[BinAccuracy]:
    """The clean row (t = 0), then ``bins`` equal-width t bins over [0, 1] (module docstring)."""
    was_training = model.training
    model.eval()
    n = len(data)
    rows = [
        _score(
            data.labels,
            data.valid,
            pair_margins(model, data, torch.zeros(n), seed),
            data.dims,
            0.0,
            0.0,
        )
    ]
    g = torch.Generator().manual_seed(seed + 1)
    ts, ms = [], []
    for k in range(draws):
        t = torch.rand(n, generator=g)
        ts.append(t)
        ms.append(pair_margins(model, data, t, seed + 2 + k, batch_size))
    t_all, m_all = torch.cat(ts), torch.cat(ms)
    labels, valid = data.labels.repeat(draws, 1), data.valid.repeat(draws, 1)
    edges = torch.linspace(0, 1, bins + 1)
    for i in range(bins):
        lo, hi = float(edges[i]), float(edges[i + 1])
        inside = (t_all >= lo) & ((t_all < hi) if i < bins - 1 else (t_all <= hi))
        if inside.any():
            rows.append(_score(labels[inside], valid[inside], m_all[inside], data.dims, lo, hi))
    model.train(was_training)
    return rows


def format_accuracy(rows: list[BinAccuracy]) -> str:
    """A text table: one line per bin, ``acc w/o ties / with ties`` per dimension."""
    dims = list(rows[0].with_ties)
    head = ["t", "n", *[f"{d} (w/o / with ties)" for d in dims]]
    lines = [head]
    for r in rows:
        span = "0 (clean)" if r.t_hi == 0 else f"[{r.t_lo:.1f}, {r.t_hi:.1f}]"
        cells = []
        for d in dims:
            w = r.without_ties.get(d)
            cells.append(
                f"{'-' if w is None else f'{w:.3f}'} / {r.with_ties.get(d, float('nan')):.3f}"
            )
        lines.append([span, str(r.count), *cells])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines)


def accuracy_to_json(rows: list[BinAccuracy]) -> list[dict]:
    return [asdict(r) for r in rows]


def read_accuracy(path: str | Path) -> list[BinAccuracy]:
    """The rows ``accuracy_to_json`` wrote to ``path`` (a run's ``eval.json``)."""
    return [BinAccuracy(**row) for row in json.loads(Path(path).read_text())]


def accuracy_metrics(rows: list[BinAccuracy]) -> dict[str, float]:
    """The rows as flat metrics: ``val/acc/<dim>/<bin>`` (without ties, where the bin has
    strict pairs) and ``val/acc_ties/<dim>/<bin>``; ``<bin>`` is ``clean`` or ``t0.2-0.4``."""
    out: dict[str, float] = {}
    for r in rows:
        where = "clean" if r.t_hi == 0 else f"t{r.t_lo:.1f}-{r.t_hi:.1f}"
        for d, acc in r.without_ties.items():
            if acc is not None:
                out[f"val/acc/{d}/{where}"] = acc
        for d, acc in r.with_ties.items():
            out[f"val/acc_ties/{d}/{where}"] = acc
    return out
