"""Tiny generators and pair folders for the alignment tests.

``write_pair_folder`` makes a preference set with a signal a LoRA can learn in a few steps:
each prompt's winner is a flat colour field, its loser the same field plus strong noise.
Both sides have cached x0 latents, real mp4 files and rewards, as `align make-pairs` writes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from vidalign.data import PreferencePair, save_pairs
from vidalign.policy import SamplingDefaults, save_generator
from vidalign.policy.tiny import build_pixel_generator
from vidalign.synth.prompts import general_prompts
from vidalign.video import write_video

DEFAULTS = SamplingDefaults(num_frames=4, height=16, width=16, fps=8.0, steps=2, cfg=1.0)


def tiny_generator(seed: int = 0):
    """A 1-layer pixel-space generator on 4×16×16 clips (32 tokens), vocabulary of the grammar."""
    return build_pixel_generator(
        list(general_prompts(300, 0)), DEFAULTS, num_layers=1, num_heads=2, head_dim=16,
        ffn_dim=32, text_dim=16, text_layers=1, text_heads=2, max_sequence_length=16, seed=seed,
    )  # fmt: skip


def save_tiny_generator(path: Path, seed: int = 0) -> Path:
    return save_generator(tiny_generator(seed), path)


def write_pair_folder(root: Path, num_prompts: int = 4, *, seed: int = 0) -> Path:
    """Clean-vs-noisy pairs with latents, mp4s and rewards under ``root``; returns pairs.csv."""
    (root / "latents").mkdir(parents=True, exist_ok=True)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    gen = tiny_generator()
    pairs = []
    c, f, h, w = 3, DEFAULTS.num_frames, DEFAULTS.height, DEFAULTS.width
    for i, prompt in enumerate(general_prompts(num_prompts, seed)):
        colour = torch.rand(c, 1, 1, 1, generator=g) * 1.6 - 0.8
        clean = colour.expand(c, f, h, w).clone()
        noisy = (clean + 0.8 * torch.randn(c, f, h, w, generator=g)).clamp(-1, 1)
        sides = []
        for name, x0, reward in ((f"{i}w", clean, 1.0), (f"{i}l", noisy, 0.0)):
            save_file({"x0": x0.contiguous()}, str(root / "latents" / f"{name}.safetensors"))
            write_video(root / "videos" / f"{name}.mp4", gen.decode(x0[None])[0], DEFAULTS.fps)
            sides.append((f"videos/{name}.mp4", f"latents/{name}.safetensors", reward))
        a, b = sides if i % 2 == 0 else sides[::-1]
        label = 1 if i % 2 == 0 else -1
        pairs.append(
            PreferencePair(
                prompt=prompt,
                path_a=str(root / a[0]),
                path_b=str(root / b[0]),
                labels={"VQ": label, "MQ": 0, "TA": 0, "Overall": label},
                meta={
                    "latent_A": a[1],
                    "latent_B": b[1],
                    "reward_A": repr(a[2]),
                    "reward_B": repr(b[2]),
                },
            )
        )
    return save_pairs(pairs, root / "pairs.csv", dims=["VQ", "MQ", "TA"], relative_to=root)
