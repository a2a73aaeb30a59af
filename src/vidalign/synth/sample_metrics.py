"""Oracle metric suite of a sample set (the synthetic world's VBench analogue).

For a folder written by ``vidalign sample``:

* **per dimension**: the mean oracle score (``vidalign.synth.oracle.judge``, each in [0, 1])
  over all samples;
* **TA breakdown**: the means of the oracle's text-alignment components
  (``judge_details``: presence, colour, shape, size, motion, each averaged over a clip's
  objects), reported as ``TA/<component>``;
* **diversity**: the mean over prompts sampled with two or more seeds of their samples'
  within-prompt RMS distance (``vidalign.eval.diversity``); two unrelated clips of the world
  give about 0.1 to 0.3. It is undefined (None) when no prompt has two samples.

Oracle scores go through the score cache (``<set>/.scores/oracle-details.jsonl``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidalign import __version__
from vidalign.eval.diversity import diversity
from vidalign.eval.sample_set import Sample, read_sample_set
from vidalign.eval.score_cache import score_items
from vidalign.eval.scorer import (
    OVERALL,
    EvalError,
    check_lengths,
    resolve_weights,
    weighted_overall,
)
from vidalign.synth.oracle import judge_details
from vidalign.video import read_video

DIMS: tuple[str, ...] = ("VQ", "MQ", "TA")
TA_PREFIX = "TA/"


class OracleDetailScorer:
    """The oracle as a :class:`vidalign.eval.scorer.Scorer` that also reports ``TA/<part>``.

    Accepts paths, ``Video`` objects or uint8 tensors (F, C, H, W). Scores are the raw
    oracle values (``normalize`` changes nothing); Overall = Σ_d w_d · s_d.
    """

    def __init__(self) -> None:
        self.dims = list(DIMS)

    @property
    def scorer_id(self) -> str:
        return f"oracle-details:vidalign-{__version__}"

    def score(
        self,
        videos: Sequence[Any],
        prompts: Sequence[str],
        *,
        normalize: bool = True,
        weights: dict[str, float] | None = None,
    ) -> list[dict[str, float]]:
        check_lengths(videos, prompts)
        w = resolve_weights(self.dims, weights)
        out = []
        for video, prompt in zip(videos, prompts, strict=True):
            if isinstance(video, str | Path):
                video = read_video(video)
            details = judge_details(getattr(video, "frames", video), prompt)
            s = {d: float(details["scores"][d]) for d in self.dims}
            s[OVERALL] = weighted_overall(s, w)
            s.update({TA_PREFIX + k: float(v) for k, v in details["TA"].items()})
            out.append(s)
        return out


@dataclass
class OracleMetrics:
    """Metric suite of one sample set.

    Attributes:
        means: dimension → mean oracle score.
        ta_parts: TA component → mean (presence, colour, shape, size, motion).
        diversity: mean within-prompt RMS distance (module docstring), or None.
        n_samples: samples scored.
        n_prompts: distinct prompts.
        n_diversity_prompts: prompts with two or more samples (diversity's support).
    """

    means: dict[str, float]
    ta_parts: dict[str, float]
    diversity: float | None
    n_samples: int
    n_prompts: int
    n_diversity_prompts: int
    per_prompt_diversity: dict[str, float] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, float | int | None]:
        """Flat: ``{VQ, MQ, TA, "TA/colour", ..., "diversity", "n_samples", ...}``."""
        return {
            **self.means,
            **{TA_PREFIX + k: v for k, v in self.ta_parts.items()},
            "diversity": self.diversity,
            "n_samples": self.n_samples,
            "n_prompts": self.n_prompts,
            "n_diversity_prompts": self.n_diversity_prompts,
        }


def metrics_of(
    samples: Sequence[Sample], scores: Sequence[dict[str, float]], clips: Sequence[torch.Tensor]
) -> OracleMetrics:
    """The suite from per-sample oracle scores and decoded clips (uint8 (F, C, H, W))."""
    if not samples:
        raise EvalError("no samples")
    means = {d: float(np.mean([s[d] for s in scores])) for d in DIMS}
    part_names = [k for k in scores[0] if k.startswith(TA_PREFIX)]
    ta_parts = {k[len(TA_PREFIX) :]: float(np.mean([s[k] for s in scores])) for k in part_names}
    by_prompt: dict[str, list[torch.Tensor]] = {}
    for s, clip in zip(samples, clips, strict=True):
        by_prompt.setdefault(s.prompt, []).append(clip)
    per_prompt = diversity(by_prompt)
    return OracleMetrics(
        means=means,
        ta_parts=ta_parts,
        diversity=float(np.mean(list(per_prompt.values()))) if per_prompt else None,
        n_samples=len(samples),
        n_prompts=len(by_prompt),
        n_diversity_prompts=len(per_prompt),
        per_prompt_diversity=per_prompt,
    )


def oracle_metrics(
    sample_dir: str | Path,
    *,
    cache_path: str | Path | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> OracleMetrics:
    """Oracle metric suite of a sample set written by ``vidalign sample``.

    Args:
        sample_dir: folder with ``index.jsonl`` and the mp4 files.
        cache_path: score cache (default ``<sample_dir>/.scores/oracle-details.jsonl``).
        batch_size: videos per oracle call between cache flushes.
        progress: show a progress bar.

    Raises:
        EvalError: a malformed set, a prompt outside the synthetic grammar, or a video
            that cannot be decoded (named).
    """
    samples = read_sample_set(sample_dir)
    scorer = OracleDetailScorer()
    cache = cache_path or Path(sample_dir) / ".scores" / "oracle-details.jsonl"
    items = [(s.path, s.prompt) for s in samples]
    table = score_items(
        scorer,
        items,
        cache,
        scorer_id=scorer.scorer_id,
        batch_size=batch_size,
        progress=progress,
        desc="oracle",
    )
    scores = [table.scores[i] for i in items]
    clips = [read_video(s.path).frames for s in samples]
    return metrics_of(samples, scores, clips)
