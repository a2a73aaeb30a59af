"""The oracle in the library's shapes: a scorer, a ceiling, a judge, a GRPO reward source.

The library (``reward``, ``policy``, ``align``, ``guidance``, ``eval``) never imports the
synthetic world. Where a command names the oracle (``--judge oracle``, ``monitor.gold:
oracle``, ``reward.sources: [oracle]``, the reward-eval's oracle row), the CLI and the demo
build it here and pass it in:

* :class:`OracleScorer`: the ceiling on synthetic data, a :class:`vidalign.eval.scorer.Scorer`;
* :class:`OracleCeiling`: the oracle row of an accuracy table
  (:class:`vidalign.eval.scorer.Ceiling`), for ``run_reward_eval`` and the reward ablation;
* :func:`oracle_judge`, :func:`named_judges`: the judge named ``oracle``, for ``load_judge``
  and the alignment trainers' hacking monitor;
* :class:`OracleReward`, :func:`gold_sources`: the reward source named ``oracle``, a gold
  control of Flow-GRPO.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from vidalign import DEFAULT_DIMS, __version__
from vidalign.align.grpo_rewards import RewardError, RewardSource, check_clips, finite_rewards
from vidalign.errors import VidalignError
from vidalign.eval.judges import Judge
from vidalign.eval.scorer import (
    OVERALL,
    EvalError,
    check_lengths,
    resolve_weights,
    weighted_overall,
)
from vidalign.synth.oracle import DIMS as ORACLE_DIMS
from vidalign.synth.oracle import ORACLE_VERSION, judge
from vidalign.synth.prompts import PromptError, parse_prompt
from vidalign.video import read_video

ORACLE = "oracle"
"""The word that names the oracle on the command line and in configs."""


class OracleScorer:
    """The synthetic world's pixel-only oracle as a scorer: the accuracy ceiling.

    It decodes each video and calls the oracle judge, so it is the noise-free version of
    what the simulated annotators saw. Each video is decoded with
    ``vidalign.video.read_video`` (all frames, native rate and size, as the synthetic
    dataset wrote them) and judged with ``vidalign.synth.oracle.judge(frames, prompt)``.

    Normalisation: the oracle's raw values (each in [0, 1], higher is better) are
    z-normalised per dimension with fixed ``stats`` {dim: (mean, std)}, like a reward
    model's stored statistics. The default, ``stats=None``, is mean 0 and std 1 for every
    dimension, so the "normalised" rewards are the raw oracle values and Overall is
    Σ_d w_d · oracle_d on that common [0, 1] scale. Normalisation never changes
    per-dimension accuracy; it only sets how dimensions weigh against each other in
    Overall.

    Args:
        dims: which oracle dimensions to report (default: VQ, MQ, TA).
        stats: per-dimension (mean, std) for normalisation, or None.
    """

    def __init__(
        self,
        dims: Sequence[str] = DEFAULT_DIMS,
        stats: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.dims = list(dims)
        stats = dict(stats or {})
        unknown = [d for d in stats if d not in self.dims]
        if unknown:
            raise EvalError(f"oracle stats for unknown dimensions {unknown}; dims: {self.dims}")
        self.stats = {d: tuple(map(float, stats.get(d, (0.0, 1.0)))) for d in self.dims}
        bad = [d for d, (_, sd) in self.stats.items() if not sd > 0]
        if bad:
            raise EvalError(f"oracle stats need std > 0; not for {bad}")

    @property
    def scorer_id(self) -> str:
        stats = ",".join(f"{d}={m:g}/{s:g}" for d, (m, s) in self.stats.items())
        return f"oracle:v{ORACLE_VERSION}:vidalign-{__version__}:dims={','.join(self.dims)}:stats={stats}"

    def score(
        self,
        videos: Sequence[Any],
        prompts: Sequence[str],
        *,
        normalize: bool = True,
        weights: dict[str, float] | None = None,
    ) -> list[dict[str, float]]:
        """Judge each video against its prompt.

        Args:
            videos: mp4 paths, ``Video`` objects, or uint8 frame tensors (F, C, H, W).
            prompts: one prompt per video, from the synthetic grammar.
            normalize: apply ``stats`` (z-normalisation) to each dimension.
            weights: w_d of Overall (None: all 1).
        """
        check_lengths(videos, prompts)
        w = resolve_weights(self.dims, weights)
        out = []
        for video, prompt in zip(videos, prompts, strict=True):
            if isinstance(video, str | os.PathLike):
                video = read_video(video)
            frames = getattr(video, "frames", video)
            raw = judge(frames, prompt)
            missing = [d for d in self.dims if d not in raw]
            if missing:
                raise EvalError(f"the oracle judges {sorted(raw)}, not {missing}")
            s = {d: float(raw[d]) for d in self.dims}
            if normalize:
                s = {d: (v - self.stats[d][0]) / self.stats[d][1] for d, v in s.items()}
            s[OVERALL] = weighted_overall(s, w)
            out.append(s)
        return out


class OracleCeiling:
    """The oracle row of an accuracy table: it scores prompts of the synthetic grammar on
    the oracle's dimensions (:class:`vidalign.eval.scorer.Ceiling`)."""

    def unavailable(self, prompts: Sequence[str], dims: Sequence[str]) -> str | None:
        """None when the oracle can score these prompts on ``dims``, else the reason it cannot."""
        extra = [d for d in dims if d not in ORACLE_DIMS]
        if extra:
            return f"the oracle judges {list(ORACLE_DIMS)}, not {extra}"
        for prompt in dict.fromkeys(prompts):
            try:
                parse_prompt(prompt)
            except PromptError:
                return f"prompt {prompt!r} is not from the synthetic grammar"
        return None

    def scorer(self, dims: Sequence[str]) -> OracleScorer:
        return OracleScorer(dims)


def oracle_judge() -> Judge:
    """The judge named ``oracle``: :class:`OracleScorer` with its cache identity."""
    orc = OracleScorer()
    return Judge(orc, orc.scorer_id, ORACLE)


def named_judges() -> dict[str, Judge]:
    """The judges a command may name by a word, for ``load_judge(spec, named=...)``."""
    return {ORACLE: oracle_judge()}


class OracleReward:
    """The synthetic world's oracle (``vidalign.synth.oracle.judge``): VQ, MQ, TA in [0, 1]."""

    def __init__(self, dims: Sequence[str] = ("VQ", "MQ", "TA")):
        self.dims = list(dims)

    def __call__(self, clips: Tensor, prompts: Sequence[str], names: Sequence[str]) -> Tensor:
        check_clips(clips, prompts, names)
        out = []
        for clip, prompt, name in zip(clips.cpu(), prompts, names, strict=True):
            try:
                s = judge(clip, prompt)
            except VidalignError as err:
                raise RewardError(
                    f"{name} (prompt {prompt!r}): the oracle cannot judge it: {err}"
                ) from None
            out.append([float(s[d]) for d in self.dims])
        return finite_rewards(torch.tensor(out, dtype=torch.float32), self.dims, prompts, names)


def gold_sources() -> dict[str, RewardSource]:
    """The gold reward sources a GRPO recipe may name, for ``build_rewards(gold_sources=...)``:
    optimising one is a gold control, never the learned arm."""
    return {ORACLE: OracleReward()}
