"""Win rates of two sample sets on disk: match, score through the cache, compare.

Each set's scores are cached in its own folder (``<set>/.scores/<judge>.jsonl`` unless a
``cache_dir`` is given), so a base set compared against several candidates is scored once,
and a killed run resumes where it stopped (``vidalign.eval.score_cache``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vidalign.eval.judges import Judge
from vidalign.eval.sample_set import Sample, match_sample_sets, read_sample_set
from vidalign.eval.score_cache import score_items
from vidalign.eval.winrate import WinRateResult, win_rates

CACHE_DIR = ".scores"


def score_sample_set(
    samples: list[Sample],
    judge: Judge,
    cache_path: str | Path,
    *,
    batch_size: int = 8,
    progress: bool = False,
    desc: str | None = None,
) -> list[dict[str, float]]:
    """Scores of every sample, in order, through the score cache (errors name the video)."""
    items = [(s.path, s.prompt) for s in samples]
    table = score_items(
        judge.scorer,
        items,
        cache_path,
        scorer_id=judge.scorer_id,
        batch_size=batch_size,
        normalize=judge.normalize,
        progress=progress,
        desc=desc,
    )
    return [table.scores[item] for item in items]


def run_winrate(
    base_dir: str | Path,
    cand_dir: str | Path,
    judge: Judge,
    *,
    weights: Mapping[str, float] | None = None,
    tie_eps: float = 0.0,
    n_bootstrap: int = 1000,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> WinRateResult:
    """Win rates of ``cand_dir`` over ``base_dir`` judged by ``judge``, per dim and Overall.

    Args:
        base_dir, cand_dir: sample sets from the same prompts and seeds.
        judge: the scorer (``vidalign.eval.judges.load_judge``).
        weights: w_d of Overall (None: 1 each).
        tie_eps: score differences within it are ties (0: exact equality).
        n_bootstrap: prompt-level bootstrap replicates (0: no interval).
        seed: bootstrap seed.
        cache_dir: one folder for both caches (``base-<judge>.jsonl``,
            ``candidate-<judge>.jsonl``); None keeps each in its set's ``.scores/``.
        batch_size: videos per scorer call.
        progress: show progress bars.

    Raises:
        EvalError: the sets do not match (listing what is missing), or a video fails.
    """
    base = read_sample_set(base_dir)
    cand = read_sample_set(cand_dir)
    pairs = match_sample_sets(base, cand)

    def cache(folder: str | Path, side: str) -> Path:
        if cache_dir is None:
            return Path(folder) / CACHE_DIR / f"{judge.stem}.jsonl"
        return Path(cache_dir) / f"{side}-{judge.stem}.jsonl"

    b = score_sample_set(
        [p for p, _ in pairs],
        judge,
        cache(base_dir, "base"),
        batch_size=batch_size,
        progress=progress,
        desc="base",
    )
    c = score_sample_set(
        [q for _, q in pairs],
        judge,
        cache(cand_dir, "candidate"),
        batch_size=batch_size,
        progress=progress,
        desc="candidate",
    )
    return win_rates(
        b,
        c,
        judge.dims,
        prompts=[p.prompt for p, _ in pairs],
        weights=weights,
        tie_eps=tie_eps,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
