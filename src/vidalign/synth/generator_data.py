"""Pre-training data from the synthetic world: a fixed, seeded cache of rendered clips.

Clip ``i`` shows training prompt ``i mod num_prompts`` as rendered by generator profile
``profiles[i mod len(profiles)]`` (cycled over a seeded permutation of clips), with seed
``(seed, i)``. The mix of good and bad profiles is deliberate: like web-scale data, it gives
alignment room to improve the base model. The cache is rendered once per run (rendering is
cheaper than a training step but not free) and stored in ``run_dir/data/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

from vidalign.checkpoint import atomic_dir
from vidalign.policy.errors import GeneratorError
from vidalign.synth.profiles import PROFILES, sample_clip
from vidalign.synth.prompts import general_prompts
from vidalign.synth.scenes import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, SIZES
from vidalign.weights import load_safetensors


def profile_names() -> list[str]:
    """Names of the synthetic world's generator profiles, in their defined order."""
    if isinstance(PROFILES, dict):
        return list(PROFILES)
    return [p if isinstance(p, str) else p.name for p in PROFILES]


def training_prompts(num_prompts: int, seed: int) -> list[str]:
    return list(general_prompts(num_prompts, seed))


def vocabulary_texts() -> list[str]:
    """Texts holding every word of the prompt grammar (vocabularies plus its fixed words)."""
    words = [*SHAPES, *COLOURS, *BACKGROUNDS, *SIZES, *MOTIONS]
    return [" ".join(words), "a and on background"]


def _clip_seed(seed: int, i: int) -> int:
    return (seed * 1_000_003 + i) % (2**31 - 1)


def render_clips(
    prompts: list[str],
    profiles: list[str],
    num_clips: int,
    *,
    seed: int,
    size: int,
    num_frames: int,
    fps: float,
    progress: bool = True,
) -> tuple[torch.Tensor, list[str], list[str]]:
    """Render ``num_clips`` clips: uint8 (N, F, C, H, W), their prompts and profile names."""
    table = PROFILES if isinstance(PROFILES, dict) else None
    unknown = [p for p in profiles if p not in profile_names()]
    if unknown:
        raise GeneratorError(f"unknown generator profiles {unknown}; known: {profile_names()}")
    order = torch.randperm(num_clips, generator=torch.Generator().manual_seed(seed)).tolist()
    clips = torch.empty(num_clips, num_frames, 3, size, size, dtype=torch.uint8)
    clip_prompts, clip_profiles = [], []
    for i in tqdm(range(num_clips), desc="render clips", disable=not progress, dynamic_ncols=True):
        prompt = prompts[i % len(prompts)]
        name = profiles[order[i] % len(profiles)]
        profile = table[name] if table is not None else name
        clip = sample_clip(
            prompt, profile, seed=_clip_seed(seed, i), size=size, num_frames=num_frames, fps=fps
        )
        clips[i] = torch.as_tensor(clip)
        clip_prompts.append(prompt)
        clip_profiles.append(name)
    return clips, clip_prompts, clip_profiles


def load_or_render(
    cache_dir: str | Path,
    *,
    num_clips: int,
    num_prompts: int,
    profiles: list[str],
    seed: int,
    size: int,
    num_frames: int,
    fps: float,
    main_process: bool = True,
) -> tuple[torch.Tensor, list[str]]:
    """The clip cache for these settings: read it if present, else render and write it.

    Returns:
        clips uint8 (N, F, C, H, W) and the N prompts.
    """
    profiles = list(profiles) or profile_names()
    key = {
        "num_clips": num_clips,
        "num_prompts": num_prompts,
        "profiles": profiles,
        "seed": seed,
        "size": size,
        "num_frames": num_frames,
        "fps": fps,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(cache_dir) / f"clips-{digest}"
    if not (folder / "COMPLETE").is_file():
        if not main_process:
            raise GeneratorError(f"{folder}: clip cache missing; render it on the main process")
        prompts = training_prompts(num_prompts, seed)
        clips, clip_prompts, clip_profiles = render_clips(
            prompts, profiles, num_clips, seed=seed, size=size, num_frames=num_frames, fps=fps
        )
        with atomic_dir(folder) as tmp:
            save_file({"clips": clips}, str(tmp / "clips.safetensors"))
            meta = {**key, "prompts": clip_prompts, "clip_profiles": clip_profiles}
            (tmp / "meta.json").write_text(json.dumps(meta))
    meta = json.loads((folder / "meta.json").read_text())
    return load_safetensors(folder / "clips.safetensors")["clips"], meta["prompts"]
