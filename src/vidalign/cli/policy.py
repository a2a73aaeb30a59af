"""``vidalign policy``: pre-train the synthetic world's base generator and evaluate generators."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidalign.cli.package import DESCRIPTION as PACKAGE_DESCRIPTION
from vidalign.cli.package import add_package_arguments
from vidalign.cli.recipe import add_recipe_arguments, load_recipe, report_result
from vidalign.config import describe_config


def register(subparsers) -> None:
    from vidalign.synth.generator_config import PretrainConfig
    from vidalign.synth.steering import ATTRIBUTES

    group = subparsers.add_parser("policy", help="base generator: pre-train, evaluate")
    sub = group.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "pretrain",
        help="train the synthetic world's base generator from scratch",
        description="Flow-matching pre-training of a pixel-space Wan transformer on clips from "
        "the synthetic world's generator profiles. Overrides are key=value, e.g. steps=200 "
        "optim.lr=5e-4.\n\nFields:\n" + describe_config(PretrainConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(p, "configs/policy/")
    p.set_defaults(func=run_pretrain)

    e = sub.add_parser(
        "evaluate",
        help="oracle scores of a generator's samples vs the clean renderer",
        description="Sample N prompts of the synthetic world and print the oracle's mean VQ/MQ/TA "
        "and colour / shape / direction accuracy of the generator next to the clean renderer.",
    )
    e.add_argument("model", type=Path, help="generator folder")
    e.add_argument("--prompts", type=int, default=64, help="number of prompts")
    e.add_argument("--prompt-set", choices=["general", "hard"], default="general")
    e.add_argument("--prompt-seed", type=int, default=12345, help="seed of the prompt draw")
    e.add_argument("--seed", type=int, default=0, help="sampling seed")
    e.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's)")
    e.add_argument("--cfg", type=float, default=None, help="CFG scale (default: the model's)")
    e.add_argument("--lora", type=Path, default=None, help="LoRA to apply")
    e.add_argument("--batch-size", type=int, default=16)
    e.add_argument("--out", type=Path, default=None, help="also write samples + results.json")
    e.add_argument(
        "--steering",
        nargs="+",
        choices=ATTRIBUTES,
        default=[],
        metavar="ATTR",
        help="also rewrite each one-object prompt with every word of these attributes (colour, "
        "shape, direction), sample each with the prompt's seed and report how often the word "
        "is read back: does the word steer the samples?",
    )
    e.set_defaults(func=run_evaluate)

    k = sub.add_parser(
        "package",
        help="copy a trained generator into a shippable folder with its model card",
        description="`vidalign package generator`: " + PACKAGE_DESCRIPTION,
    )
    add_package_arguments(k)
    k.set_defaults(kind="generator")


def run_pretrain(args: argparse.Namespace) -> int:
    from vidalign.synth.generator_config import PretrainConfig
    from vidalign.synth.generator_pretrain import pretrain

    report_result(pretrain(load_recipe(PretrainConfig, args)), "the generator")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    import torch

    from vidalign.policy.folder import META_FILE, load_generator
    from vidalign.policy.lora import load_lora
    from vidalign.synth.generator_data import training_prompts
    from vidalign.synth.generator_eval import evaluate_generator, format_report

    device = "cuda" if torch.cuda.is_available() else "cpu"
    adapter = load_generator(args.model, device=device)
    if args.lora is not None:
        load_lora(adapter.transformer, args.lora)
    exclude: list[str] = []
    meta_file = args.model / META_FILE
    data = json.loads(meta_file.read_text()).get("data") if meta_file.is_file() else None
    if data:  # never evaluate on the prompts the model was trained on
        exclude = training_prompts(data["num_prompts"], data["seed"])
    report = evaluate_generator(
        adapter,
        num_prompts=args.prompts,
        prompt_set=args.prompt_set,
        prompt_seed=args.prompt_seed,
        seed=args.seed,
        steps=args.steps,
        cfg=args.cfg,
        batch_size=args.batch_size,
        exclude=exclude,
        steering=args.steering,
        out_dir=args.out,
    )
    print(format_report(report))
    if exclude:
        print(f"(the {len(exclude)} training prompts were excluded from the draw)")
    return 0
