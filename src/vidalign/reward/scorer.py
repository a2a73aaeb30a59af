"""Scoring API, and the self-contained vidalign reward-model folder.

Folder layout (``RewardScorer.save_pretrained``)::

    config.json, model.safetensors   the Qwen2-VL backbone (LoRA merged), transformers format
    head.safetensors                 head.weight (n, H)
    tokenizer / processor files      Qwen2-VL processor, tokenizer with the reward tokens
    vidalign_reward.json             dims, token mode, template text, sampling contract,
                                     position ids, second resize, normalisation statistics

A manifest without ``position_ids`` or ``second_resize`` (written before they were saved)
loads as ``mrope`` and ``torchvision``: what every vidalign model used until then.

Normalised reward of dimension d: (r_d − mean_d) / std_d; Overall = Σ_d w_d · normalised_d
(REFERENCE.md §2).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import save_file
from torch import Tensor
from transformers import Qwen2VLForConditionalGeneration, Qwen2VLProcessor

from vidalign.errors import VidalignError, name_once
from vidalign.eval.scorer import resolve_weights
from vidalign.reward.builder import ModelLoadError
from vidalign.reward.model import POSITION_IDS, VideoRewardModel
from vidalign.reward.processing import (
    SECOND_RESIZES,
    ProcessedClip,
    RewardProcessor,
    SamplingContract,
)
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tokenizer import add_reward_tokens
from vidalign.weights import check_weights_folder, load_safetensors

MANIFEST = "vidalign_reward.json"
FORMAT_VERSION = 1


PREFETCH_BATCHES = 4
"""Clips prepared ahead of the model, and sorted by length together, in batches."""


@dataclass
class ScoreTiming:
    """Where the time of the last ``score`` call went (seconds).

    ``prepare_s`` is decoding and processing summed over clips, in whichever thread ran
    them; ``wait_s`` the time the model's thread spent waiting for prepared clips (all of
    ``prepare_s`` without prefetching); ``forward_s`` batching and forward passes.
    """

    clips: int = 0
    prepare_s: float = 0.0
    wait_s: float = 0.0
    forward_s: float = 0.0
    wall_s: float = 0.0


class ScoreError(VidalignError):
    """A video could not be scored; the message names the video and why."""


VideoInput = str | Path | Tensor | ProcessedClip | Any  # path, Video, frames (F, C, H, W)


class RewardScorer:
    """Scores videos against prompts with a ``VideoRewardModel``.

    Args:
        model: the reward model (eval mode is set here).
        processor: its ``RewardProcessor`` (template, sampling contract).
        stats: ``{dim: (mean, std)}`` of raw rewards on the training videos, or None.
        batch_size: clips per forward pass.
        prefetch: threads that decode and process clips while the model runs (0: none).
    """

    def __init__(
        self,
        model: VideoRewardModel,
        processor: RewardProcessor,
        stats: dict[str, tuple[float, float]] | None = None,
        *,
        batch_size: int = 8,
        prefetch: int = 1,
    ) -> None:
        self.model = model.eval()
        self.processor = processor
        self.stats = stats
        self.batch_size = batch_size
        self.prefetch = prefetch
        self.last_timing = ScoreTiming()

    @property
    def dims(self) -> list[str]:
        return list(self.model.dims)

    @property
    def device(self) -> torch.device:
        return self.model.head.weight.device

    # -- inputs ----------------------------------------------------------------------------
    def prepare(
        self, video: VideoInput, *, contract: SamplingContract | None = None
    ) -> ProcessedClip:
        """One video → patches. Paths are decoded under the (possibly overridden) contract;
        ``Video`` objects and tensors are used frame for frame; float tensors (values in
        [0, 1]) take the differentiable path."""
        if isinstance(video, ProcessedClip):
            return video
        if isinstance(video, str | Path):
            frames = self.processor.read(str(video), contract=contract)
            return self.processor.process_frames(frames)
        frames = getattr(video, "frames", video)
        if not isinstance(frames, Tensor):
            raise ScoreError(
                f"expected a path, a Video or a frame tensor, got {type(video).__name__}"
            )
        if frames.dtype == torch.uint8 and not frames.requires_grad:
            return self.processor.process_frames(frames.cpu())
        if not frames.is_floating_point():
            raise ScoreError(f"frame tensors must be uint8 or float in [0, 1], got {frames.dtype}")
        return self.processor.process_frames_differentiable(frames)

    def rewards(self, clips: Sequence[ProcessedClip], prompts: Sequence[str]) -> Tensor:
        """Raw rewards (B, n), in input order; batches group clips of similar length.

        Gradients flow when enabled by the caller.
        """
        order = sorted(range(len(clips)), key=lambda i: (clips[i].num_patches, len(prompts[i])))
        out: list[Tensor | None] = [None] * len(clips)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.processor.collate([clips[i] for i in idx], [prompts[i] for i in idx])
            batch = {k: v.to(self.device) for k, v in batch.items()}
            r = self.model(**batch).float()
            for j, i in enumerate(idx):
                out[i] = r[j]
        return torch.stack(out) if out else torch.zeros(0, len(self.dims))  # type: ignore[arg-type]

    def normalize(self, raw: Tensor) -> Tensor:
        """(B, n) raw → (r − mean) / std per dimension."""
        if self.stats is None:
            raise ScoreError(
                "this model has no normalisation statistics; score with normalize=False"
            )
        mean = torch.tensor([self.stats[d][0] for d in self.dims], device=raw.device)
        std = torch.tensor([self.stats[d][1] for d in self.dims], device=raw.device)
        return (raw - mean) / std

    # -- the public call -------------------------------------------------------------------
    def score(
        self,
        videos: Sequence[VideoInput],
        prompts: Sequence[str],
        *,
        fps: float | None = None,
        num_frames: int | None = None,
        normalize: bool = True,
        weights: dict[str, float] | None = None,
        errors: Literal["raise", "report"] = "raise",
    ) -> list[dict[str, Any]]:
        """Score each video against its prompt.

        Args:
            videos: paths, ``Video`` objects or frame tensors (F, C, H, W).
            prompts: one prompt per video.
            fps / num_frames: override the model's sampling contract for paths.
            normalize: report dimensions as z-scores with the stored statistics.
            weights: w_d of Overall (default 1 each; must name every dimension).
            errors: ``raise`` stops at the first bad video with a ScoreError naming it;
                ``report`` gives ``{"error": message}`` for that video and scores the rest.

        Returns:
            Per video: each dimension (normalised if asked), ``Overall`` = Σ w_d · dim,
            and ``<dim>_raw``. Floats, or 0-dim tensors carrying gradients when a frame
            tensor requires grad.
        """
        if len(videos) != len(prompts):
            raise ScoreError(f"{len(videos)} videos but {len(prompts)} prompts")
        w = resolve_weights(self.dims, weights)
        contract = self.processor.contract.override(fps=fps, num_frames=num_frames)
        keep_grad = torch.is_grad_enabled() and any(
            isinstance(getattr(v, "frames", v), Tensor) and getattr(v, "frames", v).requires_grad
            for v in videos
        )
        results: list[dict[str, Any]] = [{} for _ in videos]
        self.last_timing = ScoreTiming()

        def failed(i: int, err: VidalignError) -> None:
            video = videos[i]
            path = video if isinstance(video, str | Path) else getattr(video, "path", None)
            msg = name_once(path if path is not None else f"video {i}", str(err))
            if errors == "raise":
                raise ScoreError(msg) from err
            results[i] = {"error": msg}

        with torch.set_grad_enabled(keep_grad):
            good, raw = self._stream_rewards(videos, prompts, contract, failed)
            if not good:
                return results
            shown = self.normalize(raw) if normalize else raw
            wt = torch.tensor([w[d] for d in self.dims], device=raw.device)
            overall = shown @ wt
            for j, i in enumerate(good):
                row: dict[str, Any] = {}
                for k, d in enumerate(self.dims):
                    row[d] = shown[j, k] if keep_grad else float(shown[j, k])
                row["Overall"] = overall[j] if keep_grad else float(overall[j])
                for k, d in enumerate(self.dims):
                    row[f"{d}_raw"] = raw[j, k] if keep_grad else float(raw[j, k])
                results[i] = row
        return results

    def _prepared(
        self,
        videos: Sequence[VideoInput],
        prompts: Sequence[str],
        contract: SamplingContract,
        *,
        workers: int,
    ) -> Iterator[tuple[int, ProcessedClip | VidalignError]]:
        """``(i, clip or error)`` for each video, in input order.

        With ``workers`` > 0, clips are decoded and processed by that many threads ahead of
        the caller (PyAV, PIL and torch release the GIL), at most ``PREFETCH_BATCHES``
        batches ahead; the caller's time blocked on them is added to ``last_timing.wait_s``.
        """

        def job(i: int) -> tuple[ProcessedClip | VidalignError, float]:
            t0 = time.perf_counter()
            try:
                if not isinstance(prompts[i], str):
                    raise ScoreError(f"prompt must be text, got {prompts[i]!r}")
                self.processor.template.render(prompts[i])
                item: ProcessedClip | VidalignError = self.prepare(videos[i], contract=contract)
            except VidalignError as err:
                item = err
            return item, time.perf_counter() - t0

        timing = self.last_timing
        if workers <= 0:
            for i in range(len(videos)):
                item, took = job(i)
                timing.prepare_s += took
                timing.wait_s += took  # nothing else runs while a clip is prepared
                yield i, item
            return
        ahead = max(1, PREFETCH_BATCHES * self.batch_size)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vidalign-prefetch")
        try:
            pending: deque[tuple[int, Future]] = deque()
            nxt = 0
            while nxt < len(videos) or pending:
                while nxt < len(videos) and len(pending) < ahead:
                    pending.append((nxt, pool.submit(job, nxt)))
                    nxt += 1
                i, fut = pending.popleft()
                t0 = time.perf_counter()
                item, took = fut.result()
                timing.wait_s += time.perf_counter() - t0
                timing.prepare_s += took
                yield i, item
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _stream_rewards(
        self,
        videos: Sequence[VideoInput],
        prompts: Sequence[str],
        contract: SamplingContract,
        failed: Any,
    ) -> tuple[list[int], Tensor | None]:
        """Raw rewards of the videos that could be prepared, forwards overlapping decoding.

        Clips are taken in windows of ``PREFETCH_BATCHES`` batches and sorted by length
        inside each window, so batches pad little. Returns ``(indices, (G, n) raw)``.
        """
        t_start = time.perf_counter()
        timing = self.last_timing
        got: dict[int, Tensor] = {}
        window: list[tuple[int, ProcessedClip]] = []

        def flush() -> None:
            if not window:
                return
            t0 = time.perf_counter()
            idx = [i for i, _ in window]
            raw = self.rewards([c for _, c in window], [prompts[i] for i in idx])
            for j, i in enumerate(idx):
                got[i] = raw[j]
            timing.forward_s += time.perf_counter() - t0
            window.clear()

        size = max(1, PREFETCH_BATCHES * self.batch_size)
        for i, item in self._prepared(videos, prompts, contract, workers=self.prefetch):
            if isinstance(item, VidalignError):
                failed(i, item)
                continue
            timing.clips += 1
            window.append((i, item))
            if len(window) >= size:
                flush()
        flush()
        timing.wall_s = time.perf_counter() - t_start
        good = sorted(got)
        return good, (torch.stack([got[i] for i in good]) if good else None)

    @torch.no_grad()
    def fit_normalization(
        self, videos: Sequence[VideoInput], prompts: Sequence[str]
    ) -> dict[str, tuple[float, float]]:
        """Set the statistics to the per-dimension mean and std of raw rewards on ``videos``."""
        clips = [self.prepare(v) for v in videos]
        raw = self.rewards(clips, prompts).double()
        mean, std = raw.mean(0), raw.std(0, unbiased=False)
        stats = {}
        for k, d in enumerate(self.dims):
            m, s = float(mean[k]), float(std[k])
            if not (math.isfinite(m) and math.isfinite(s)) or s == 0:
                raise ScoreError(
                    f"cannot normalise {d}: mean {m}, std {s} over {len(clips)} videos"
                )
            stats[d] = (m, s)
        self.stats = stats
        return stats

    # -- folders ---------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> Path:
        """Write the self-contained folder described in the module docstring."""
        from vidalign.checkpoint import atomic_dir

        path = Path(path)
        model = self.model
        with atomic_dir(path) as tmp:
            model.backbone.save_pretrained(str(tmp))
            save_file(
                {"weight": model.head.weight.detach().cpu().contiguous()},
                str(tmp / "head.safetensors"),
            )
            self.processor.processor.save_pretrained(str(tmp))
            c = self.processor.contract
            manifest = {
                "format_version": FORMAT_VERSION,
                "dims": self.dims,
                "token_mode": model.token_mode,
                "reward_tokens": list(self.processor.template.tokens),
                "template": self.processor.template.text,
                "sampling": c.to_dict(),
                "position_ids": model.position_ids,
                "second_resize": self.processor.second_resize,
                "normalization": (
                    None
                    if self.stats is None
                    else {d: {"mean": m, "std": s} for d, (m, s) in self.stats.items()}
                ),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        batch_size: int = 8,
    ) -> RewardScorer:
        """Load a folder written by ``save_pretrained`` (or a released checkpoint folder,
        see ``vidalign.reward.released``, which needs more arguments)."""
        path = Path(path)
        mf = path / MANIFEST
        if not mf.is_file():
            if (path / "model_config.json").is_file():
                raise ModelLoadError(
                    f"{path}: a released VideoReward folder; load it with "
                    "vidalign.reward.released.load_released(path, base_model=..., template=...)"
                )
            raise ModelLoadError(f"{path}: not a vidalign reward model (no {MANIFEST})")
        try:
            manifest = json.loads(mf.read_text())
            dims = list(manifest["dims"])
            token_mode = manifest["token_mode"]
            template = RewardTemplate(manifest["template"], tuple(dims), token_mode, source=str(mf))
            contract = SamplingContract(**manifest["sampling"])
            norm = manifest.get("normalization")
            position_ids = manifest.get("position_ids", "mrope")
            second_resize = manifest.get("second_resize", "torchvision")
        except (KeyError, TypeError, json.JSONDecodeError) as err:
            raise ModelLoadError(f"{mf}: malformed manifest ({err})") from None
        check_weights_folder(path)  # the backbone's and the head's files
        processor = Qwen2VLProcessor.from_pretrained(str(path), local_files_only=True)
        backbone = Qwen2VLForConditionalGeneration.from_pretrained(
            str(path), dtype=dtype, local_files_only=True
        )
        ids = add_reward_tokens(processor.tokenizer, template.tokens)
        if max(ids) >= backbone.get_input_embeddings().num_embeddings:
            raise ModelLoadError(f"{path}: the tokenizer's reward tokens are not in the embedding")
        if position_ids not in POSITION_IDS:
            raise ModelLoadError(
                f"{mf}: field position_ids is {position_ids!r}, expected one of {POSITION_IDS}"
            )
        if second_resize not in SECOND_RESIZES:
            raise ModelLoadError(
                f"{mf}: field second_resize is {second_resize!r}, expected one of {SECOND_RESIZES}"
            )
        model = VideoRewardModel(backbone, dims, ids, token_mode, position_ids)
        head = load_safetensors(path / "head.safetensors")["weight"]
        if head.shape != model.head.weight.shape:
            raise ModelLoadError(
                f"{path}/head.safetensors: shape {tuple(head.shape)}, expected {tuple(model.head.weight.shape)}"
            )
        model.head.weight.data.copy_(head)
        model.to(dtype)
        if device is not None:
            model.to(device)
        stats = (
            None
            if norm is None
            else {d: (float(norm[d]["mean"]), float(norm[d]["std"])) for d in dims}
        )
        rp = RewardProcessor(processor, template, contract, second_resize)
        return cls(model, rp, stats, batch_size=batch_size)
