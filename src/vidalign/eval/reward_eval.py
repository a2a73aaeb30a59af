"""Reward accuracy of one scorer on a set of preference pairs (REFERENCE.md §3).

For each dimension d, a pair gives the human label h ∈ {+1, 0, -1} and the model margin
m = s_A[d] - s_B[d]; accuracy with ties (tie-calibrated ε) and without ties come from
``vidalign.eval.accuracy``.

**Overall.** The model's Overall reward is r = Σ_d w_d · s_d over the normalised rewards
(weights default to 1), recomputed here from the per-dimension scores so every scorer is
read the same way. Its margin is scored against:

* the human ``Overall`` label, when every pair carries one (VideoGen-RewardBench,
  GenAI-Bench);
* otherwise, **pooled dimension labels**: each pair counts once per labelled dimension,
  with that dimension's label against the same Overall margin (n = Σ_d n_d). A good
  Overall reward should agree with every dimension a human preferred.

Margins are kept for the tie-separation plot: on human-tie pairs as s_A - s_B, on strict
pairs oriented by the human label, s_preferred - s_other = h · m.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties
from vidalign.eval.scorer import OVERALL, EvalError, resolve_weights, weighted_overall

ScoreMap = Mapping[tuple[str, str], Mapping[str, float]]
"""(video path, prompt) → {dim: reward, ...}."""


@dataclass
class DimResult:
    """Accuracy of one column (a dimension or Overall).

    Attributes:
        name: the dimension, or ``"Overall"``.
        n_pairs: labelled comparisons (pairs; for pooled Overall, pair × dimension).
        n_ties: comparisons humans called a tie.
        acc_with_ties: tie-calibrated accuracy in [0, 1]; None with no labelled pairs.
        epsilon: the tie threshold on |m| that reaches ``acc_with_ties``.
        acc_without_ties: accuracy on the strict comparisons; None when there are none.
        tie_margins: s_A - s_B on human ties, shape (n_ties,).
        strict_margins: s_preferred - s_other on strict comparisons, shape (n_pairs - n_ties,).
    """

    name: str
    n_pairs: int
    n_ties: int
    acc_with_ties: float | None
    epsilon: float | None
    acc_without_ties: float | None
    tie_margins: np.ndarray = field(repr=False)
    strict_margins: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers: accuracies, counts and margin statistics (no raw arrays)."""

        def stats(x: np.ndarray) -> dict[str, float | int | None]:
            if x.size == 0:
                return {"n": 0, "mean": None, "std": None, "median": None, "mean_abs": None}
            return {
                "n": int(x.size),
                "mean": float(x.mean()),
                "std": float(x.std()),
                "median": float(np.median(x)),
                "mean_abs": float(np.abs(x).mean()),
            }

        return {
            "n_pairs": self.n_pairs,
            "n_ties": self.n_ties,
            "acc_with_ties": self.acc_with_ties,
            "epsilon": self.epsilon,
            "acc_without_ties": self.acc_without_ties,
            "margins": {"tie": stats(self.tie_margins), "strict": stats(self.strict_margins)},
        }


@dataclass
class RewardEvalResult:
    """Accuracy of one scorer on every column.

    Attributes:
        dims: the scored dimensions, in order.
        weights: w_d of the Overall reward.
        overall_labels: ``"Overall"`` (human overall label) or ``"pooled"`` (dimension labels).
        columns: ``"Overall"`` first, then each dimension → its :class:`DimResult`.
        n_pairs: pairs evaluated.
    """

    dims: list[str]
    weights: dict[str, float]
    overall_labels: Literal["Overall", "pooled"]
    columns: dict[str, DimResult]
    n_pairs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dims": self.dims,
            "weights": self.weights,
            "overall_labels": self.overall_labels,
            "n_pairs": self.n_pairs,
            "columns": {k: v.summary() for k, v in self.columns.items()},
        }


def _dim_result(name: str, h: list[int], m: list[float]) -> DimResult:
    ha = np.asarray(h, dtype=np.int64)
    ma = np.asarray(m, dtype=np.float64)
    tie = ha == 0
    acc_t, eps = accuracy_with_ties(ha, ma) if ha.size else (None, None)
    acc_nt = accuracy_without_ties(ha, ma) if (~tie).any() else None
    return DimResult(
        name=name,
        n_pairs=int(ha.size),
        n_ties=int(tie.sum()),
        acc_with_ties=acc_t,
        epsilon=eps,
        acc_without_ties=acc_nt,
        tie_margins=ma[tie],
        strict_margins=(ha * ma)[~tie],
    )


def _lookup(scores: ScoreMap, path: str, prompt: str, dims: Sequence[str], i: int) -> Mapping:
    try:
        s = scores[(path, prompt)]
    except KeyError:
        raise EvalError(f"pair {i}: no score for video {path} with prompt {prompt!r}") from None
    missing = [d for d in dims if d not in s]
    if missing:
        raise EvalError(f"pair {i}: the score of {path} has no {missing}")
    return s


def _label(pair: Any, dim: str, i: int) -> int:
    v = pair.labels[dim]
    if v not in (-1, 0, 1) or isinstance(v, bool):
        raise EvalError(f"pair {i}: label {dim}={v!r} is not +1 (A), -1 (B) or 0 (tie)")
    return int(v)


def evaluate_pairs(
    pairs: Sequence[Any],
    scores: ScoreMap,
    dims: Sequence[str],
    weights: Mapping[str, float] | None = None,
) -> RewardEvalResult:
    """Accuracy with and without ties, per dimension and Overall.

    Args:
        pairs: ``PreferencePair``-like objects (``prompt``, ``path_a``, ``path_b``,
            ``labels: {dim: +1 | 0 | -1}``, optionally ``labels["Overall"]``). A pair
            without a label for a dimension does not count for that dimension.
        scores: (video path, prompt) → reward per dimension, as given by the scorer
            with ``normalize=True``.
        dims: dimensions to evaluate; each must be in every score.
        weights: w_d of Overall (None: all 1); must name exactly ``dims``.

    Returns:
        A :class:`RewardEvalResult` with columns ``"Overall", *dims``.

    Example:
        Two pairs, one dim "VQ", labels [+1, 0], scores A/B = (2, 1) and (0.5, 0.5):
        margins [1, 0] → w/o ties 1.0; with ties ε = 0 already gets both right → 1.0.
    """
    dims = list(dims)
    if not dims:
        raise EvalError("evaluate_pairs needs at least one dimension")
    if OVERALL in dims:
        raise EvalError(f"{OVERALL!r} is the combined reward, not a dimension")
    if not pairs:
        raise EvalError("no pairs to evaluate")
    w = resolve_weights(dims, weights)

    has_overall = [OVERALL in p.labels for p in pairs]
    if any(has_overall) and not all(has_overall):
        missing = [i for i, x in enumerate(has_overall) if not x][:5]
        raise EvalError(
            f"{sum(has_overall)} of {len(pairs)} pairs have an Overall label; "
            f"either all or none must (pairs without one: {missing} ...)"
        )
    overall_mode: Literal["Overall", "pooled"] = "Overall" if all(has_overall) else "pooled"

    h: dict[str, list[int]] = {c: [] for c in (OVERALL, *dims)}
    m: dict[str, list[float]] = {c: [] for c in (OVERALL, *dims)}
    for i, p in enumerate(pairs):
        sa = _lookup(scores, p.path_a, p.prompt, dims, i)
        sb = _lookup(scores, p.path_b, p.prompt, dims, i)
        m_overall = weighted_overall(sa, w) - weighted_overall(sb, w)
        for d in dims:
            if d in p.labels:
                h[d].append(_label(p, d, i))
                m[d].append(float(sa[d]) - float(sb[d]))
                if overall_mode == "pooled":
                    h[OVERALL].append(h[d][-1])
                    m[OVERALL].append(m_overall)
        if overall_mode == "Overall":
            h[OVERALL].append(_label(p, OVERALL, i))
            m[OVERALL].append(m_overall)

    return RewardEvalResult(
        dims=dims,
        weights=w,
        overall_labels=overall_mode,
        columns={c: _dim_result(c, h[c], m[c]) for c in (OVERALL, *dims)},
        n_pairs=len(pairs),
    )
