"""The generator interface every trainer and sampler uses, and its Wan implementation.

One callable ``adapter(x_t, t, cond) -> v`` over a diffusers video transformer, plus the codec
between frames and model tensors and the text embedder:

* ``encode(frames (B, F, C, H, W)) -> x0 (B, C', F', H', W')`` and ``decode(x0) -> uint8 frames``;
* ``encode_text(prompts) -> cond (B, L, D)`` (cached) and ``empty_cond`` (1, L, D) for CFG;
* ``defaults``: the clip size and sampling settings the model was trained for.

``WanAdapter`` wraps ``WanTransformer3DModel``, which takes ``(B, C, F, H, W)`` latents and
timesteps on diffusers' [0, 1000] scale (``t·1000``) and predicts the flow velocity
``noise - x0`` directly (``prediction="velocity"``, what Wan2.1 checkpoints do). Small
pixel-space models of the synthetic world instead predict the clean clip
(``prediction="sample"``) and the adapter turns it into a velocity,
``v = (x_t - x0_hat) / max(t, min_t)``: a velocity target carries the full noise, which a
transformer not much wider than its patches copies through poorly (measured: x0 error 0.37 at
t = 1 on the old velocity model), and its samples showed patch-shaped speckles. Callers always
see a velocity.

Wan knows token positions only through rotary embeddings, which are relative; a small model
trained for minutes barely uses them and treats every patch alike, so its samples scatter an
object's colour over the frame. Synthetic-world models therefore also get three coordinate
channels (frame, row, column, each in [-1, 1]) appended to their input
(``coord_channels=3``; the transformer's ``in_channels`` is the latent's plus 3 and its
``out_channels`` the latent's), the CoordConv remedy. Real checkpoints use none.

LTX-Video fits the same interface: its transformer wants packed tokens ``(B, N, C)`` with the
latent grid size and a text attention mask, so an ``LTXAdapter`` packs and unpacks inside
``__call__`` and brings its own VAE codec; trainers do not change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import torch
from torch import Tensor

from vidalign.policy.errors import GeneratorError
from vidalign.policy.latent import LatentCodec
from vidalign.policy.text import TextEmbedder, check_prompts
from vidalign.training import unwrap_model

TIMESTEP_SCALE = 1000.0
"""diffusers flow transformers are conditioned on t·1000 (the scheduler's ``sigma * 1000``)."""

Prediction = Literal["velocity", "sample"]
PREDICTIONS: tuple[str, ...] = ("velocity", "sample")
DEFAULT_MIN_T = 0.05
"""Floor on t when a clean-sample prediction is turned into a velocity (``1/t`` grows near 0)."""


def coordinate_grid(x: Tensor) -> Tensor:
    """(B, 3, F, H, W) frame, row and column coordinates in [-1, 1] for x (B, C, F, H, W)."""
    b, _, f, h, w = x.shape
    axes = [torch.linspace(-1, 1, n, device=x.device, dtype=x.dtype) for n in (f, h, w)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))  # (3, F, H, W)
    return grid.unsqueeze(0).expand(b, -1, -1, -1, -1)


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
        prediction: what the transformer outputs, ``velocity`` or the clean ``sample``.
        min_t: floor on t in ``v = (x_t - x0_hat) / t`` for ``sample`` prediction.
        coord_channels: 0, or 3 to append (frame, row, column) coordinate channels to x_t.
    """

    family = "wan"

    def __init__(
        self,
        transformer: torch.nn.Module,
        latent: LatentCodec,
        text: TextEmbedder,
        defaults: SamplingDefaults,
        *,
        prediction: Prediction = "velocity",
        min_t: float = DEFAULT_MIN_T,
        coord_channels: int = 0,
    ) -> None:
        if prediction not in PREDICTIONS:
            raise GeneratorError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        if not 0 < min_t < 1:
            raise GeneratorError(f"min_t must be in (0, 1), got {min_t}")
        if coord_channels not in (0, 3):
            raise GeneratorError(f"coord_channels must be 0 or 3, got {coord_channels}")
        self.transformer = transformer
        self.latent = latent
        self.text = text
        self.defaults = defaults
        self.prediction = prediction
        self.min_t = float(min_t)
        self.coord_channels = coord_channels
        cfg = unwrap_model(transformer).config
        self.patch_size = tuple(cfg.patch_size)
        self.in_channels = int(cfg.in_channels)
        if int(cfg.text_dim) != text.dim:
            raise GeneratorError(
                f"text embeddings have width {text.dim} but the transformer expects {cfg.text_dim}"
            )
        if self.in_channels != latent.channels + coord_channels:
            raise GeneratorError(
                f"latent has {latent.channels} channels (+{coord_channels} coordinate channels) "
                f"but the transformer expects {self.in_channels}"
            )
        if int(cfg.out_channels or cfg.in_channels) != latent.channels:
            raise GeneratorError(
                f"the transformer outputs {cfg.out_channels} channels; the latent has "
                f"{latent.channels}"
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
        x_in = x_t
        if self.coord_channels:
            x_in = torch.cat([x_t, coordinate_grid(x_t)], dim=1)
        out = self.transformer(
            hidden_states=x_in.to(self.dtype),
            timestep=t.float() * TIMESTEP_SCALE,  # the time embedder runs in float32
            encoder_hidden_states=cond.to(self.dtype),
            return_dict=False,
        )[0].to(x_t.dtype)
        if self.prediction == "velocity":
            return out
        scale = t.to(x_t.dtype).clamp(min=self.min_t).view(-1, *([1] * (x_t.ndim - 1)))
        return (x_t - out) / scale

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
