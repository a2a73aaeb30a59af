"""``vidalign reward``: train and score VideoReward models.

::

    vidalign reward pretrain --config configs/reward/synth_vlm.yaml [key=value ...] [--resume]
    vidalign reward pretrain --config configs/reward/synth_vlm_align.yaml   (second stage)
    vidalign reward train --config configs/reward/synth_small.yaml [key=value ...] [--resume]
    vidalign reward score MODEL --video a.mp4 [--video b.mp4] --prompt "..." [--prompt "..."]
    vidalign reward score MODEL --pairs FILE --out scores.csv [--skip-errors]
    vidalign reward score RELEASED --template FILE [--base-model DIR] [--step N] --video ...
    vidalign reward eval ...   (see vidalign.cli.reward_eval)
    vidalign reward ablate --config configs/reward/ablate_synth.yaml [key=value ...]

``score`` prints one JSON line per video, or with ``--pairs`` writes one CSV row per
unique (video, prompt): ``video, prompt, <dim>..., Overall, <dim>_raw...``. With
``--skip-errors`` a video that fails is listed in ``<out>.skipped.csv`` with the reason
and left out; without it the first failure stops the command.

A folder with ``model_config.json`` is a released VideoReward checkpoint and is loaded with
``vidalign.reward.load_released``. It needs ``--template`` (the release's prompt wording
is its input contract; vidalign does not ship it) and the local Qwen2-VL base folder:
``--base-model``, or else its ``model_name_or_path`` when that names a local folder (as
given, or relative to the released folder or the folder above it).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from vidalign.atomic import atomic_file
from vidalign.cli.recipe import add_recipe_arguments, load_recipe, report_result
from vidalign.config import describe_config, load_config, parse_weights
from vidalign.errors import VidalignError, reason


class CliInputError(VidalignError):
    """Command-line arguments that do not fit together."""


def cmd_train(args: argparse.Namespace) -> int:
    from vidalign.reward.config import RewardTrainConfig
    from vidalign.reward.trainer import train_reward

    result = train_reward(load_recipe(RewardTrainConfig, args))
    report_result(result, "the reward model")
    for k, v in sorted(result.final_metrics.items()):
        print(f"  {k} = {v:.4f}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from vidalign.synth.vlm_pretrain import VLMPretrainConfig, pretrain_vlm

    report_result(pretrain_vlm(load_recipe(VLMPretrainConfig, args)), "the base VLM")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from vidalign.reward.ablate import RewardAblateConfig, run_ablation
    from vidalign.synth.scorers import OracleCeiling

    cfg = load_config(RewardAblateConfig, args.config, list(args.overrides))
    result = run_ablation(cfg, oracle=OracleCeiling())
    print(result.paths["report"].read_text())
    print(f"table: {result.paths['report']} and {result.paths['results']}")
    return 0


def _scorer(args: argparse.Namespace):
    from vidalign.reward.scorer import RewardScorer

    device = args.device or ("cuda" if _cuda() else "cpu")
    if (Path(args.model) / "model_config.json").is_file():
        return _released_scorer(args, device)
    if args.base_model or args.template or args.step is not None:
        raise CliInputError(
            f"{args.model}: --base-model, --template and --step are for released checkpoint "
            "folders (with model_config.json)"
        )
    return RewardScorer.from_pretrained(args.model, device=device, batch_size=args.batch_size)


def _released_base(folder: Path) -> Path:
    """The base folder a released checkpoint names, if it is a local folder."""
    from vidalign.reward.released import read_release_config

    named = (read_release_config(folder).get("model_config") or {}).get("model_name_or_path")
    if not isinstance(named, str) or not named:
        raise CliInputError(
            f"{folder}/model_config.json: no model_config.model_name_or_path; pass --base-model"
        )
    for where in (Path(named), folder / named, folder.parent / named):
        if (where / "config.json").is_file():
            return where
    raise CliInputError(
        f"{folder}/model_config.json: model_name_or_path {named!r} is not a local folder; "
        "pass --base-model DIR"
    )


def _released_scorer(args: argparse.Namespace, device: str):
    import sys

    from vidalign.reward.released import load_released

    folder = Path(args.model)
    if not args.template:
        raise CliInputError(
            f"{folder}: a released checkpoint needs --template FILE, a template of its prompt "
            "({prompt}, {VQ}, {MQ}, {TA} placeholders); vidalign does not ship the release's "
            "wording"
        )
    base = Path(args.base_model) if args.base_model else _released_base(folder)
    if not args.base_model:
        print(f"base model: {base} (from {folder}/model_config.json)", file=sys.stderr)
    scorer = load_released(
        folder, base_model=base, template=args.template, step=args.step, device=device
    )
    scorer.batch_size = args.batch_size
    return scorer


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def cmd_score(args: argparse.Namespace) -> int:
    if args.fps is not None and args.num_frames is not None:
        raise CliInputError("pass --fps or --num-frames, not both")
    if bool(args.pairs) == bool(args.video):
        raise CliInputError("give either --video (with --prompt) or --pairs FILE")
    weights = parse_weights(args.weights) if args.weights else None
    kw: dict[str, Any] = {"fps": args.fps, "num_frames": args.num_frames, "weights": weights}
    kw["normalize"] = not args.raw
    if args.video:
        prompts = args.prompt or []
        if len(prompts) == 1 and len(args.video) > 1:
            prompts = prompts * len(args.video)
        if len(prompts) != len(args.video):
            raise CliInputError(f"{len(args.video)} --video but {len(prompts)} --prompt")
        blank = [i for i, p in enumerate(args.prompt or [], start=1) if not p.strip()]
        if blank:
            raise CliInputError(f"--prompt number {blank[0]} is empty; give the video's prompt")
        scorer = _scorer(args)
        for video, prompt, row in zip(args.video, prompts, scorer.score(args.video, prompts, **kw)):
            print(json.dumps({"video": video, "prompt": prompt, **row}))
        return 0
    if not args.out:
        raise CliInputError("--pairs needs --out FILE.csv")
    return _score_pairs(args, kw)


def _score_pairs(args: argparse.Namespace, kw: dict[str, Any]) -> int:
    from tqdm.auto import tqdm

    from vidalign.data import load_pairs

    pairs = load_pairs(args.pairs, video_root=args.video_root)
    keys = list(
        dict.fromkeys([(p.path_a, p.prompt) for p in pairs] + [(p.path_b, p.prompt) for p in pairs])
    )
    scorer = _scorer(args)
    errors = "report" if args.skip_errors else "raise"
    rows, skipped = [], []
    step = max(1, args.batch_size * 4)
    with tqdm(total=len(keys), desc="score", disable=not args.progress) as bar:
        for start in range(0, len(keys), step):
            chunk = keys[start : start + step]
            out = scorer.score([k[0] for k in chunk], [k[1] for k in chunk], errors=errors, **kw)
            for (video, prompt), row in zip(chunk, out):
                if "error" in row:
                    why = reason(video, row["error"])
                    skipped.append({"video": video, "prompt": prompt, "error": why})
                else:
                    rows.append({"video": video, "prompt": prompt, **row})
            bar.update(len(chunk))
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["video", "prompt", *scorer.dims, "Overall", *[f"{d}_raw" for d in scorer.dims]]
    with atomic_file(out_path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print(f"scored {len(rows)} unique videos of {len(pairs)} pairs -> {out_path}")
    if skipped:
        sk = out_path.with_name(out_path.stem + ".skipped.csv")
        with open(sk, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["video", "prompt", "error"])
            w.writeheader()
            w.writerows(skipped)
        print(f"skipped {len(skipped)} videos (reasons in {sk})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``vidalign reward {pretrain, train, score, eval, ablate}``."""
    from vidalign.reward.ablate import RewardAblateConfig
    from vidalign.reward.config import RewardTrainConfig
    from vidalign.synth.vlm_pretrain import VLMPretrainConfig

    group = subparsers.add_parser("reward", help="train, score and evaluate VideoReward models")
    sub = group.add_subparsers(dest="reward_command", metavar="ACTION")

    pre = sub.add_parser(
        "pretrain",
        help="pre-train the synthetic world's tiny base VLM on rendered clips (one stage)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (override with key=value, nested as a.b=value):\n"
        + describe_config(VLMPretrainConfig),
    )
    add_recipe_arguments(pre, "configs/reward/synth_vlm.yaml")
    pre.set_defaults(func=cmd_pretrain)

    t = sub.add_parser(
        "train",
        help="train a reward model on preference pairs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (override with key=value, nested as a.b=value):\n"
        + describe_config(RewardTrainConfig),
    )
    add_recipe_arguments(t, "configs/reward/*.yaml")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("score", help="score videos against prompts with a trained model")
    s.add_argument("model", help="a vidalign reward model folder, or a released checkpoint folder")
    s.add_argument("--base-model", help="released folder: its local Qwen2-VL base folder")
    s.add_argument("--template", help="released folder: its prompt template file")
    s.add_argument("--step", type=int, help="released folder: checkpoint-<step> (default: last)")
    s.add_argument("--video", action="append", help="video file (repeat for several)")
    s.add_argument("--prompt", action="append", help="prompt (one, or one per --video)")
    s.add_argument("--pairs", help="pair file: score each unique video once")
    s.add_argument("--video-root", help="folder for relative paths in --pairs")
    s.add_argument("--out", help="CSV written with --pairs")
    s.add_argument("--fps", type=float, help="override the model's sampling rate")
    s.add_argument("--num-frames", type=int, help="override with a fixed frame count")
    s.add_argument("--raw", action="store_true", help="report raw rewards, not z-scores")
    s.add_argument("--weights", help="Overall weights, e.g. VQ=1,MQ=1,TA=0")
    s.add_argument("--batch-size", type=int, default=8, help="videos per forward pass")
    s.add_argument("--device", help="cpu / cuda (default: cuda when available)")
    s.add_argument("--skip-errors", action="store_true", help="skip failing videos, list them")
    s.add_argument("--no-progress", dest="progress", action="store_false", help="hide the bar")
    s.set_defaults(func=cmd_score)

    a = sub.add_parser(
        "ablate",
        help="train reward-model variants on one data set and tabulate them (Table 3)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (override with key=value):\n" + describe_config(RewardAblateConfig),
    )
    add_recipe_arguments(a, "configs/reward/ablate_synth.yaml", resume=False)
    a.set_defaults(func=cmd_ablate)

    from vidalign.cli.reward_eval import add_eval_parser

    add_eval_parser(sub)
