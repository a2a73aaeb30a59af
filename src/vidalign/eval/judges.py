"""Judges named on the command line: a word the caller knows (``oracle``) or a reward-model
folder, as a scorer.

A :class:`Judge` carries what the score cache needs besides the scorer: a stable id
(so a changed model is scored again), a file stem for its cache, and whether its rewards
can be normalised (a reward model without statistics cannot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from vidalign.eval.score_cache import folder_fingerprint
from vidalign.eval.scorer import EvalError, Scorer
from vidalign.reward import RewardScorer


@dataclass
class Judge:
    """A scorer plus its cache identity.

    Attributes:
        scorer: the scorer.
        scorer_id: identifies weights and statistics; part of every cache key.
        stem: file stem of its score cache (``<stem>.jsonl``).
        normalize: whether to ask for normalised rewards.
    """

    scorer: Scorer
    scorer_id: str
    stem: str
    normalize: bool = True

    @property
    def dims(self) -> list[str]:
        return list(self.scorer.dims)


def load_judge(
    spec: str,
    *,
    named: Mapping[str, Judge] | None = None,
    device: str | None = None,
    batch_size: int = 8,
) -> Judge:
    """A judge named in ``named`` (the CLI and the demo pass the synthetic world's
    ``{"oracle": ...}``, ``vidalign.synth.scorers.named_judges``); anything else → a
    reward-model folder.

    Args:
        spec: a key of ``named`` or a folder that ``RewardScorer.from_pretrained`` loads.
        named: judges known by a word.
        device: device of a reward model (default: cuda if available, else cpu).
        batch_size: clips per reward-model forward pass.
    """
    named = named or {}
    if spec in named:
        return named[spec]
    folder = Path(spec)
    if not folder.is_dir():
        if not named:
            raise EvalError(f"judge {spec!r} is not a reward model folder")
        words = " / ".join(map(repr, named))
        raise EvalError(f"judge {spec!r} is neither {words} nor a reward model folder")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rm = RewardScorer.from_pretrained(str(folder), device=device, batch_size=batch_size)
    fp = folder_fingerprint(folder)
    return Judge(
        rm,
        f"reward:{folder.resolve()}:{fp}",
        f"reward-{folder.resolve().name}-{fp[:8]}",
        normalize=rm.stats is not None,
    )
