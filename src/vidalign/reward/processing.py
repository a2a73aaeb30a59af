"""From videos and prompts to model inputs, under the model's sampling contract.

Two paths turn frames into Qwen2-VL patches:

* ``process_frames``: uint8 frames through the Qwen2-VL video processor (stage 2 of
  REFERENCE.md §2), as in training;
* ``process_frames_differentiable``: float frames in [0, 1] through torch ops only
  (bicubic antialiased resize, CLIP normalisation, patchify), so rewards keep gradients
  to the pixels. Where no resize happens the two agree to float precision.

The processor's own resize (stage 2) is either the video processor's torchvision resize
(``second_resize="torchvision"``, vidalign's own models) or PIL bicubic on uint8 frames
(``"pil"``), which is what the release's transformers 4.45 image processor did; the two
differ by one level in about 0.07 % of values. Released checkpoints use ``"pil"``.

``collate`` renders each prompt through the template and chat template, expands the
video placeholder to the clip's token count, pads the batch (either side: reward
positions are found per sequence) and concatenates the patches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import Qwen2VLProcessor

from vidalign.errors import VidalignError
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tokenizer import IMAGE_PAD, VIDEO_PAD

SecondResize = Literal["torchvision", "pil"]
SECOND_RESIZES: tuple[str, ...] = get_args(SecondResize)


class SamplingError(VidalignError):
    """A sampling contract is inconsistent (e.g. both fps and a frame count)."""


@dataclass(frozen=True)
class SamplingContract:
    """How a reward model samples a video; stored with the model (REFERENCE.md §2).

    Exactly one of ``fps`` / ``num_frames`` is set. ``max_pixels`` / ``min_pixels`` bound
    each frame's area in the decoder's resize (stage 1). The processor's bounds (stage 2)
    are its own: vidalign's builders set them to these, a released checkpoint keeps its
    base folder's.
    """

    fps: float | None = 2.0
    num_frames: int | None = None
    max_pixels: int | None = 448 * 448
    min_pixels: int | None = None

    def __post_init__(self) -> None:
        if (self.fps is None) == (self.num_frames is None):
            raise SamplingError(
                f"set exactly one of fps and num_frames, got fps={self.fps}, num_frames={self.num_frames}"
            )
        if self.fps is not None and self.fps <= 0:
            raise SamplingError(f"fps must be positive, got {self.fps}")
        if self.num_frames is not None and self.num_frames < 1:
            raise SamplingError(f"num_frames must be >= 1, got {self.num_frames}")

    def override(
        self, *, fps: float | None = None, num_frames: int | None = None
    ) -> SamplingContract:
        """This contract with fps or num_frames replaced (not both)."""
        if fps is not None and num_frames is not None:
            raise SamplingError("pass fps or num_frames, not both")
        if fps is None and num_frames is None:
            return self
        return SamplingContract(fps, num_frames, self.max_pixels, self.min_pixels)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProcessedClip:
    """Patches of one clip. pixel_values: (P, C·t·p·p); grid_thw: (3,) long."""

    pixel_values: Tensor
    grid_thw: Tensor

    @property
    def num_patches(self) -> int:
        return int(self.grid_thw.prod())


def smart_resize_28(
    h: int, w: int, *, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen2-VL's size rule (REFERENCE.md §2): sides multiples of ``factor``, area in bounds."""
    hb, wb = round(h / factor) * factor, round(w / factor) * factor
    if hb * wb > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        hb = max(factor, math.floor(h / beta / factor) * factor)
        wb = max(factor, math.floor(w / beta / factor) * factor)
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return max(hb, factor), max(wb, factor)


def pil_bicubic(frames: Tensor, height: int, width: int) -> Tensor:
    """Resize uint8 frames (F, 3, H, W) with PIL's bicubic filter, frame by frame.

    Returns uint8 (F, 3, height, width); the input itself when the size already matches.
    """
    if tuple(frames.shape[-2:]) == (height, width):
        return frames
    from PIL import Image

    hwc = frames.permute(0, 2, 3, 1).contiguous().numpy()
    out = np.stack(
        [
            np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BICUBIC))
            for f in hwc
        ]
    )
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class RewardProcessor:
    """Turns (video, prompt) pairs into batches for ``VideoRewardModel``.

    Args:
        processor: the Qwen2-VL processor (tokenizer with reward tokens, video processor).
        template: the validated prompt template.
        contract: the model's sampling contract.
        second_resize: how the processor resizes when its bounds move a frame (see the
            module docstring).
    """

    def __init__(
        self,
        processor: Qwen2VLProcessor,
        template: RewardTemplate,
        contract: SamplingContract,
        second_resize: SecondResize = "torchvision",
    ) -> None:
        if second_resize not in SECOND_RESIZES:
            raise SamplingError(
                f"second_resize must be one of {SECOND_RESIZES}, got {second_resize!r}"
            )
        self.second_resize = second_resize
        self.processor = processor
        self.template = template
        self.contract = contract
        vp = processor.video_processor
        self.patch_size = int(vp.patch_size)
        self.temporal_patch_size = int(vp.temporal_patch_size)
        self.merge_size = int(vp.merge_size)
        self.tokenizer = processor.tokenizer
        self.video_token_id = int(self.tokenizer.convert_tokens_to_ids(VIDEO_PAD))
        self.image_token_id = int(self.tokenizer.convert_tokens_to_ids(IMAGE_PAD))

    # -- video ---------------------------------------------------------------------------
    def read(self, path: str, *, contract: SamplingContract | None = None) -> Tensor:
        """Decode ``path`` under the contract. Returns uint8 frames (F, C, H, W)."""
        from vidalign.video import read_video

        c = contract or self.contract
        video = read_video(
            path,
            fps=c.fps,
            num_frames=c.num_frames,
            max_pixels=c.max_pixels,
            min_pixels=c.min_pixels,
        )
        return video.frames

    def _pixel_bounds(self) -> tuple[int, int]:
        size = self.processor.video_processor.size
        lo = size.get("shortest_edge") if isinstance(size, dict) else size.shortest_edge
        hi = size.get("longest_edge") if isinstance(size, dict) else size.longest_edge
        return int(lo), int(hi)

    def process_frames(self, frames: Tensor) -> ProcessedClip:
        """uint8 frames (F, C, H, W) → patches, through the Qwen2-VL video processor."""
        if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[1] != 3:
            raise SamplingError(
                f"expected uint8 RGB frames (F, 3, H, W), got {frames.dtype} {tuple(frames.shape)}"
            )
        kw: dict[str, Any] = {}
        if self.second_resize == "pil":
            lo, hi = self._pixel_bounds()
            factor = self.patch_size * self.merge_size
            h, w = smart_resize_28(
                frames.shape[-2], frames.shape[-1], factor=factor, min_pixels=lo, max_pixels=hi
            )
            frames = pil_bicubic(frames, h, w)
            kw["do_resize"] = False
        out = self.processor.video_processor(
            videos=[frames],
            return_tensors="pt",
            do_sample_frames=False,
            cap_pixels_per_frame=False,
            **kw,
        )
        return ProcessedClip(out["pixel_values_videos"], out["video_grid_thw"][0])

    def process_frames_differentiable(self, frames: Tensor) -> ProcessedClip:
        """Float frames (F, C, H, W) in [0, 1] → patches with torch ops only (keeps gradients).

        The same resize rule, rescale and normalisation as the video processor.
        """
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise SamplingError(f"expected frames (F, 3, H, W), got {tuple(frames.shape)}")
        vp = self.processor.video_processor
        x = frames.float() if frames.dtype == torch.uint8 else frames
        if frames.dtype == torch.uint8:
            x = x / 255.0
        lo, hi = self._pixel_bounds()
        factor = self.patch_size * self.merge_size
        h, w = smart_resize_28(
            x.shape[-2], x.shape[-1], factor=factor, min_pixels=lo, max_pixels=hi
        )
        if (h, w) != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
        mean = torch.tensor(vp.image_mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(vp.image_std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        return self._patchify(x)

    def _patchify(self, x: Tensor) -> ProcessedClip:
        """(F, C, H, W) normalised → (P, C·t·p·p) in the Qwen2-VL patch order."""
        tp, ps, m = self.temporal_patch_size, self.patch_size, self.merge_size
        if pad := -x.shape[0] % tp:  # repeat the last frame up to a whole temporal patch
            x = torch.cat([x, x[-1:].expand(pad, -1, -1, -1)], dim=0)
        f, c, h, w = x.shape
        gt, gh, gw = f // tp, h // ps, w // ps
        p = x.reshape(gt, tp, c, gh // m, m, ps, gw // m, m, ps)
        p = p.permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(gt * gh * gw, c * tp * ps * ps)
        return ProcessedClip(p, torch.tensor([gt, gh, gw], dtype=torch.long))

    # -- text and batching -----------------------------------------------------------------
    def render_text(self, prompt: str) -> str:
        """The full chat text for one clip: user turn (video + instruction) + assistant cue."""
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "video"},
                    {"type": "text", "text": self.template.render(prompt)},
                ],
            }
        ]
        return self.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def collate(self, clips: Sequence[ProcessedClip], prompts: Sequence[str]) -> dict[str, Tensor]:
        """Model inputs for clip i with prompt i.

        Returns:
            ``input_ids``, ``attention_mask``, ``mm_token_type_ids``: (B, L);
            ``pixel_values_videos``: (ΣP, D); ``video_grid_thw``: (B, 3).
        """
        if len(clips) != len(prompts):
            raise ValueError(f"{len(clips)} clips but {len(prompts)} prompts")
        merge = self.merge_size**2
        texts = []
        for clip, prompt in zip(clips, prompts):
            text = self.render_text(prompt)
            if text.count(VIDEO_PAD) != 1:
                raise SamplingError(f"the chat template must place exactly one {VIDEO_PAD}")
            texts.append(text.replace(VIDEO_PAD, VIDEO_PAD * (clip.num_patches // merge)))
        enc = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        ids = enc["input_ids"]
        mm = torch.zeros_like(ids)
        mm[ids == self.image_token_id] = 1
        mm[ids == self.video_token_id] = 2
        return {
            "input_ids": ids,
            "attention_mask": enc["attention_mask"],
            "mm_token_type_ids": mm,
            "pixel_values_videos": torch.cat([c.pixel_values for c in clips], dim=0),
            "video_grid_thw": torch.stack([c.grid_thw for c in clips]),
        }
