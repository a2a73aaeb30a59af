"""Batched text-to-video sampling with per-sample seeds.

Each sample's starting noise comes from its own ``torch.Generator`` seeded with its entry of
``seeds``, drawn on the CPU, so a sample does not depend on the batch it ran in or on the
device. ``sample_seed(seed, index)`` derives those seeds for a prompt list from one run seed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from vidalign.flow import VelocityFn, classifier_free_guidance, euler_sample, time_grid
from vidalign.policy.adapter import Generator
from vidalign.policy.errors import GeneratorError
from vidalign.policy.text import check_prompts

VelocityWrapper = Callable[[VelocityFn], VelocityFn]


def sample_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th sample of a run seeded with ``seed`` (a fixed 63-bit mix)."""
    return (seed * 1_000_003 + index * 7919 + 17) % (2**63 - 1)


def initial_noise(shape: Sequence[int], seeds: Sequence[int]) -> Tensor:
    """(len(seeds), *shape) standard normal noise, row i from ``Generator().manual_seed(seeds[i])``."""
    return torch.stack(
        [torch.randn(tuple(shape), generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    )


@torch.no_grad()
def sample_latents(
    adapter: Generator,
    prompts: Sequence[str],
    seeds: Sequence[int],
    *,
    steps: int | None = None,
    cfg: float | None = None,
    shift: float | None = None,
    num_frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    batch_size: int = 8,
    velocity_wrapper: VelocityWrapper | None = None,
    progress: bool = False,
) -> Tensor:
    """Sample x0 (B, C, F', H', W') float32 on the CPU for each (prompt, seed).

    Args:
        adapter: the generator; its ``defaults`` fill every setting left as None.
        prompts: B prompts. seeds: B seeds, one per sample.
        steps, cfg, shift: Euler steps, CFG scale (1 = off) and timestep shift of the grid.
        num_frames, height, width: decoded clip size.
        batch_size: samples per model call (CFG doubles it internally).
        velocity_wrapper: applied after CFG, e.g. Flow-NRG's reward guidance
            (``wrapper(model) -> model``).
        progress: show a progress bar over batches.
    """
    prompts = check_prompts(prompts)
    if len(seeds) != len(prompts):
        raise GeneratorError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    if batch_size < 1:
        raise GeneratorError(f"batch_size must be at least 1, got {batch_size}")
    d = adapter.defaults
    steps = d.steps if steps is None else steps
    cfg = d.cfg if cfg is None else cfg
    shift = d.shift if shift is None else shift
    shape = adapter.latent_shape(num_frames, height, width)
    grid = time_grid(steps, shift=shift)
    model: VelocityFn = adapter
    if cfg != 1.0:
        model = classifier_free_guidance(model, cfg, adapter.empty_cond)
    if velocity_wrapper is not None:
        model = velocity_wrapper(model)
    device = next(adapter.transformer.parameters()).device
    out = []
    starts = range(0, len(prompts), batch_size)
    for start in tqdm(starts, desc="sample", disable=not progress, dynamic_ncols=True):
        chunk = slice(start, start + batch_size)
        noise = initial_noise(shape, seeds[chunk]).to(device)
        cond = adapter.encode_text(prompts[chunk])
        out.append(euler_sample(model, noise, cond, grid).float().cpu())
    return torch.cat(out) if out else torch.empty(0, *shape)


def sample_videos(
    adapter: Generator,
    prompts: Sequence[str],
    seeds: Sequence[int],
    *,
    steps: int | None = None,
    cfg: float | None = None,
    batch_size: int = 8,
    **kwargs,
) -> Tensor:
    """Sample and decode: uint8 frames (B, F, C, H, W). Arguments as ``sample_latents``."""
    x0 = sample_latents(
        adapter, prompts, seeds, steps=steps, cfg=cfg, batch_size=batch_size, **kwargs
    )
    frames = [adapter.decode(x0[i : i + batch_size]) for i in range(0, x0.shape[0], batch_size)]
    return torch.cat(frames).cpu()


def read_prompt_file(path: str | Path) -> list[str]:
    """Prompts from a ``.txt`` file (one per non-blank line) or ``.jsonl`` (a "prompt" field)."""
    path = Path(path)
    if not path.is_file():
        raise GeneratorError(f"{path}: prompt file not found")
    prompts = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise GeneratorError(f"{path}:{n}: not JSON ({err})") from None
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise GeneratorError(f"{path}:{n}: expected an object with a text 'prompt' field")
            prompts.append(row["prompt"])
        else:
            prompts.append(line.strip())
    if not prompts:
        raise GeneratorError(f"{path}: no prompts in the file")
    return prompts


def sample_to_folder(
    adapter: Generator,
    prompts: Sequence[str],
    out_dir: str | Path,
    *,
    seed: int = 0,
    samples_per_prompt: int = 1,
    steps: int | None = None,
    cfg: float | None = None,
    batch_size: int = 8,
    fps: float | None = None,
    progress: bool = False,
    **kwargs,
) -> list[dict]:
    """Sample every prompt ``samples_per_prompt`` times; write mp4s and ``index.jsonl``.

    Sample ``k`` of prompt ``i`` is number ``j = i·samples_per_prompt + k`` and uses seed
    ``sample_seed(seed, j)``, so files do not depend on ``batch_size``.

    Returns:
        The index rows: ``{"index", "prompt", "seed", "path"}`` (path relative to ``out_dir``).
    """
    from vidalign.video import write_video

    prompts = check_prompts(prompts)
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    fps = adapter.defaults.fps if fps is None else fps
    jobs = [
        (p, i * samples_per_prompt + k)
        for i, p in enumerate(prompts)
        for k in range(samples_per_prompt)
    ]
    rows = []
    bar = tqdm(total=len(jobs), desc="sample", disable=not progress, dynamic_ncols=True)
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        seeds = [sample_seed(seed, j) for _, j in chunk]
        frames = sample_videos(
            adapter,
            [p for p, _ in chunk],
            seeds,
            steps=steps,
            cfg=cfg,
            batch_size=batch_size,
            **kwargs,
        )
        for (prompt, j), s, clip in zip(chunk, seeds, frames):
            rel = f"videos/{j:06d}.mp4"
            write_video(out_dir / rel, clip, fps)
            rows.append({"index": j, "prompt": prompt, "seed": s, "path": rel})
        bar.update(len(chunk))
    bar.close()
    with (out_dir / "index.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return rows
