"""Win rates of a candidate generator against a base one, with cluster-bootstrap intervals.

Sample i of the base and sample i of the candidate come from the same prompt and seed. For
each dimension d the outcome of sample i is

    o_i = 1    if c_i - b_i >  eps     (candidate wins)
          1/2  if |c_i - b_i| <= eps   (tie, counted half)
          0    if c_i - b_i < -eps     (base wins)

and the win rate is mean_i o_i (REFERENCE.md §4, Table 4). ``eps`` = 0 makes a tie an exact
equality of scores; a reward model almost never ties exactly, so ``tie_eps`` lets a
difference within eps count as a tie (same units as the scores).

Overall is recomputed here from the per-dimension scores, Σ_d w_d · s_d, so one set of
weights applies to both sides whatever the judge reported as its own Overall.

Intervals: percentile 95% bootstrap over prompts (a cluster bootstrap): each replicate
draws P prompts with replacement out of the P prompts and pools every sample of the drawn
prompts, so seeds of one prompt, which are not independent, move together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vidalign.eval.scorer import OVERALL, EvalError, resolve_weights


@dataclass(frozen=True)
class DimWinRate:
    """Win rate of one dimension.

    Attributes:
        win_rate: (wins + ties / 2) / n.
        low, high: bounds of the bootstrap interval (equal to ``win_rate`` without bootstrap).
        wins, ties, losses: candidate wins, ties and base wins.
    """

    win_rate: float
    low: float
    high: float
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses


@dataclass(frozen=True)
class WinRateResult:
    """Per-dimension (and Overall) win rates of the candidate against the base.

    Attributes:
        rates: name → :class:`DimWinRate`, the dimensions in order, then ``"Overall"``.
        n_samples: matched sample pairs.
        n_prompts: distinct prompts (bootstrap clusters).
        weights: w_d used for Overall.
        tie_eps: |difference| at or under which a comparison is a tie.
        n_bootstrap: bootstrap replicates (0: no interval).
        confidence: interval coverage, e.g. 0.95.
        seed: bootstrap seed.
    """

    rates: dict[str, DimWinRate]
    n_samples: int
    n_prompts: int
    weights: dict[str, float]
    tie_eps: float
    n_bootstrap: int
    confidence: float
    seed: int

    def to_dict(self) -> dict:
        """JSON-ready: settings plus ``{name: {win_rate, low, high, wins, ties, losses}}``."""
        return {
            "n_samples": self.n_samples,
            "n_prompts": self.n_prompts,
            "weights": self.weights,
            "tie_eps": self.tie_eps,
            "n_bootstrap": self.n_bootstrap,
            "confidence": self.confidence,
            "seed": self.seed,
            "rates": {
                k: {
                    "win_rate": r.win_rate,
                    "low": r.low,
                    "high": r.high,
                    "wins": r.wins,
                    "ties": r.ties,
                    "losses": r.losses,
                }
                for k, r in self.rates.items()
            },
        }

    def table(self) -> str:
        """A markdown table: one row per dimension, win rate with its interval, W/T/L."""
        pct = round(100 * self.confidence)
        lines = [
            f"| Dimension | Win rate (%) | {pct}% interval | W / T / L |",
            "|---|---|---|---|",
        ]
        for name, r in self.rates.items():
            interval = f"{100 * r.low:.1f}–{100 * r.high:.1f}" if self.n_bootstrap else "–"
            lines.append(
                f"| {name} | {100 * r.win_rate:.1f} | {interval} | {r.wins} / {r.ties} / {r.losses} |"
            )
        return "\n".join(lines)


def outcomes(base: np.ndarray, cand: np.ndarray, tie_eps: float = 0.0) -> np.ndarray:
    """Per-sample outcome 1 / 0.5 / 0 of candidate against base (module docstring).

    Args:
        base, cand: (N,) scores of matched samples.
        tie_eps: ties are |cand - base| <= tie_eps.

    Returns:
        (N,) float array.
    """
    diff = np.asarray(cand, dtype=float) - np.asarray(base, dtype=float)
    return np.where(np.abs(diff) <= tie_eps, 0.5, np.where(diff > 0, 1.0, 0.0))


def cluster_bootstrap(
    values: np.ndarray,
    clusters: np.ndarray,
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the pooled mean of ``values`` (N, K), resampling clusters.

    Args:
        values: (N, K) per-sample values of K statistics (e.g. one column per dimension).
        clusters: (N,) integer cluster id in [0, P) of each sample (its prompt).
        n_bootstrap: replicates B.
        seed: seeds the cluster draws; the same seed gives the same interval.
        confidence: coverage of the two-sided interval.

    Returns:
        (low, high), each (K,).
    """
    n_clusters = int(clusters.max()) + 1
    sums = np.zeros((n_clusters, values.shape[1]))
    np.add.at(sums, clusters, values)
    counts = np.bincount(clusters, minlength=n_clusters).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n_bootstrap, n_clusters))  # (B, P)
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)[:, None]  # (B, K)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _column(scores: Sequence[Mapping[str, float]], key: str, side: str) -> np.ndarray:
    try:
        col = np.array([float(s[key]) for s in scores])
    except KeyError:
        raise EvalError(f"{side} scores have no {key!r} for some sample") from None
    if not np.isfinite(col).all():
        raise EvalError(
            f"{side} scores: non-finite {key!r} at sample {int(np.argmin(np.isfinite(col)))}"
        )
    return col


def win_rates(
    base_scores: Sequence[Mapping[str, float]],
    cand_scores: Sequence[Mapping[str, float]],
    dims: Sequence[str],
    *,
    prompts: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    tie_eps: float = 0.0,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> WinRateResult:
    """Win rates of the candidate over the base, per dimension and Overall.

    Args:
        base_scores: N dicts {dim: score}, sample i of the base.
        cand_scores: N dicts, sample i of the candidate (same prompt and seed as base i).
        dims: dimensions to compare; Overall = Σ_d w_d · s_d over them.
        prompts: N prompts, the bootstrap clusters (None: every sample its own cluster).
        weights: w_d of Overall (None: 1 each; otherwise one value per dimension).
        tie_eps: |cand - base| <= tie_eps is a tie, counted half (0: exact equality).
        n_bootstrap: bootstrap replicates; 0 skips the interval.
        seed: bootstrap seed.
        confidence: interval coverage.

    Returns:
        :class:`WinRateResult`.
    """
    n = len(base_scores)
    if len(cand_scores) != n:
        raise EvalError(f"{n} base scores but {len(cand_scores)} candidate scores")
    if n == 0:
        raise EvalError("no samples to compare")
    if not dims:
        raise EvalError("no dimensions to compare")
    if not (tie_eps >= 0 and np.isfinite(tie_eps)):
        raise EvalError(f"tie_eps must be a finite number >= 0, got {tie_eps}")
    if n_bootstrap < 0:
        raise EvalError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    if not 0 < confidence < 1:
        raise EvalError(f"confidence must be in (0, 1), got {confidence}")
    if prompts is not None and len(prompts) != n:
        raise EvalError(f"{n} samples but {len(prompts)} prompts")
    w = resolve_weights(dims, weights)

    b = np.stack([_column(base_scores, d, "base") for d in dims], axis=1)  # (N, D)
    c = np.stack([_column(cand_scores, d, "candidate") for d in dims], axis=1)
    wv = np.array([w[d] for d in dims])
    b = np.concatenate([b, (b @ wv)[:, None]], axis=1)  # (N, D + 1), Overall last
    c = np.concatenate([c, (c @ wv)[:, None]], axis=1)
    names = [*dims, OVERALL]
    o = outcomes(b, c, tie_eps)  # (N, D + 1)

    if prompts is None:
        clusters = np.arange(n)
    else:
        _, clusters = np.unique(np.asarray(list(prompts), dtype=object), return_inverse=True)
        clusters = clusters.astype(int)
    rate = o.mean(axis=0)
    if n_bootstrap:
        low, high = cluster_bootstrap(
            o, clusters, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence
        )
    else:
        low, high = rate, rate
    rates = {
        name: DimWinRate(
            win_rate=float(rate[k]),
            low=float(low[k]),
            high=float(high[k]),
            wins=int((o[:, k] == 1.0).sum()),
            ties=int((o[:, k] == 0.5).sum()),
            losses=int((o[:, k] == 0.0).sum()),
        )
        for k, name in enumerate(names)
    }
    return WinRateResult(
        rates=rates,
        n_samples=n,
        n_prompts=int(clusters.max()) + 1,
        weights=w,
        tie_eps=float(tie_eps),
        n_bootstrap=int(n_bootstrap),
        confidence=float(confidence),
        seed=int(seed),
    )
