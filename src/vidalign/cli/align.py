"""``vidalign align``: on-policy pairs, Flow-DPO / Flow-RWR / SFT training, online Flow-GRPO,
LoRA merging."""

from __future__ import annotations

import argparse
from pathlib import Path

from vidalign.cli.recipe import add_recipe_arguments, load_recipe, report_result
from vidalign.config import describe_config


def register(subparsers) -> None:
    from vidalign.align.config import AlignConfig
    from vidalign.align.grpo_config import GRPOConfig

    group = subparsers.add_parser("align", help="align a generator: make-pairs, train, grpo, merge")
    sub = group.add_subparsers(dest="align_command", metavar="COMMAND", required=True)

    m = sub.add_parser(
        "make-pairs",
        help="sample the policy, score the samples, write a pair file + cached latents",
        description="Sample K videos per prompt from the policy, score them with a reward model "
        "(or the synthetic world's oracle) and pair the samples of each prompt, labelled by "
        "their reward differences. OUT gets videos/, latents/ (x0 as safetensors), "
        "scores.jsonl, pairs.csv and make_pairs.json.",
    )
    m.add_argument("--policy", type=Path, required=True, help="generator folder")
    m.add_argument("--lora", type=Path, default=None, help="LoRA to apply to the policy")
    m.add_argument(
        "--reward", required=True, help="reward-model folder, or 'oracle' (synthetic world only)"
    )
    m.add_argument("--prompts", type=Path, required=True, help=".txt (one per line) or .jsonl")
    m.add_argument("--samples-per-prompt", type=int, default=4, help="K, at least 2")
    m.add_argument("--out", type=Path, required=True, help="output folder")
    m.add_argument(
        "--weights", default=None, help="Overall weights, e.g. VQ=1,MQ=1,TA=1 (default) or "
        "VQ=0,MQ=0,TA=1 (TA only)"
    )  # fmt: skip
    m.add_argument("--pairing", choices=["all", "best_worst"], default="all")
    m.add_argument("--margin", type=float, default=0.0, help="drop pairs with |ΔOverall| below")
    m.add_argument("--tie-margin", type=float, default=0.0, help="label |Δ| ≤ this a tie")
    m.add_argument("--seed", type=int, default=0, help="sampling seed")
    m.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's)")
    m.add_argument("--cfg", type=float, default=None, help="CFG scale (default: the model's)")
    m.add_argument("--batch-size", type=int, default=8, help="samples per sampler call")
    m.add_argument("--skip-errors", action="store_true", help="skip unscorable samples, listed "
                   "in OUT/skipped.jsonl")  # fmt: skip
    m.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if any)")
    m.set_defaults(func=run_make_pairs)

    t = sub.add_parser(
        "train",
        help="train a LoRA with Flow-DPO, Flow-RWR or SFT",
        description="Overrides are key=value, e.g. method=rwr beta=500 optim.lr=1e-4.\n\n"
        "Fields:\n" + describe_config(AlignConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(t, "configs/align/")
    t.add_argument("--merge", action="store_true", help="also write OUT/model, LoRA merged")
    t.set_defaults(func=run_train)

    r = sub.add_parser(
        "grpo",
        help="train a LoRA online with Flow-GRPO on reward-model scores",
        description="Sample G videos per prompt with the SDE sampler, score them, normalise the "
        "rewards within each prompt's group and take PPO-clipped steps with a KL to the base. "
        "Overrides are key=value, e.g. group_size=8 reward.sources=[runs/rm] beta=0.04.\n\n"
        "Fields:\n" + describe_config(GRPOConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(r, "configs/align/")
    r.set_defaults(func=run_grpo)

    g = sub.add_parser(
        "merge",
        help="merge a LoRA into its base generator, as a full generator folder",
    )
    g.add_argument("--policy", type=Path, required=True, help="base generator folder")
    g.add_argument("--lora", type=Path, required=True, help="LoRA folder or .safetensors file")
    g.add_argument("--out", type=Path, required=True, help="output generator folder")
    g.set_defaults(func=run_merge)


def run_make_pairs(args: argparse.Namespace) -> int:
    import torch

    from vidalign.align.pairs import make_pairs
    from vidalign.config import parse_weights
    from vidalign.policy.folder import load_generator
    from vidalign.policy.lora import load_lora
    from vidalign.policy.sampling import read_prompt_file

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    adapter = load_generator(args.policy, device=device)
    if args.lora is not None:
        load_lora(adapter.transformer, args.lora)
    if args.reward == "oracle":
        from vidalign.synth.scorers import OracleScorer

        scorer = OracleScorer()
    else:
        from vidalign.reward.scorer import RewardScorer

        scorer = RewardScorer.from_pretrained(args.reward, device=device)
    weights = parse_weights(args.weights) if args.weights else None
    prompts = list(dict.fromkeys(read_prompt_file(args.prompts)))
    result = make_pairs(
        adapter, scorer, prompts, args.out,
        samples_per_prompt=args.samples_per_prompt, weights=weights, pairing=args.pairing,
        margin=args.margin, tie_margin=args.tie_margin, seed=args.seed, steps=args.steps,
        cfg=args.cfg, batch_size=args.batch_size, skip_errors=args.skip_errors,
        settings={"policy": str(args.policy), "lora": str(args.lora) if args.lora else None,
                  "reward": str(args.reward)},
    )  # fmt: skip
    print(
        f"wrote {len(result.pairs)} pairs from {len(result.samples)} samples "
        f"({result.num_skipped} skipped) to {result.pair_file}"
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    from vidalign.align.config import AlignConfig
    from vidalign.align.trainer import train_align
    from vidalign.synth.scorers import named_judges

    if args.merge:
        args.overrides = [*args.overrides, "merge=true"]
    cfg = load_recipe(AlignConfig, args)
    result = train_align(cfg, named_judges=named_judges())
    report_result(result, "the LoRA")
    _print_last(result.history, None)
    if result.model_dir is not None and cfg.merge:
        print(f"saved the merged generator to {Path(cfg.out_dir) / 'model'}")
    return 0


def run_grpo(args: argparse.Namespace) -> int:
    from vidalign.align.grpo import train_grpo
    from vidalign.align.grpo_config import GRPOConfig
    from vidalign.synth.scorers import gold_sources, named_judges

    cfg = load_recipe(GRPOConfig, args)
    result = train_grpo(cfg, gold_sources=gold_sources(), named_judges=named_judges())
    report_result(result, "the LoRA")
    _print_last(result.history, ("reward", "kl"))
    return 0


def _print_last(history: list[dict[str, float]], keys: tuple[str, ...] | None) -> None:
    last = history[-1] if history else {}
    shown = ", ".join(f"{k} {v:.4f}" for k, v in last.items() if keys is None or k in keys)
    if shown:
        print(f"last step: {shown}")


def run_merge(args: argparse.Namespace) -> int:
    from vidalign.align.export import merge_to_folder

    out = merge_to_folder(args.policy, args.lora, args.out)
    print(f"saved the merged generator to {out}")
    return 0
