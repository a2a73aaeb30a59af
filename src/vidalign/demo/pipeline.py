"""``vidalign demo``: the paper's whole experiment, in miniature, on the synthetic world.

Stages (each cached under ``<out>/<stage>/``, see ``vidalign.demo.stages``):

1. ``dataset``      preference pairs from the twelve synthetic generators (Table 1);
   ``vlm``          the base VLM: the shipped one named by ``base_vlm``, or (when the
                    recipe has a ``vlm`` section) a tiny Qwen2-VL pre-trained on rendered
                    clips to caption them and measure their defects;
   ``vlm_align``    (with a ``vlm_align`` section and no ``base_vlm``) its second stage,
                    from the first one's model: it learns to check a description against
                    a clip;
2. ``reward``       VideoReward (Qwen2-VL, BTT, separate tokens) on the train split, from
                    the last base-VLM stage when there is one;
3. ``reward_eval``  its accuracy with and without ties against Random and the oracle (Table 2);
4. ``policy``       the base generator: the shipped one named by ``base_generator``, or one
                    pre-trained on the synthetic generators' clips by the ``policy`` section;
5. ``pairs``        on-policy pairs: base samples scored by the reward model, VQ:MQ:TA = 1:1:1;
   ``pairs_gold``   (when the recipe lists ``gold`` methods) the same samples labelled by the
                    oracle, and the reward model's accuracy on them, per dimension;
6. ``align_*``      SFT, Flow-RWR, Flow-DPO (β_t) and Flow-DPO (constant β), each a LoRA;
   ``align_grpo``   (with a ``grpo`` section) online Flow-GRPO on the same prompts, rewarded
                    by the reward model;
   ``align_gold_*`` the ``gold`` methods again on the oracle's labels (GRPO: the oracle as
                    its reward): the control arm that says what the alignment itself does
                    when the reward is perfect;
7. ``latent_rm``    the noise-aware latent reward model of Flow-NRG, on the same pairs;
8. ``evaluate``     samples of every method on the general and hard prompt sets, win rates
                    against the base model judged by the reward model and by the oracle,
                    oracle metrics, the reward-hacking curves, and the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vidalign.config import config_from_dict
from vidalign.demo.arms import ALIGN_METHODS, GOLD_PREFIX, align_arms
from vidalign.demo.config import DemoConfig
from vidalign.demo.evaluate import evaluate_stage
from vidalign.demo.stages import Stage, run_stages, stage_summary
from vidalign.synth.oracle import ORACLE_VERSION


def _dataset_stage(cfg: DemoConfig) -> Stage:
    d = cfg.dataset

    def run(folder: Path) -> dict[str, Any]:
        from vidalign.synth.dataset import build_dataset
        from vidalign.synth.stats import dataset_stats

        build_dataset(
            folder,
            num_prompts=d.prompts,
            pairs_per_prompt=d.pairs_per_prompt,
            seed=cfg.seed,
            size=d.size,
            num_frames=d.num_frames,
            fps=d.fps,
            eval_prompts=d.eval_prompts,
            hard_prompts=d.hard_prompts,
            workers=d.workers,
            exclude_eval=base_training_prompts(cfg),
        )
        stats = dataset_stats(folder)
        return {
            "pairs": stats.pairs,
            "generators": {k: list(v) for k, v in stats.generators.items()},
            "eras": stats.eras,
            "tie_rates": stats.tie_rates,
            "ceiling": {k: list(v) for k, v in stats.ceiling.items()},
        }

    return Stage(
        "dataset",
        run,
        {
            "dataset": {k: v for k, v in vars(d).items() if k != "workers"},  # output-neutral
            "seed": cfg.seed,
            "oracle": ORACLE_VERSION,
            "eval_excludes": base_training_data(cfg),
        },
        [],
        _est(cfg, "dataset"),
    )


def _shipped_vlm_stage(cfg: DemoConfig) -> Stage:
    """``vlm`` when ``base_vlm`` names a shipped base VLM: its folder, nothing trained."""
    from vidalign.builtin import builtin_model, read_card

    model_dir = builtin_model("vlm", cfg.base_vlm)
    card = read_card(model_dir)

    def run(folder: Path) -> dict[str, Any]:
        return {"model_dir": str(model_dir), "builtin": card["name"],
                "card_metrics": card["metrics"]["measured"]}  # fmt: skip

    return Stage("vlm", run, {"builtin": cfg.base_vlm, "files": card["files"]}, [], 1.0)


def _vlm_stages(cfg: DemoConfig, out: Path) -> list[Stage]:
    """The base-VLM stages: the shipped one, or those the recipe pre-trains."""
    if cfg.base_vlm:
        return [_shipped_vlm_stage(cfg)]
    return [_vlm_stage(cfg, out, n) for n in ("vlm", "vlm_align") if getattr(cfg, n)]


def _vlm_stage(cfg: DemoConfig, out: Path, name: str) -> Stage:
    """``vlm`` (from scratch) or ``vlm_align`` (from ``vlm``'s model)."""
    section = getattr(cfg, name)

    def run(folder: Path) -> dict[str, Any]:
        from vidalign.synth.vlm_pretrain import VLMPretrainConfig, pretrain_vlm

        data = {**section, "out_dir": str(folder / "run"), "seed": cfg.seed}
        if name == "vlm_align":
            data["init_model"] = stage_summary(out, "vlm")["model_dir"]
        result = pretrain_vlm(config_from_dict(VLMPretrainConfig, data, where=f"demo {name}"))
        return {"model_dir": str(result.model_dir), "metrics": result.final_metrics}

    needs = ["vlm"] if name == "vlm_align" else []
    return Stage(name, run, {name: section, "seed": cfg.seed}, needs, _est(cfg, name))


def _base_stage(cfg: DemoConfig) -> str | None:
    """The base-VLM stage the reward model starts from, if any."""
    if cfg.base_vlm:
        return "vlm"
    if cfg.vlm_align and not cfg.vlm:
        raise ValueError("demo recipe: a vlm_align section needs a vlm section to start from")
    return "vlm_align" if cfg.vlm_align else "vlm" if cfg.vlm else None


def _reward_stage(cfg: DemoConfig, out: Path) -> Stage:
    ds = out / "dataset"

    def run(folder: Path) -> dict[str, Any]:
        from vidalign.reward.config import RewardTrainConfig
        from vidalign.reward.trainer import train_reward

        data = {
            **cfg.reward,
            "train_data": str(ds / "train.csv"),
            "val_data": str(ds / "val.csv"),
            "out_dir": str(folder / "run"),
            "seed": cfg.seed,
        }
        if base is not None:
            data["base_model"] = stage_summary(out, base)["model_dir"]
        result = train_reward(config_from_dict(RewardTrainConfig, data, where="demo reward"))
        return {"model_dir": str(result.model_dir), "last_eval": result.final_metrics}

    base = _base_stage(cfg)
    needs = ["dataset", base] if base else ["dataset"]
    return Stage("reward", run, {"reward": cfg.reward, "seed": cfg.seed}, needs,
                 _est(cfg, "reward"))  # fmt: skip


def _reward_eval_stage(cfg: DemoConfig, out: Path) -> Stage:
    def run(folder: Path) -> dict[str, Any]:
        from vidalign.eval.reward_eval_run import RewardEvalConfig, run_reward_eval
        from vidalign.eval.reward_report import accuracy_table
        from vidalign.synth.scorers import OracleCeiling

        result = run_reward_eval(
            RewardEvalConfig(
                model=stage_summary(out, "reward")["model_dir"],
                data=str(out / "dataset" / "test.csv"),
                out=str(folder),
                seed=cfg.seed,
            ),
            oracle=OracleCeiling(),
        )
        return {"table": accuracy_table(result.results), "notes": result.notes}

    return Stage("reward_eval", run, {"seed": cfg.seed}, ["dataset", "reward"],
                 _est(cfg, "reward_eval"))  # fmt: skip


def _base_identity(cfg: DemoConfig) -> dict[str, Any]:
    """What fixes the base generator: the shipped one's weights, or the pre-training recipe."""
    if cfg.base_generator:
        from vidalign.builtin import builtin_model, read_card

        card = read_card(builtin_model("generator", cfg.base_generator))
        return {"builtin": cfg.base_generator, "files": card["files"]}
    return {"policy": cfg.policy, "seed": cfg.seed}


def base_training_data(cfg: DemoConfig) -> dict[str, int] | None:
    """``{"num_prompts", "seed"}`` of the demo's base generator's training prompts."""
    from vidalign.synth.generator_config import PretrainConfig

    if cfg.base_generator:
        from vidalign.builtin import builtin_model, read_card

        data = read_card(builtin_model("generator", cfg.base_generator))["training_data"]
        return {"num_prompts": data["num_prompts"], "seed": data["seed"]} if data else None
    pre = config_from_dict(PretrainConfig, {**cfg.policy, "seed": cfg.seed}, where="demo policy")
    return {"num_prompts": pre.data.num_prompts, "seed": pre.data.seed}


def base_training_prompts(cfg: DemoConfig) -> list[str]:
    """The prompts the demo's base generator was trained on: never held out for evaluation."""
    from vidalign.synth.generator_data import training_prompts

    data = base_training_data(cfg)
    return training_prompts(data["num_prompts"], data["seed"]) if data else []


def _policy_stage(cfg: DemoConfig) -> Stage:
    def run(folder: Path) -> dict[str, Any]:
        from vidalign.synth.generator_config import PretrainConfig
        from vidalign.synth.generator_pretrain import pretrain

        if cfg.base_generator:
            from vidalign.builtin import builtin_model, read_card

            model_dir = builtin_model("generator", cfg.base_generator)
            card = read_card(model_dir)
            return {"model_dir": str(model_dir), "builtin": card["name"],
                    "card_metrics": card["metrics"]}  # fmt: skip
        data = {**cfg.policy, "out_dir": str(folder / "run"), "seed": cfg.seed}
        result = pretrain(config_from_dict(PretrainConfig, data, where="demo policy"))
        tail = [row["loss"] for row in result.history[-20:]]
        return {
            "model_dir": str(result.model_dir),
            "final_loss": sum(tail) / max(1, len(tail)),
        }

    estimate = 1.0 if cfg.base_generator else _est(cfg, "policy")
    return Stage("policy", run, _base_identity(cfg), [], estimate)


def _split_prompts(dataset: Path, split: str = "train") -> list[str]:
    """Distinct prompts of a split; train holds the alignment prompts, disjoint from evaluation."""
    from vidalign.data import load_pairs

    seen: dict[str, None] = {}
    for pair in load_pairs(dataset / f"{split}.csv"):
        seen.setdefault(pair.prompt, None)
    return list(seen)


def _pairs_stage(cfg: DemoConfig, out: Path) -> Stage:
    def run(folder: Path) -> dict[str, Any]:
        from vidalign.align.pairs import make_pairs, tie_rates
        from vidalign.policy.folder import load_generator
        from vidalign.reward import RewardScorer

        settings = dict(cfg.pairs)
        n_prompts = settings.pop("prompts", None)
        n_val = settings.pop("val_prompts", 0)
        prompts = _split_prompts(out / "dataset")[:n_prompts]
        adapter = load_generator(stage_summary(out, "policy")["model_dir"])
        scorer = RewardScorer.from_pretrained(stage_summary(out, "reward")["model_dir"])
        result = make_pairs(adapter, scorer, prompts, folder, seed=cfg.seed, **settings)
        val_file = None
        if n_val:  # held-out pairs for the latent reward model's accuracy by noise level
            val_prompts = _split_prompts(out / "dataset", "val")[:n_val]
            val = make_pairs(adapter, scorer, val_prompts, folder / "val", seed=cfg.seed + 1,
                             **settings)  # fmt: skip
            val_file = str(val.pair_file)
        return {
            "pair_file": str(result.pair_file),
            "val_pair_file": val_file,
            "samples": len(result.samples),
            "pairs": len(result.pairs),
            "prompts": len(prompts),
            "tie_rate": tie_rates(result.pairs),
        }

    return Stage("pairs", run, {"pairs": cfg.pairs, "seed": cfg.seed},
                 ["dataset", "policy", "reward"], _est(cfg, "pairs"))  # fmt: skip


def _gold_pairs_stage(cfg: DemoConfig, out: Path) -> Stage:
    def run(folder: Path) -> dict[str, Any]:
        from vidalign.align.pairs import proxy_accuracy, relabel_pairs, tie_rates
        from vidalign.synth.scorers import OracleScorer

        settings = {k: v for k, v in cfg.pairs.items() if k in _PAIRING_KEYS}
        src = Path(stage_summary(out, "pairs")["pair_file"]).parent
        result = relabel_pairs(src, OracleScorer(), folder, seed=cfg.seed, **settings)
        return {
            "pair_file": str(result.pair_file),
            "pairs": len(result.pairs),
            "tie_rate": tie_rates(result.pairs),
            "proxy_accuracy": proxy_accuracy(src, folder),
        }

    return Stage("pairs_gold", run,
                 {"pairs": cfg.pairs, "seed": cfg.seed, "oracle": ORACLE_VERSION}, ["pairs"],
                 _est(cfg, "pairs_gold"))  # fmt: skip


_PAIRING_KEYS = ("weights", "pairing", "margin", "tie_margin")
"""Settings of the pairs stage that decide the pairing, so the gold pairs are paired alike."""


def _first_last_fifth(history: list[dict[str, float]]):
    """``fifths(key, name=key)`` → ``{name_first, name_last}``: the mean of ``key`` over the
    first and the last fifth of a trainer's logged steps (None where it was not logged)."""
    n = max(1, len(history) // 5)

    def mean(rows: list[dict[str, float]], key: str) -> float | None:
        vals = [r[key] for r in rows if key in r]
        return sum(vals) / len(vals) if vals else None

    def fifths(key: str, name: str | None = None) -> dict[str, float | None]:
        name = name or key
        return {f"{name}_first": mean(history[:n], key), f"{name}_last": mean(history[-n:], key)}

    return fifths


def _align_stage(cfg: DemoConfig, out: Path, arm: str) -> Stage:
    gold = arm.startswith(GOLD_PREFIX)
    method = arm[len(GOLD_PREFIX) :] if gold else arm
    pairs_stage = "pairs_gold" if gold else "pairs"
    overrides = cfg.align[method]

    def run(folder: Path) -> dict[str, Any]:
        from vidalign.align.config import AlignConfig
        from vidalign.align.trainer import train_align
        from vidalign.synth.scorers import named_judges

        data = {
            **overrides,
            "policy": stage_summary(out, "policy")["model_dir"],
            "pairs": stage_summary(out, pairs_stage)["pair_file"],
            "out_dir": str(folder / "run"),
            "seed": cfg.seed,
        }
        if overrides.get("monitor", {}).get("every", 0) > 0:
            # The proxy is the reward model the pairs were labelled with; gold is the oracle.
            data["monitor"] = {
                **overrides["monitor"],
                "proxy": stage_summary(out, "reward")["model_dir"],
            }
        acfg = config_from_dict(AlignConfig, data, where=f"demo align.{arm}")
        result = train_align(acfg, named_judges=named_judges())
        fifths = _first_last_fifth(result.history)
        return {
            "lora_dir": str(result.model_dir),
            "steps": result.steps,
            **fifths("loss"),
            **fifths("implicit_acc", "acc"),
        }

    return Stage(f"align_{arm}", run, {"align": overrides, "seed": cfg.seed},
                 ["policy", pairs_stage, "reward"], _est(cfg, f"align_{arm}"))  # fmt: skip


def _grpo_stage(cfg: DemoConfig, out: Path, arm: str) -> Stage:
    """Online Flow-GRPO on the pairs stage's prompts; the gold twin's reward is the oracle."""
    gold = arm.startswith(GOLD_PREFIX)
    n_prompts = cfg.pairs.get("prompts")

    def run(folder: Path) -> dict[str, Any]:
        from vidalign.align.grpo import train_grpo
        from vidalign.align.grpo_config import GRPOConfig
        from vidalign.synth.scorers import gold_sources, named_judges

        prompts = _split_prompts(out / "dataset")[:n_prompts]
        prompt_file = folder / "prompts.txt"
        prompt_file.write_text("\n".join(prompts) + "\n")
        reward_dir = stage_summary(out, "reward")["model_dir"]
        reward = {**cfg.grpo.get("reward", {}), "sources": ["oracle" if gold else reward_dir]}
        data = {
            **cfg.grpo,
            "policy": stage_summary(out, "policy")["model_dir"],
            "prompts": str(prompt_file),
            "out_dir": str(folder / "run"),
            "seed": cfg.seed,
            "gold_control": gold,
            "reward": reward,
        }
        if cfg.grpo.get("monitor", {}).get("every", 0) > 0:
            data["monitor"] = {**cfg.grpo["monitor"], "proxy": reward_dir}
        gcfg = config_from_dict(GRPOConfig, data, where=f"demo grpo ({arm})")
        result = train_grpo(gcfg, gold_sources=gold_sources(), named_judges=named_judges())
        fifths = _first_last_fifth(result.history)
        return {
            "lora_dir": str(result.model_dir),
            "steps": result.steps,
            **fifths("loss"),
            "acc_first": None,
            "acc_last": None,
            **fifths("reward"),
        }

    settings = {"grpo": cfg.grpo, "seed": cfg.seed, "prompts": n_prompts, "gold": gold,
                "oracle": ORACLE_VERSION if gold else None}  # fmt: skip
    return Stage(f"align_{arm}", run, settings, ["dataset", "policy", "reward"],
                 _est(cfg, f"align_{arm}"))  # fmt: skip


def _latent_rm_stage(cfg: DemoConfig, out: Path) -> Stage:
    def run(folder: Path) -> dict[str, Any]:
        from vidalign.guidance.config import LatentRMConfig
        from vidalign.guidance.trainer import EVAL_FILE, train_latent_rm

        if cfg.latent_rm_data == "dataset":
            train, val = str(out / "dataset" / "train.csv"), str(out / "dataset" / "val.csv")
        else:
            pairs = stage_summary(out, "pairs")
            train, val = pairs["pair_file"], pairs.get("val_pair_file") or ""
        data = {
            **cfg.guidance,
            "generator": stage_summary(out, "policy")["model_dir"],
            "train_data": train,
            "val_data": val,
            "out_dir": str(folder / "run"),
            "seed": cfg.seed,
        }
        result = train_latent_rm(config_from_dict(LatentRMConfig, data, where="demo guidance"))
        table = result.out_dir / EVAL_FILE
        accuracy = json.loads(table.read_text()) if table.is_file() else []
        return {
            "model_dir": str(result.model_dir),
            "accuracy": accuracy,
            "data": cfg.latent_rm_data,
        }

    return Stage("latent_rm", run,
                 {"guidance": cfg.guidance, "seed": cfg.seed, "data": cfg.latent_rm_data},
                 ["policy", cfg.latent_rm_data], _est(cfg, "latent_rm"))  # fmt: skip


def _est(cfg: DemoConfig, name: str) -> float:
    return float(cfg.estimates.get(name, 60.0))


def build_stages(cfg: DemoConfig, out: Path) -> list[Stage]:
    """The demo's stages in order (see the module docstring)."""
    missing = [m for m in ALIGN_METHODS if m not in cfg.align]
    if missing:
        raise ValueError(f"demo recipe: align section lacks {missing}")
    known = [*ALIGN_METHODS, *(["grpo"] if cfg.grpo else [])]
    unknown = [m for m in cfg.gold if m not in known]
    if unknown:
        raise ValueError(f"demo recipe: gold lists {unknown}; choose from {known}")
    stages = [
        _dataset_stage(cfg),
        *_vlm_stages(cfg, out),
        _reward_stage(cfg, out),
        _reward_eval_stage(cfg, out),
        _policy_stage(cfg),
        _pairs_stage(cfg, out),
        *([_gold_pairs_stage(cfg, out)] if cfg.gold else []),
        *(
            _grpo_stage(cfg, out, m) if m.endswith("grpo") else _align_stage(cfg, out, m)
            for m in align_arms(cfg)
        ),
        _latent_rm_stage(cfg, out),
    ]
    stages.append(evaluate_stage(cfg, out, [s.name for s in stages]))
    return stages


def run_demo(cfg: DemoConfig, out: Path) -> dict[str, dict[str, Any]]:
    """Run (or resume) every stage; returns the stage summaries."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_config.json").write_text(json.dumps(vars(cfg), default=vars, indent=2))
    return run_stages(build_stages(cfg, out), out)
