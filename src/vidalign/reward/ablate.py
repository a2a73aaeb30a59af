"""Reward-model ablations (the paper's Table 3, REFERENCE.md §2-3) on one data set.

Every variant is the same trainer recipe with a few ``key=value`` overrides (loss, token
mode, template), trained with the same data, budget and seeds, and scored on the same
test pairs beside the Random baseline and, on synthetic data, the oracle ceiling (passed in
by the caller: ``run_ablation(cfg, oracle=...)``; the CLI passes the synthetic world's).

Output folder::

    config.yaml                         the resolved ablation config
    ablation.md, ablation.json          the combined table: rows = Random, Oracle, variants;
                                        cells "w/ ties / w/o ties" in %, mean ± std over seeds
    tie_separation.png                  Δr of ties vs strict pairs, every variant (first seed)
    baselines/cache/*.jsonl             Random / Oracle score caches
    variants/<name>/seed<k>/train/      the trainer's run folder (model/ inside)
    variants/<name>/seed<k>/eval/       report.md, results.json, tie_separation.png, cache
    variants/<name>/seed<k>/done.json   wall time and load; a rerun reuses finished runs

A killed ablation resumes: finished (variant, seed) runs are reused, an unfinished one
continues from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vidalign.checkpoint import latest_checkpoint
from vidalign.config import check_config, config_to_dict, load_config, save_config
from vidalign.data import load_pairs
from vidalign.errors import VidalignError
from vidalign.eval.baselines import RandomScorer
from vidalign.eval.reward_eval import RewardEvalResult, evaluate_pairs
from vidalign.eval.reward_report import plot_tie_separation, write_report
from vidalign.eval.score_cache import folder_fingerprint, pair_items, score_items
from vidalign.eval.scorer import OVERALL, Ceiling
from vidalign.reward.config import RewardTrainConfig
from vidalign.reward.scorer import RewardScorer
from vidalign.reward.trainer import train_reward

RANDOM_ROW = "Random"
ORACLE_ROW = "Oracle (ceiling)"


class AblationError(VidalignError):
    """An ablation config that cannot run (no variants, duplicate names, missing data)."""


@dataclass
class AblationVariant:
    """One row of the ablation: a name and overrides of the trainer recipe."""

    name: str = field(default="", metadata={"help": "row name in the table"})
    overrides: list[str] = field(
        default_factory=list, metadata={"help": "RewardTrainConfig key=value overrides"}
    )


def default_variants() -> list[AblationVariant]:
    """The paper's Table 3 progression plus the prompt-bias check.

    Regression, BT and BTT read one shared token (each row changes one thing); then BTT
    with one token per dimension, then the same with the caption before every token.
    """
    return [
        AblationVariant("Regression", ["loss=regression", "token_mode=shared"]),
        AblationVariant("BT", ["loss=bt", "token_mode=shared"]),
        AblationVariant("BTT (shared token)", ["loss=btt", "token_mode=shared"]),
        AblationVariant("BTT + separate tokens", ["loss=btt", "token_mode=separate"]),
        AblationVariant(
            "BTT + separate tokens, prompt first",
            ["loss=btt", "token_mode=separate", "template=prompt_first"],
        ),
    ]


@dataclass
class RewardAblateConfig:
    """Train reward-model variants on one data set and tabulate their accuracy."""

    RENAMED: ClassVar[dict[str, str]] = {"output_dir": "out_dir"}

    recipe: str = field(
        default="configs/reward/synth_small.yaml",
        metadata={"help": "trainer recipe (RewardTrainConfig YAML) every variant starts from"},
    )
    train_data: str = field(default="", metadata={"help": "training pairs file"})
    val_data: str | None = field(default=None, metadata={"help": "validation pairs file"})
    test_data: str = field(default="", metadata={"help": "pairs the table is computed on"})
    video_root: str | None = field(
        default=None, metadata={"help": "folder for relative video paths"}
    )
    out_dir: str = field(default="runs/reward_ablate", metadata={"help": "output folder"})
    seeds: list[int] = field(
        default_factory=lambda: [0],
        metadata={"help": "training seeds; mean ± std over them", "ge": 0},
    )
    common: list[str] = field(
        default_factory=list,
        metadata={"help": "overrides applied to every variant (budget: steps=...)"},
    )
    variants: list[AblationVariant] = field(
        default_factory=default_variants, metadata={"help": "rows of the table"}
    )
    weights: dict[str, float] | None = field(
        default=None, metadata={"help": "per-dimension weights of Overall (default all 1)"}
    )
    oracle: bool = field(
        default=True, metadata={"help": "add the oracle ceiling row (synthetic data only)"}
    )
    random_seed: int = field(default=0, metadata={"help": "seed of the Random baseline", "ge": 0})
    batch_size: int = field(default=8, metadata={"help": "videos per scorer call", "ge": 1})
    progress: bool = field(default=False, metadata={"help": "show progress bars"})


@dataclass
class VariantRun:
    """One trained (variant, seed): its test result and what it cost."""

    variant: str
    seed: int
    model_dir: Path
    result: RewardEvalResult
    wall_s: float
    load: tuple[float, float, float]


@dataclass
class AblationResult:
    """Every run, the baseline results and the files written."""

    runs: list[VariantRun]
    baselines: dict[str, RewardEvalResult]
    paths: dict[str, Path]


def _slug(name: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "_" for c in name)
    return "_".join(p for p in out.split("_") if p) or "variant"


def _check(cfg: RewardAblateConfig) -> None:
    check_config(cfg)
    if not cfg.train_data or not cfg.test_data:
        raise AblationError("train_data and test_data are required (pair files)")
    if not cfg.variants:
        raise AblationError("variants is empty: nothing to compare")
    if not cfg.seeds:
        raise AblationError("seeds is empty: give at least one training seed")
    names = [v.name for v in cfg.variants]
    slugs = [_slug(n) for n in names]
    if any(not n for n in names) or len(set(slugs)) != len(slugs):
        raise AblationError(f"variant names must be non-empty and distinct, got {names}")
    if not Path(cfg.recipe).is_file():
        raise AblationError(f"recipe {cfg.recipe}: file not found")


def variant_train_config(
    cfg: RewardAblateConfig, variant: AblationVariant, seed: int, run_dir: Path
) -> Any:
    """The ``RewardTrainConfig`` of one (variant, seed): recipe < data < common < variant."""
    over = [
        f"train_data={cfg.train_data}",
        f"val_data={cfg.val_data or 'null'}",  # never the recipe's own data
        f"video_root={cfg.video_root or 'null'}",
        f"out_dir={run_dir}",
        f"seed={seed}",
    ]
    over += [*cfg.common, *variant.overrides, "progress=" + str(cfg.progress).lower()]
    if latest_checkpoint(run_dir) is not None:
        over.append("resume=true")
    return load_config(RewardTrainConfig, cfg.recipe, over)


def _recipe_fingerprint(tcfg: Any) -> dict[str, Any]:
    """The resolved trainer settings that decide a run's weights (not resume / progress)."""
    d = config_to_dict(tcfg)
    for key in ("resume", "stop_at", "progress"):
        d.pop(key, None)
    return d


def _score(scorer: Any, scorer_id: str, pairs: Sequence[Any], cache: Path, cfg: Any) -> dict:
    table = score_items(
        scorer,
        pair_items(pairs),
        cache,
        scorer_id=scorer_id,
        batch_size=cfg.batch_size,
        normalize=True,
        progress=cfg.progress,
    )
    return table.scores


def _baselines(
    cfg: RewardAblateConfig,
    pairs: Sequence[Any],
    dims: list[str],
    out: Path,
    oracle: Ceiling | None,
) -> dict[str, RewardEvalResult]:
    rows: dict[str, Any] = {RANDOM_ROW: RandomScorer(dims, seed=cfg.random_seed)}
    prompts = [p.prompt for p in pairs]
    if cfg.oracle and oracle is not None and oracle.unavailable(prompts, dims) is None:
        rows[ORACLE_ROW] = oracle.scorer(dims)
    results = {}
    for name, scorer in rows.items():
        cache = out / "baselines" / "cache" / f"{_slug(name)}.jsonl"
        scores = _score(scorer, scorer.scorer_id, pairs, cache, cfg)
        results[name] = evaluate_pairs(pairs, scores, dims, cfg.weights)
    return results


def _train_and_eval(
    cfg: RewardAblateConfig,
    variant: AblationVariant,
    seed: int,
    pairs: Sequence[Any],
    dims: list[str],
    out: Path,
) -> VariantRun:
    root = out / "variants" / _slug(variant.name) / f"seed{seed}"
    run_dir, done = root / "train", root / "done.json"
    model_dir = run_dir / "model"
    tcfg = variant_train_config(cfg, variant, seed, run_dir)
    recipe = _recipe_fingerprint(tcfg)
    if done.is_file() and (model_dir / "vidalign_reward.json").is_file():
        facts = json.loads(done.read_text())
        if facts.get("train_config") != recipe:
            raise AblationError(
                f"{root} was trained with other settings than this config asks for "
                f"(variant {variant.name!r}, seed {seed}); choose another out_dir"
            )
        wall, load = float(facts["wall_s"]), tuple(facts["load"])
    else:
        start = time.perf_counter()
        result = train_reward(tcfg)
        wall = time.perf_counter() - start
        load = os.getloadavg()
        if result.model_dir is None:
            raise AblationError(f"variant {variant.name!r} seed {seed}: no model was written")
        model_dir = result.model_dir
    scorer = RewardScorer.from_pretrained(str(model_dir), batch_size=cfg.batch_size)
    if list(scorer.dims) != dims:
        raise AblationError(f"variant {variant.name!r} scores {scorer.dims}, expected {dims}")
    sid = f"reward:{model_dir.resolve()}:{folder_fingerprint(model_dir)}"
    scores = _score(scorer, sid, pairs, root / "eval" / "cache" / "model.jsonl", cfg)
    res = evaluate_pairs(pairs, scores, dims, cfg.weights)
    meta = {"data": cfg.test_data, "variant": variant.name, "seed": seed}
    write_report(root / "eval", {variant.name: res}, meta)
    facts = {"wall_s": wall, "load": list(load), "train_config": recipe}
    done.write_text(json.dumps(facts, indent=2) + "\n")
    return VariantRun(variant.name, seed, model_dir, res, wall, tuple(load))


# -- the combined table --------------------------------------------------------------------
def _stat(values: Sequence[float | None]) -> dict[str, float | int | None]:
    xs = np.array([v for v in values if v is not None], dtype=np.float64)
    if xs.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(xs.mean()), "std": float(xs.std(ddof=1)) if xs.size > 1 else None,
            "n": int(xs.size)}  # fmt: skip


def aggregate(results: Sequence[RewardEvalResult]) -> dict[str, dict[str, Any]]:
    """Mean and sample std over seeds of each column's accuracies.

    Returns:
        column → {"with_ties": {mean, std, n}, "without_ties": {mean, std, n}}; std is
        None with one seed.
    """
    cols = list(results[0].columns)
    return {
        c: {
            "with_ties": _stat([r.columns[c].acc_with_ties for r in results]),
            "without_ties": _stat([r.columns[c].acc_without_ties for r in results]),
        }
        for c in cols
    }


def _fmt(s: Mapping[str, Any]) -> str:
    if s["mean"] is None:
        return "n/a"
    text = f"{100 * s['mean']:.2f}"
    return text if s["std"] is None else f"{text} ± {100 * s['std']:.2f}"


def ablation_table(rows: Mapping[str, Mapping[str, Mapping[str, Any]]], cols: list[str]) -> str:
    """Markdown: rows = scorers, columns = Overall + dims, cells "w/ ties / w/o ties" in %."""
    lines = ["| Variant | " + " | ".join(cols) + " |", "|" + " --- |" * (len(cols) + 1)]
    for name, agg in rows.items():
        cells = [f"{_fmt(agg[c]['with_ties'])} / {_fmt(agg[c]['without_ties'])}" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_ablation(
    out: Path,
    cfg: RewardAblateConfig,
    runs: Sequence[VariantRun],
    baselines: Mapping[str, RewardEvalResult],
) -> dict[str, Path]:
    """Write ``ablation.md``, ``ablation.json`` and the combined ``tie_separation.png``."""
    names = list(dict.fromkeys(r.variant for r in runs))
    cols = [OVERALL, *runs[0].result.dims]
    rows: dict[str, Any] = {k: aggregate([v]) for k, v in baselines.items()}
    for n in names:
        rows[n] = aggregate([r.result for r in runs if r.variant == n])
    n_pairs = runs[0].result.n_pairs
    first = runs[0].result
    seeds = ", ".join(str(s) for s in cfg.seeds)
    cost = "\n".join(f"| {r.variant} | {r.seed} | {r.wall_s:.0f} | {r.load[0]:.2f} |" for r in runs)
    md = [
        "# Reward ablation",
        "",
        f"Test data: `{cfg.test_data}`, {n_pairs} pairs; trained on `{cfg.train_data}` from "
        f"`{cfg.recipe}` with common overrides `{' '.join(cfg.common) or '(none)'}`; "
        f"seeds {seeds}.",
        f"Overall: sum of normalised rewards scored against "
        f"{'the Overall label' if first.overall_labels == 'Overall' else 'pooled labels'}.",
        "",
        "Accuracy in %, **with ties / without ties** (REFERENCE.md §3); mean ± sample std "
        "over seeds where there are several. Random and Oracle are scored once.",
        "",
        ablation_table(rows, cols),
        "",
        "## Variants",
        "",
        *(f"- **{v.name}**: `{' '.join(v.overrides)}`" for v in cfg.variants),
        "",
        "## Cost",
        "",
        "| Variant | Seed | Train wall s | Load (1 min) after |",
        "| --- | --- | --- | --- |",
        cost,
        "",
        "Per-variant reports and tie-separation plots: `variants/<name>/seed<k>/eval/`.",
        "",
    ]
    paths = {
        "report": out / "ablation.md",
        "results": out / "ablation.json",
        "plot": out / "tie_separation.png",
    }
    paths["report"].write_text("\n".join(md), encoding="utf-8")
    doc = {
        "columns": cols,
        "rows": rows,
        "runs": [
            {
                "variant": r.variant,
                "seed": r.seed,
                "model_dir": str(r.model_dir),
                "wall_s": r.wall_s,
                "load": list(r.load),
                "result": r.result.to_dict(),
            }
            for r in runs
        ],
        "baselines": {k: v.to_dict() for k, v in baselines.items()},
    }
    paths["results"].write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    first_seed = {r.variant: r.result for r in runs if r.seed == cfg.seeds[0]}
    plot_tie_separation(first_seed, paths["plot"])
    return paths


def run_ablation(cfg: RewardAblateConfig, *, oracle: Ceiling | None = None) -> AblationResult:
    """Train every (variant, seed), evaluate on ``test_data``, write the combined table;
    with ``cfg.oracle`` and an ``oracle`` that can score the test pairs, beside its row."""
    _check(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    pairs = load_pairs(cfg.test_data, video_root=cfg.video_root, check_files=True)
    if not pairs:
        raise AblationError(f"{cfg.test_data}: no pairs")
    first = out / "variants" / _slug(cfg.variants[0].name) / f"seed{cfg.seeds[0]}" / "train"
    dims = list(variant_train_config(cfg, cfg.variants[0], cfg.seeds[0], first).dims)
    baselines = _baselines(cfg, pairs, dims, out, oracle)
    runs = [
        _train_and_eval(cfg, v, seed, pairs, dims, out) for v in cfg.variants for seed in cfg.seeds
    ]
    paths = write_ablation(out, cfg, runs, baselines)
    return AblationResult(runs=runs, baselines=baselines, paths=paths)
