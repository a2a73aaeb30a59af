"""The scorer contract that evaluation reads, and the weighted Overall every scorer shares.

A scorer maps (video, prompt) pairs to one reward per dimension plus ``"Overall"``. The
reward model (``vidalign.reward.RewardScorer``), the baselines in ``vidalign.eval.baselines``
and the synthetic world's oracle (``vidalign.synth.scorers``, passed in by the CLI and the
demo) all satisfy :class:`Scorer`; evaluation code never needs more. A :class:`Ceiling` is
a noise-free judge that can score only some data, such as the oracle on synthetic prompts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from vidalign.data.pair import OVERALL  # the combined reward's key, like the human Overall label
from vidalign.errors import VidalignError

__all__ = [
    "OVERALL",
    "Ceiling",
    "EvalError",
    "Scorer",
    "check_lengths",
    "resolve_weights",
    "weighted_overall",
]


class EvalError(VidalignError, ValueError):
    """Bad input to an evaluation: weights, labels, missing or non-finite scores."""


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores videos against prompts, one reward per dimension.

    ``score`` returns, for each (video, prompt), a dict with a float for each name in
    ``dims`` and for ``"Overall"`` (the weighted sum of the normalised dimensions).
    """

    dims: list[str]

    def score(
        self,
        videos: Sequence[Any],
        prompts: Sequence[str],
        *,
        normalize: bool = True,
        weights: dict[str, float] | None = None,
    ) -> list[dict[str, float]]: ...


class Ceiling(Protocol):
    """A noise-free judge of some data: the ceiling row of an accuracy table.

    ``unavailable`` says why it cannot score the given prompts on the given dimensions
    (None when it can); ``scorer(dims)`` is then the :class:`Scorer` of those dimensions.
    """

    def unavailable(self, prompts: Sequence[str], dims: Sequence[str]) -> str | None: ...

    def scorer(self, dims: Sequence[str]) -> Scorer: ...


def check_lengths(videos: Sequence[Any], prompts: Sequence[str]) -> None:
    """A scorer's first check: one prompt per video."""
    if len(videos) != len(prompts):
        raise EvalError(f"got {len(videos)} videos but {len(prompts)} prompts")


def resolve_weights(dims: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Per-dimension weights of the Overall reward; None means 1 for every dimension.

    A given mapping must name exactly ``dims`` (write ``TA=0`` to drop a dimension), so a
    typo never silently changes what Overall means.
    """
    if weights is None:
        return {d: 1.0 for d in dims}
    unknown = [k for k in weights if k not in dims]
    missing = [d for d in dims if d not in weights]
    if unknown or missing:
        raise EvalError(
            f"weights must give one value for each of {list(dims)}; "
            f"unknown: {unknown}, missing: {missing}"
        )
    out = {d: float(weights[d]) for d in dims}
    bad = [d for d, w in out.items() if not math.isfinite(w)]
    if bad:
        raise EvalError(f"weights must be finite numbers; not finite for {bad}")
    return out


def weighted_overall(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Overall = sum_d w_d * s_d over the (normalised) per-dimension rewards (REFERENCE.md §2)."""
    return float(sum(w * float(scores[d]) for d, w in weights.items()))
