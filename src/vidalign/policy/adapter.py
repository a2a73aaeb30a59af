"""The generator interface every trainer and sampler uses, and its Wan implementation.

One callable ``adapter(x_t, t, cond) -> v`` over a diffusers video transformer, plus the codec
between frames and model tensors and the text embedder:

* ``encode(frames (B, F, C, H, W)) -> x0 (B, C', F', H', W')`` and ``decode(x0) -> uint8 frames``;
* ``encode_text(prompts) -> cond (B, L, D)`` (cached) and ``empty_cond`` (1, L, D) for CFG;
* ``defaults``: the clip size and sampling settings the model was trained for.

``WanAdapter`` wraps ``WanTransformer3DModel``, which takes ``(B, C, F, H, W)`` latents and
timesteps on diffusers' [0, 1000] scale (``t·1000``) and predicts the flow velocity
``noise - x0`` directly. LTX-Video fits the same interface: its transformer wants packed tokens
``(B, N, C)`` with the latent grid size and a text attention mask, so an ``LTXAdapter`` packs
and unpacks inside ``__call__`` and brings its own VAE codec; trainers do not change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from vidalign.policy.errors import GeneratorError
from vidalign.policy.latent import LatentCodec
from vidalign.policy.text import TextEmbedder, check_prompts
from vidalign.training import unwrap_model

TIMESTEP_SCALE = 1000.0
"""diffusers flow transformers are conditioned on t·1000 (the scheduler's ``sigma * 1000``)."""


@dataclass
class SamplingDefaults:
    """Clip size and sampler settings stored with a generator.

    Attributes:
        num_frames, height, width: decoded clip size.
        fps: frame rate the clips are written at.
        steps: Euler steps.
        cfg: classifier-free guidance scale (1 = none).
        shift: timestep shift of the sampling grid (``vidalign.flow.shift_time``).
    """

    num_frames: int
    height: int
    width: int
    fps: float
    steps: int = 20
    cfg: float = 1.0
    shift: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Generator(Protocol):
    """What trainers and samplers need from a generator (see module docstring)."""

    defaults: SamplingDefaults
    transformer: torch.nn.Module

    def __call__(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor: ...

    def encode(self, frames: Tensor) -> Tensor: ...

    def decode(self, x0: Tensor) -> Tensor: ...

    def encode_text(self, prompts: list[str]) -> Tensor: ...

    @property
    def empty_cond(self) -> Tensor: ...

    def latent_shape(
        self, num_frames: int | None = None, height: int | None = None, width: int | None = None
    ) -> tuple[int, int, int, int]: ...


class WanAdapter:
    """``WanTransformer3DModel`` behind the ``Generator`` interface.

    Args:
        transformer: the (possibly LoRA-wrapped, DDP-wrapped) ``WanTransformer3DModel``.
            Trainers may replace the attribute with ``accelerator.prepare(transformer)``.
        latent: ``PixelLatent`` or ``WanVAELatent``.
        text: the prompt embedder.
        defaults: clip size and sampling settings.
    """

    family = "wan"

    def __init__(
        self,
        transformer: torch.nn.Module,
        latent: LatentCodec,
        text: TextEmbedder,
        defaults: SamplingDefaults,
    ) -> None:
        self.transformer = transformer
        self.latent = latent
        self.text = text
        self.defaults = defaults
        cfg = unwrap_model(transformer).config
        self.patch_size = tuple(cfg.patch_size)
        self.in_channels = int(cfg.in_channels)
        if int(cfg.text_dim) != text.dim:
            raise GeneratorError(
                f"text embeddings have width {text.dim} but the transformer expects {cfg.text_dim}"
            )
        if self.in_channels != latent.channels:
            raise GeneratorError(
                f"latent has {latent.channels} channels but the transformer expects "
                f"{self.in_channels}"
            )

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.transformer.parameters()).dtype

    def to(self, device: torch.device | str) -> WanAdapter:
        self.transformer.to(device)
        self.text.to(device)
        return self

    def __call__(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        """Velocity v (B, C, F, H, W) for x_t (B, C, F, H, W), t (B,), cond (B, L, D)."""
        out = self.transformer(
            hidden_states=x_t.to(self.dtype),
            timestep=t.float() * TIMESTEP_SCALE,  # the time embedder runs in float32
            encoder_hidden_states=cond.to(self.dtype),
            return_dict=False,
        )[0]
        return out.to(x_t.dtype)

    def latent_shape(
        self, num_frames: int | None = None, height: int | None = None, width: int | None = None
    ) -> tuple[int, int, int, int]:
        """(C, F', H', W') of x0 for a clip of the given (default) size; checks the patch grid."""
        d = self.defaults
        shape = self.latent.latent_shape(
            num_frames or d.num_frames, height or d.height, width or d.width
        )
        if any(n % p for n, p in zip(shape[1:], self.patch_size)):
            raise GeneratorError(
                f"latent grid {shape[1:]} does not divide into patches {self.patch_size}"
            )
        return shape

    def encode(self, frames: Tensor) -> Tensor:
        """frames (B, F, C, H, W), uint8 or float in [0, 1] → x0 (B, C', F', H', W') float32."""
        _, f, _, h, w = frames.shape
        self.latent_shape(f, h, w)
        return self.latent.encode(frames.to(self.device))

    def decode(self, x0: Tensor) -> Tensor:
        """x0 (B, C', F', H', W') → uint8 frames (B, F, C, H, W)."""
        return self.latent.decode(x0)

    def encode_text(self, prompts: list[str]) -> Tensor:
        """Cached prompt embeddings (B, L, D) on the adapter's device."""
        return self.text(check_prompts(prompts))

    @property
    def empty_cond(self) -> Tensor:
        """Embedding of the empty prompt (1, L, D), the unconditional input of CFG."""
        return self.text.empty
