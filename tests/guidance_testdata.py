"""Tiny generators and latent reward models for the guidance tests."""

from __future__ import annotations

from pathlib import Path

from vidalign.guidance import from_generator
from vidalign.policy import SamplingDefaults
from vidalign.policy.tiny import build_pixel_generator

PROMPTS = [
    "a red circle moves left on a black background",
    "a blue square moves up on a white background",
    "a green triangle moves right on a black background",
]


def tiny_generator(*, num_layers: int = 2, size: int = 16, num_frames: int = 4, seed: int = 0):
    """A 2-block pixel Wan generator on 4x16x16 clips, patch (2, 4, 4) → 32 tokens."""
    defaults = SamplingDefaults(
        num_frames=num_frames, height=size, width=size, fps=8, steps=4, cfg=1.0
    )
    return build_pixel_generator(
        PROMPTS, defaults, num_layers=num_layers, num_heads=2, head_dim=16, ffn_dim=32,
        text_dim=16, text_layers=1, text_heads=2, max_sequence_length=16, seed=seed,
    )  # fmt: skip


def tiny_reward(gen, dims=("VQ", "MQ", "TA"), *, num_blocks: int = 1, pooling="attention"):
    return from_generator(
        gen.transformer,
        num_blocks,
        list(dims),
        pooling=pooling,
        coord_channels=gen.coord_channels,
        seed=3,
    )


def clip(brightness: float, noise: float, seed: int):
    """uint8 (4, 3, 16, 16): a flat frame of ``brightness`` plus Gaussian noise of std ``noise``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = brightness + noise * torch.randn((4, 3, 16, 16), generator=g)
    return x.clamp(0, 255).to(torch.uint8)


def write_pair_dataset(root: Path) -> Path:
    """``root/gen`` (tiny generator), ``root/{train,val}.csv`` + mp4s.

    Labels: BRIGHT (the brighter clip wins) and CLEAN (less noise wins; equal noise ties).
    """
    import torch

    from vidalign.data import PreferencePair, save_pairs
    from vidalign.policy import save_generator
    from vidalign.video import write_video

    save_generator(tiny_generator(), root / "gen")
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", 24), ("val", 12)):
        pairs = []
        for i in range(n):
            ba, bb = (torch.rand(2, generator=g) * 200 + 20).tolist()
            na, nb = (torch.randint(0, 3, (2,), generator=g) * 30).tolist()
            paths = []
            for k, (b, s) in enumerate(((ba, na), (bb, nb))):
                path = root / "videos" / f"{split}-{i}-{k}.mp4"
                write_video(path, clip(b, s, seed=i * 2 + k), 8.0)
                paths.append(str(path))
            clean = 0 if na == nb else (1 if na < nb else -1)
            labels = {"BRIGHT": 1 if ba > bb else -1, "CLEAN": clean}
            pairs.append(PreferencePair(PROMPTS[i % 3], paths[0], paths[1], labels))
        save_pairs(pairs, root / f"{split}.csv", relative_to=root)
    return root
