"""``vidalign sample``: text-to-video samples from a generator folder (optionally with a LoRA)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vidalign.cli.guidance import add_sampling_arguments, velocity_wrapper_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sample",
        help="sample videos from a generator",
        description="Write one mp4 per (prompt, sample) into OUT/videos and OUT/index.jsonl "
        "(index, prompt, seed, path). Each sample's noise is seeded from (--seed, its index), "
        "so results do not depend on --batch-size.",
    )
    p.add_argument("model", type=Path, help="generator folder (vidalign or diffusers Wan2.1)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompts", type=Path, help="prompt file: .txt (one per line) or .jsonl")
    src.add_argument("--prompt", help="a single prompt")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's)")
    p.add_argument("--cfg", type=float, default=None, help="CFG scale (default: the model's)")
    p.add_argument("--shift", type=float, default=None, help="timestep shift of the time grid")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--samples-per-prompt", type=int, default=1, help="samples of each prompt")
    p.add_argument("--lora", type=Path, default=None, help="LoRA folder or .safetensors to apply")
    p.add_argument("--batch-size", type=int, default=8, help="samples per model call")
    p.add_argument("--fps", type=float, default=None, help="fps of the written mp4s")
    p.add_argument("--num-frames", type=int, default=None, help="frames (default: the model's)")
    p.add_argument("--height", type=int, default=None, help="height (default: the model's)")
    p.add_argument("--width", type=int, default=None, help="width (default: the model's)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if any)")
    add_sampling_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from vidalign.policy.folder import load_generator
    from vidalign.policy.lora import load_lora
    from vidalign.policy.sampling import read_prompt_file, sample_to_folder

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    adapter = load_generator(args.model, device=device, dtype=dtype)
    if args.lora is not None:
        load_lora(adapter.transformer, args.lora)
    prompts = [args.prompt] if args.prompt is not None else read_prompt_file(args.prompts)
    rows = sample_to_folder(
        adapter,
        prompts,
        args.out,
        seed=args.seed,
        samples_per_prompt=args.samples_per_prompt,
        steps=args.steps,
        cfg=args.cfg,
        shift=args.shift,
        batch_size=args.batch_size,
        fps=args.fps,
        num_frames=args.num_frames,
        height=args.height,
        width=args.width,
        velocity_wrapper=velocity_wrapper_from_args(args, adapter),
        progress=True,
    )
    print(f"wrote {len(rows)} videos and {args.out / 'index.jsonl'}")
    return 0
