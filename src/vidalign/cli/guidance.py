"""``vidalign guidance``: train a latent reward model, evaluate it, run the Flow-NRG ablation.

Guided sampling itself is a set of flags of ``vidalign sample`` (``add_sampling_arguments``
and ``velocity_wrapper_from_args`` below).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidalign.cli.recipe import add_recipe_arguments, load_recipe, report_result
from vidalign.config import describe_config


def register(subparsers) -> None:
    from vidalign.guidance.config import LatentRMConfig
    from vidalign.synth.guidance_ablate import AblateConfig

    group = subparsers.add_parser("guidance", help="Flow-NRG: latent reward model, ablation")
    sub = group.add_subparsers(dest="guidance_command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "train",
        help="train a noise-aware latent reward model on preference pairs",
        description="BTT training of a reward model built from the generator's first K blocks, "
        "on pairs noised with a shared t and noise. Overrides are key=value, e.g. steps=200 "
        "variant=clean.\n\nFields:\n" + describe_config(LatentRMConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(p, "configs/guidance/")
    p.set_defaults(func=run_train)

    e = sub.add_parser(
        "evaluate",
        help="accuracy with and without ties of a latent reward model, binned by t",
        description="Noise held-out pairs with a shared t and noise and score the margins.",
    )
    e.add_argument("model", type=Path, help="latent reward model folder")
    e.add_argument("--generator", type=Path, required=True, help="generator folder (codec, text)")
    e.add_argument("--data", type=Path, required=True, help="pair file")
    e.add_argument("--video-root", type=Path, default=None, help="root of relative video paths")
    e.add_argument("--bins", type=int, default=5, help="equal-width t bins")
    e.add_argument("--draws", type=int, default=8, help="noise levels per pair")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=run_evaluate)

    a = sub.add_parser(
        "ablate",
        help="Table 6/7 analogues on the synthetic world",
        description="Label the generator's own samples with the synthetic annotators, train a "
        "noised and a clean latent reward model, then compare MQ-only guidance with each and a "
        "sweep of VQ:MQ:TA weights: oracle scores and win rates against unguided samples of "
        "the same seeds.\n\nFields:\n" + describe_config(AblateConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_recipe_arguments(a, "configs/guidance/", resume=False)
    a.set_defaults(func=run_ablate)


def add_sampling_arguments(p: argparse.ArgumentParser) -> None:
    """The guided-sampling flags of ``vidalign sample``."""
    g = p.add_argument_group("reward guidance (Flow-NRG)")
    g.add_argument("--guidance", type=Path, default=None, help="latent reward model folder")
    g.add_argument("--guidance-scale", type=float, default=1.0, help="w (0 = unguided)")
    g.add_argument(
        "--guidance-weights",
        default="",
        help="λ per dimension, e.g. VQ=0.5,MQ=0.5,TA=0 (default: all 1)",
    )
    g.add_argument(
        "--guidance-window", default="0,1", help="t_min,t_max: guide only steps with t inside"
    )
    g.add_argument("--guidance-max-ratio", type=float, default=5.0, help="cap c on t/(1-t)")


def velocity_wrapper_from_args(args: argparse.Namespace, adapter):
    """The Flow-NRG wrapper the sampling flags ask for, or None without ``--guidance``."""
    if getattr(args, "guidance", None) is None:
        return None
    from vidalign.config import parse_weights
    from vidalign.guidance import (
        GuidanceSettings,
        LatentRewardError,
        load_latent_reward,
        reward_guidance,
    )

    try:
        t_min, t_max = (float(v) for v in args.guidance_window.split(","))
    except ValueError:
        raise LatentRewardError(
            f"--guidance-window {args.guidance_window!r}: expected t_min,t_max, e.g. 0,0.8"
        ) from None
    settings = GuidanceSettings(
        scale=args.guidance_scale,
        weights=parse_weights(args.guidance_weights) if args.guidance_weights else {},
        t_min=t_min, t_max=t_max, max_ratio=args.guidance_max_ratio,
    )  # fmt: skip
    rm = load_latent_reward(args.guidance, device=adapter.device, for_guidance=True)
    if rm.in_channels != adapter.in_channels or rm.text_dim != adapter.text.dim:
        raise LatentRewardError(
            f"{args.guidance}: reads {rm.in_channels}-channel inputs and {rm.text_dim}-wide text, "
            f"the generator's transformer {adapter.in_channels} and {adapter.text.dim}"
        )
    return lambda model: reward_guidance(model, rm, settings)


def run_train(args: argparse.Namespace) -> int:
    from vidalign.guidance.config import LatentRMConfig
    from vidalign.guidance.evaluate import format_accuracy, read_accuracy
    from vidalign.guidance.trainer import EVAL_FILE, train_latent_rm

    result = train_latent_rm(load_recipe(LatentRMConfig, args))
    table = result.out_dir / EVAL_FILE
    if result.model_dir is not None and table.is_file():
        print(format_accuracy(read_accuracy(table)))
    report_result(result, "the latent reward model")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from vidalign.data import load_pairs
    from vidalign.guidance import load_latent_reward
    from vidalign.guidance.data import encode_pairs
    from vidalign.guidance.evaluate import binned_accuracy, format_accuracy
    from vidalign.policy.folder import load_generator

    rm = load_latent_reward(args.model)
    adapter = load_generator(args.generator)
    pairs = load_pairs(args.data, rm.dims, video_root=args.video_root)
    data = encode_pairs(pairs, adapter, rm.dims, progress=True)
    rows = binned_accuracy(rm, data, bins=args.bins, draws=args.draws, seed=args.seed)
    print(format_accuracy(rows))
    return 0


def run_ablate(args: argparse.Namespace) -> int:
    from vidalign.config import load_config
    from vidalign.synth.guidance_ablate import AblateConfig, format_results, run_ablation

    cfg = load_config(AblateConfig, args.config, args.overrides)
    print(format_results(run_ablation(cfg)))
    print(f"wrote {Path(cfg.out_dir) / 'results.json'}")
    return 0
