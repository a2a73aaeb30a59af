"""Where the generator's flow lives: pixels (synthetic world) or a VAE latent (real models).

Both codecs map decoded frames ``(B, F, C, H, W)`` to model tensors ``x0 (B, C, F', H', W')``
and back, so trainers never know which one is in use.

**Pixel space for the synthetic world** (decided). Its clips are 32×32×8: small enough that a
patchified transformer (patch (2, 4, 4) → 256 tokens) works on pixels directly. That avoids
training a VAE, which would be a second model with its own failure modes, and lets the oracle,
the reward model and the latent reward model all read exactly what the generator produces.

**A VAE latent for real models**: ``AutoencoderKLWan`` with the per-channel
``latents_mean`` / ``latents_std`` of its config, normalised as the Wan pipeline does:
``z = (mu - mean) / std`` on encode and ``mu = z·std + mean`` on decode.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from vidalign.policy.errors import GeneratorError


def frames_to_unit(frames: Tensor) -> Tensor:
    """uint8 [0, 255] or float [0, 1] frames (B, F, C, H, W) → float32 in [-1, 1], (B, C, F, H, W)."""
    if frames.ndim != 5:
        raise GeneratorError(f"frames must be (B, F, C, H, W), got shape {tuple(frames.shape)}")
    x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
    return (x * 2 - 1).permute(0, 2, 1, 3, 4).contiguous()


def unit_to_frames(x: Tensor) -> Tensor:
    """float (B, C, F, H, W) in [-1, 1] → uint8 frames (B, F, C, H, W) (clamped, rounded)."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 1, 3, 4).contiguous()


class LatentCodec(Protocol):
    """Maps frames to the tensors the flow runs on and back."""

    channels: int

    def encode(self, frames: Tensor) -> Tensor: ...

    def decode(self, x0: Tensor) -> Tensor: ...

    def latent_shape(
        self, num_frames: int, height: int, width: int
    ) -> tuple[int, int, int, int]: ...


class PixelLatent:
    """Identity codec: x0 is the clip itself, scaled to [-1, 1]. Shapes: (B, 3, F, H, W)."""

    channels = 3

    def encode(self, frames: Tensor) -> Tensor:
        """frames (B, F, 3, H, W) uint8 or float in [0, 1] → x0 (B, 3, F, H, W) in [-1, 1]."""
        return frames_to_unit(frames)

    def decode(self, x0: Tensor) -> Tensor:
        """x0 (B, 3, F, H, W) → uint8 frames (B, F, 3, H, W)."""
        return unit_to_frames(x0)

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        return (3, num_frames, height, width)


class WanVAELatent:
    """``AutoencoderKLWan`` latents, normalised per channel (see module docstring).

    Frame counts must be ``1 + k·scale_factor_temporal`` (e.g. 81 → 21 latent frames) and
    sides multiples of ``scale_factor_spatial``.

    Args:
        vae: an ``AutoencoderKLWan``.
        sample: draw from the posterior instead of taking its mean when encoding.
    """

    def __init__(self, vae, *, sample: bool = False) -> None:
        self.vae = vae.eval().requires_grad_(False)
        cfg = vae.config
        self.channels = int(cfg.z_dim)
        self.temporal = int(cfg.scale_factor_temporal or 4)
        self.spatial = int(cfg.scale_factor_spatial or 8)
        self.mean = torch.tensor(cfg.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(cfg.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.sample = sample

    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        if (num_frames - 1) % self.temporal or height % self.spatial or width % self.spatial:
            raise GeneratorError(
                f"the Wan VAE needs 1 + k·{self.temporal} frames and sides divisible by "
                f"{self.spatial}; got {num_frames} frames of {height}x{width}"
            )
        return (
            self.channels,
            (num_frames - 1) // self.temporal + 1,
            height // self.spatial,
            width // self.spatial,
        )

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        """frames (B, F, 3, H, W) → normalised latents (B, z_dim, F', H', W'), float32."""
        _, f, _, h, w = frames.shape
        self.latent_shape(f, h, w)
        x = frames_to_unit(frames).to(self.vae.device, self.vae.dtype)
        dist = self.vae.encode(x).latent_dist
        z = (dist.sample() if self.sample else dist.mode()).float()
        return (z - self.mean.to(z.device)) / self.std.to(z.device)

    @torch.no_grad()
    def decode(self, x0: Tensor) -> Tensor:
        """Normalised latents (B, z_dim, F', H', W') → uint8 frames (B, F, 3, H, W)."""
        z = x0.float() * self.std.to(x0.device) + self.mean.to(x0.device)
        video = self.vae.decode(z.to(self.vae.device, self.vae.dtype), return_dict=False)[0]
        return unit_to_frames(video)
