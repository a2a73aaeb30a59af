"""The reward-eval run: a reward model's accuracy beside the Random and Oracle baselines.

``run_reward_eval`` is what ``vidalign reward eval`` (``vidalign.cli.reward_eval``), the
demo and the reward ablation call. MODEL is a folder that
``vidalign.reward.RewardScorer.from_pretrained`` loads, or the literal ``oracle`` /
``random`` to report the baselines alone. The data is a pair file that
``vidalign.data.load_pairs`` reads (VideoAlign / VideoGen-RewardBench / GenAI-Bench CSV,
JSONL, Parquet). The oracle row (the noise-free ceiling) is added when the caller passes
an oracle that can score the pairs (a :class:`~vidalign.eval.scorer.Ceiling`; the CLI and
the demo pass the synthetic world's, which scores prompts of its grammar).

Every video is sampled the way the reward model's stored sampling contract says; the
per-pair ``fps_A`` / ``num_frames_A`` columns are not used here. The oracle decodes every
frame at the native rate.

Writes under ``out``: ``report.md``, ``results.json``, ``tie_separation.png``,
``config.yaml``, ``cache/<scorer>.jsonl`` (resumable score caches) and, with
``skip_errors``, ``skipped.jsonl``. Every row is scored on the same pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vidalign import DEFAULT_DIMS
from vidalign.config import check_config, save_config
from vidalign.data import load_pairs
from vidalign.eval.baselines import RandomScorer
from vidalign.eval.reward_eval import RewardEvalResult, evaluate_pairs
from vidalign.eval.reward_report import write_report
from vidalign.eval.score_cache import (
    Skipped,
    drop_skipped,
    folder_fingerprint,
    pair_items,
    score_items,
    write_skipped,
)
from vidalign.eval.scorer import OVERALL, Ceiling, EvalError, Scorer, resolve_weights
from vidalign.reward import RewardScorer

RANDOM_ROW = "Random"
ORACLE_ROW = "Oracle (ceiling)"


@dataclass
class RewardEvalConfig:
    """Settings of one ``vidalign reward eval`` run."""

    model: str = field(
        default="random",
        metadata={"help": "reward model folder, or 'oracle' / 'random' for the baselines alone"},
    )
    data: str = field(default="", metadata={"help": "pair file (CSV / JSONL / Parquet)"})
    video_root: str | None = field(
        default=None, metadata={"help": "folder that relative video paths are read from"}
    )
    out: str = field(default="runs/reward_eval", metadata={"help": "output folder"})
    weights: dict[str, float] | None = field(
        default=None, metadata={"help": "per-dimension weights of Overall (default: all 1)"}
    )
    oracle: bool = field(
        default=True, metadata={"help": "add the oracle ceiling row when the data is synthetic"}
    )
    skip_errors: bool = field(
        default=False,
        metadata={"help": "skip videos that fail to score (listed in skipped.jsonl)"},
    )
    seed: int = field(default=0, metadata={"help": "seed of the Random baseline", "ge": 0})
    batch_size: int = field(default=8, metadata={"help": "videos per scorer call", "ge": 1})
    device: str | None = field(
        default=None, metadata={"help": "device of the reward model (default: cuda if available)"}
    )


@dataclass
class RewardEvalRun:
    """What a run produced: results per row (table order) and the files written."""

    results: dict[str, RewardEvalResult]
    paths: dict[str, Path]
    n_skipped_pairs: int
    notes: list[str]


def _labelled_dims(pairs: list[Any]) -> list[str]:
    """Label dimensions of the pairs (not Overall), in first-seen order."""
    seen: dict[str, None] = {}
    for p in pairs:
        for k in p.labels:
            if k != OVERALL:
                seen.setdefault(k, None)
    return list(seen)


def _device(requested: str | None) -> str:
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class _Row:
    name: str
    scorer: Scorer
    scorer_id: str
    cache_stem: str
    normalize: bool = True


def _build_scorers(
    cfg: RewardEvalConfig, pairs: list[Any], notes: list[str], oracle: Ceiling | None
) -> tuple[list[str], list[_Row]]:
    """Eval dims and the table's rows, in order: Random, Oracle, the model."""
    model = cfg.model
    reward: Scorer | None = None
    if model not in ("oracle", "random"):
        folder = Path(model)
        if not folder.is_dir():
            raise EvalError(
                f"MODEL {model!r} is not a folder; give a reward model folder, "
                "or 'oracle' / 'random' for the baselines alone"
            )
        reward = RewardScorer.from_pretrained(
            str(folder), device=_device(cfg.device), batch_size=cfg.batch_size
        )
        dims = list(reward.dims)
        reward_id = f"reward:{folder.resolve()}:{folder_fingerprint(folder)}"
    else:  # baselines alone: the data's dimensions (Overall-only data: the default ones)
        dims = _labelled_dims(pairs) or list(DEFAULT_DIMS)
    unscored = [d for d in _labelled_dims(pairs) if d not in dims]
    if unscored:
        notes.append(f"Labels for {unscored} are not evaluated: the scorer has no such dims.")

    rnd = RandomScorer(dims, seed=cfg.seed)
    rows = [_Row(RANDOM_ROW, rnd, rnd.scorer_id, "random")]
    if model == "oracle" and not cfg.oracle:
        raise EvalError("MODEL 'oracle' contradicts --no-oracle")
    if cfg.oracle:
        reason = (
            "no oracle was passed in"
            if oracle is None
            else oracle.unavailable([p.prompt for p in pairs], dims)
        )
        if reason is None:
            orc = oracle.scorer(dims)
            rows.append(_Row(ORACLE_ROW, orc, orc.scorer_id, "oracle"))
        elif model == "oracle":
            raise EvalError(f"the oracle cannot score {cfg.data}: {reason}")
        else:
            notes.append(f"No oracle row: {reason}.")
    if reward is not None:
        name = Path(model).resolve().name
        if name in (RANDOM_ROW, ORACLE_ROW):
            name = f"{name} (model)"
        normalize = getattr(reward, "stats", True) is not None
        if not normalize:
            notes.append(f"{name} has no normalisation statistics: its Overall sums raw rewards.")
        rows.append(_Row(name, reward, reward_id, f"model-{name}", normalize))
    return dims, rows


def run_reward_eval(
    cfg: RewardEvalConfig, *, oracle: Ceiling | None = None, progress: bool = True
) -> RewardEvalRun:
    """Score every pair's videos with each row's scorer, evaluate, write the report.

    ``oracle`` is the ceiling row's judge (module docstring); without it there is no
    oracle row, and MODEL ``oracle`` is an error.

    Raises:
        EvalError: bad MODEL, weights, or a video that fails to score (without skip mode).
        PairDataError: the pair file is malformed.
    """
    check_config(cfg)
    if not cfg.data:
        raise EvalError("--data is required: a pair file to evaluate on")
    pairs = load_pairs(cfg.data, video_root=cfg.video_root)
    if not pairs:
        raise EvalError(f"{cfg.data}: no pairs")
    notes: list[str] = []
    dims, rows = _build_scorers(cfg, pairs, notes, oracle)
    resolve_weights(dims, cfg.weights)  # fail before any scoring

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    items = pair_items(pairs)
    tables = {}
    skipped: list[tuple[str, Skipped]] = []
    for row in rows:
        table = score_items(
            row.scorer,
            items,
            out / "cache" / f"{row.cache_stem}.jsonl",
            scorer_id=row.scorer_id,
            batch_size=cfg.batch_size,
            normalize=row.normalize,
            skip_errors=cfg.skip_errors,
            progress=progress,
            desc=row.name,
        )
        tables[row.name] = table
        skipped += [(row.name, s) for s in table.skipped]

    kept = drop_skipped(pairs, [s for _, s in skipped])
    n_dropped = len(pairs) - len(kept)
    meta: dict[str, Any] = {
        "data": str(cfg.data),
        "model": cfg.model,
        "n_pairs_in_file": len(pairs),
        "n_skipped": n_dropped,
        "seed": cfg.seed,
    }
    (out / "skipped.jsonl").unlink(missing_ok=True)  # never leave a stale list behind
    if skipped:
        path = write_skipped(out / "skipped.jsonl", skipped)
        meta["skipped_file"] = path.name
        notes.append(
            f"{len({(s.path, s.prompt) for _, s in skipped})} video(s) failed to score and "
            f"{n_dropped} pair(s) were left out for every row (skip mode)."
        )
    if not kept:
        raise EvalError(f"every pair of {cfg.data} was skipped; see {out / 'skipped.jsonl'}")
    results = {
        row.name: evaluate_pairs(kept, tables[row.name].scores, dims, cfg.weights) for row in rows
    }
    meta["notes"] = notes
    paths = write_report(out, results, meta)
    return RewardEvalRun(results=results, paths=paths, n_skipped_pairs=n_dropped, notes=notes)
