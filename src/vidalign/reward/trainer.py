"""Reward-model trainer: pairs in, a saved ``RewardScorer`` folder out.

One optimizer step at step ``s`` reads ``grad_accum`` micro-batches; micro-batch ``a`` is
``batch_indices(n, batch_size * world, seed=seed, step=s * grad_accum + a)``, split by
rank, so the data order depends only on the seed and the step (exact resume, and a
2-process run sees the same global batch as a 1-process one). The two videos of each pair
go through one forward pass together.

Trained parameters (REFERENCE.md §2): the head; the reward-token rows of the embedding
matrix (their gradient is masked to those rows and they never decay, so every other row
stays bit-identical); LoRA adapters or all language-model weights; the vision tower and
merger when ``train_vision``; ``train_language: false`` keeps the language model's weights
fixed (without LoRA). Each of the three groups has its own learning rate.

Run folder::

    config.yaml      the resolved config
    init/            the tiny model's initial weights (a RewardScorer folder), for resume
    checkpoints/     step-N/ (vidalign.training.save_checkpoint)
    logs/            TensorBoard
    model/           the final RewardScorer folder, with normalisation statistics
    metrics.jsonl    one row per logged step and, with ``"split": "val"``, per evaluation
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vidalign.config import check_config
from vidalign.errors import VidalignError
from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties
from vidalign.reward.builder import build_tiny, from_base
from vidalign.reward.config import RewardTrainConfig
from vidalign.reward.losses import (
    RewardLossStats,
    batch_loss,
    bt_loss,
    btt_loss,
    regression_loss,
)
from vidalign.reward.model import VideoRewardModel
from vidalign.reward.processing import ProcessedClip, RewardProcessor, SamplingContract
from vidalign.reward.scorer import RewardScorer
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import freeze_vision_stem
from vidalign.training import (
    TrainResult,
    batch_indices,
    build_accelerator,
    due,
    load_checkpoint,
    log_metrics,
    lr_scheduler,
    progress,
    save_checkpoint,
    start_run,
    stop_if_not_finite,
)


class TrainSetupError(VidalignError):
    """The run cannot start: bad data, a run folder in the way, inconsistent settings."""


class ClipCache:
    """Decoded and processed clips by path, each video decoded once per process."""

    def __init__(self, processor: RewardProcessor) -> None:
        self.processor = processor
        self._clips: dict[str, ProcessedClip] = {}

    def get(self, path: str) -> ProcessedClip:
        clip = self._clips.get(path)
        if clip is None:
            clip = self.processor.process_frames(self.processor.read(path))
            self._clips[path] = clip
        return clip

    def __len__(self) -> int:
        return len(self._clips)


# -- losses on a batch ---------------------------------------------------------------------
def pair_targets(pairs: Sequence[Any], dims: Sequence[str]) -> dict[str, Tensor]:
    """Labels (B, n) long, valid (B, n) bool, mos_a / mos_b (B, n) float (NaN if missing)."""
    labels = torch.zeros(len(pairs), len(dims), dtype=torch.long)
    valid = torch.zeros(len(pairs), len(dims), dtype=torch.bool)
    mos_a = torch.full((len(pairs), len(dims)), float("nan"))
    mos_b = torch.full((len(pairs), len(dims)), float("nan"))
    for i, p in enumerate(pairs):
        for j, d in enumerate(dims):
            if d in p.labels and p.labels[d] is not None:
                labels[i, j] = int(p.labels[d])
                valid[i, j] = True
            if d in (p.mos_a or {}):
                mos_a[i, j] = float(p.mos_a[d])
            if d in (p.mos_b or {}):
                mos_b[i, j] = float(p.mos_b[d])
    return {"labels": labels, "valid": valid, "mos_a": mos_a, "mos_b": mos_b}


def reward_loss(
    kind: str, r_a: Tensor, r_b: Tensor, t: dict[str, Tensor], *, theta: float, dims: Sequence[str]
) -> tuple[Tensor, RewardLossStats]:
    """Dispatch to the configured loss; ``t`` from ``pair_targets`` (on r_a's device)."""
    if kind == "bt":
        return bt_loss(r_a, r_b, t["labels"], t["valid"], dims=dims)
    if kind == "btt":
        return btt_loss(r_a, r_b, t["labels"], t["valid"], theta=theta, dims=dims)
    if kind == "regression":
        return regression_loss(r_a, r_b, t["mos_a"], t["mos_b"], labels=t["labels"], dims=dims)
    raise ValueError(f"unknown loss {kind!r}")


# -- evaluation ----------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: VideoRewardModel,
    processor: RewardProcessor,
    cache: ClipCache,
    pairs: Sequence[Any],
    *,
    loss: str,
    theta: float,
    batch_size: int = 8,
) -> dict[str, float]:
    """Loss and accuracy with / without ties per dimension on ``pairs``.

    Every unique (video, prompt) is scored once. Returns ``val/loss``, ``val/loss/<dim>``,
    ``val/acc/<dim>`` (without ties) and ``val/acc_ties/<dim>`` (tie-calibrated).
    """
    was_training = model.training
    scorer = RewardScorer(model, processor, batch_size=batch_size)
    keys = sorted({(p.path_a, p.prompt) for p in pairs} | {(p.path_b, p.prompt) for p in pairs})
    raw = scorer.rewards([cache.get(k[0]) for k in keys], [k[1] for k in keys])
    row = {k: i for i, k in enumerate(keys)}
    r_a = raw[[row[(p.path_a, p.prompt)] for p in pairs]]
    r_b = raw[[row[(p.path_b, p.prompt)] for p in pairs]]
    dims = model.dims
    t = pair_targets(pairs, dims)
    _, stats = reward_loss(loss, r_a, r_b, t, theta=theta, dims=dims)
    metrics = {"val/loss": float(batch_loss(stats))}
    metrics.update({f"val/{k}": v for k, v in stats.metrics.items() if k.startswith("loss/")})
    margin = (r_a - r_b).double().cpu().numpy()
    for j, d in enumerate(dims):
        ok = t["valid"][:, j].numpy()
        h = t["labels"][:, j].numpy()[ok]
        if h.size == 0:
            continue
        if (h != 0).any():
            metrics[f"val/acc/{d}"] = accuracy_without_ties(h, margin[ok, j])
        metrics[f"val/acc_ties/{d}"] = accuracy_with_ties(h, margin[ok, j])[0]
    model.train(was_training)
    return metrics


# -- set-up --------------------------------------------------------------------------------
def _load_pairs(path: str | None, cfg: RewardTrainConfig) -> list[Any]:
    from vidalign.data import load_pairs

    if not path:
        return []
    pairs = load_pairs(path, dims=cfg.dims, video_root=cfg.video_root, check_files=True)
    if not pairs:
        raise TrainSetupError(f"{path}: no preference pairs")
    return pairs


def _contract(cfg: RewardTrainConfig) -> SamplingContract:
    s = cfg.sampling
    return SamplingContract(s.fps, s.num_frames, s.max_pixels, s.min_pixels)


def _build_model(
    cfg: RewardTrainConfig, pairs: Sequence[Any], run_dir: Path, accelerator: Any
) -> tuple[VideoRewardModel, RewardProcessor]:
    """The initial model: from ``base_model``, or the tiny one (saved once to ``init/``)."""
    template = RewardTemplate.resolve(cfg.template, cfg.dims, cfg.token_mode)
    contract = _contract(cfg)
    if cfg.base_model:
        return from_base(
            cfg.base_model, dims=cfg.dims, contract=contract, template=template, seed=cfg.seed
        )
    init = run_dir / "init"
    if not (cfg.resume and (init / "vidalign_reward.json").is_file()):
        if accelerator.is_main_process:
            model, processor = build_tiny(
                dims=cfg.dims,
                spec=cfg.tiny,
                contract=contract,
                template=template,
                corpus=sorted({p.prompt for p in pairs}),
                padding_side=cfg.padding_side,
                seed=cfg.seed,
            )
            RewardScorer(model, processor).save_pretrained(init)
        accelerator.wait_for_everyone()
    scorer = RewardScorer.from_pretrained(init)
    return scorer.model, scorer.processor


def _set_trainable(core: VideoRewardModel, cfg: RewardTrainConfig) -> torch.nn.Module:
    """Freeze / unfreeze per the config; returns the module to train (a PeftModel with LoRA)."""
    model: torch.nn.Module = core
    if cfg.lora.enabled:
        from peft import LoraConfig, get_peft_model

        names = "|".join(cfg.lora.target_modules)
        lora = LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=rf".*language_model\.layers\.\d+\..*\.({names})",
        )
        model = get_peft_model(core, lora)  # freezes everything but the adapters
    else:
        for p in core.backbone.model.language_model.parameters():
            p.requires_grad_(cfg.train_language)
    core.backbone.lm_head.weight.requires_grad_(False)  # unused; tied to embeddings on 2B
    for p in core.backbone.model.visual.parameters():
        p.requires_grad_(cfg.train_vision)
    if cfg.freeze_vision_stem:
        freeze_vision_stem(core.backbone.model.visual)
    core.backbone.get_input_embeddings().weight.requires_grad_(True)
    core.head.weight.requires_grad_(True)
    return model


def _param_groups(
    core: VideoRewardModel, model: torch.nn.Module, cfg: RewardTrainConfig
) -> list[dict]:
    embed = core.backbone.get_input_embeddings().weight
    head = core.head.weight
    rest = [p for p in model.parameters() if p.requires_grad and p is not embed and p is not head]
    o = cfg.optim
    # None means "as lr"; 0 is a rate like any other (the group stays as it starts)
    lr_special = o.lr if o.lr_special is None else o.lr_special
    lr_head = o.lr if o.lr_head is None else o.lr_head
    return [
        {"params": rest, "lr": o.lr, "weight_decay": o.weight_decay, "name": "backbone"},
        {"params": [embed], "lr": lr_special, "weight_decay": 0.0, "name": "special"},
        {"params": [head], "lr": lr_head, "weight_decay": o.weight_decay, "name": "head"},
    ]


def _check_config(cfg: RewardTrainConfig) -> None:
    if not cfg.train_data:
        raise TrainSetupError("train_data is required (a pairs CSV / JSONL / Parquet file)")
    if not cfg.dims or len(set(cfg.dims)) != len(cfg.dims):
        raise TrainSetupError(f"dims must be distinct names, got {cfg.dims}")
    if cfg.lora.enabled and not cfg.train_language:
        raise TrainSetupError(
            "lora.enabled trains adapters on the language model; it cannot be combined with "
            "train_language: false"
        )


# -- the loop ------------------------------------------------------------------------------
def train_reward(cfg: RewardTrainConfig) -> TrainResult:
    """Train per ``cfg``; see the module docstring for what lands in ``out_dir``.

    With ``stop_at`` the call ends after that step with a checkpoint and no ``model/``
    (``TrainResult.model_dir`` None); ``resume`` continues from the latest checkpoint.
    """
    check_config(cfg)
    _check_config(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    latest = start_run(cfg, run_dir, resume=cfg.resume, error=TrainSetupError)
    accelerator = build_accelerator(
        mixed_precision=cfg.mixed_precision, log_dir=run_dir / "logs", seed=cfg.seed
    )
    rank, world = accelerator.process_index, accelerator.num_processes

    train_pairs = _load_pairs(cfg.train_data, cfg)
    val_pairs = _load_pairs(cfg.val_data, cfg)
    core, processor = _build_model(cfg, train_pairs, run_dir, accelerator)
    dims = list(core.dims)
    model = _set_trainable(core, cfg)
    embed = core.backbone.get_input_embeddings().weight
    frozen_rows = torch.ones(embed.shape[0], dtype=torch.bool)
    frozen_rows[core.reward_token_ids.cpu()] = False

    optimizer = torch.optim.AdamW(_param_groups(core, model, cfg))
    micro = cfg.batch_size * world
    total = cfg.steps
    if cfg.epochs is not None:
        total = math.ceil(cfg.epochs * len(train_pairs) / (micro * cfg.grad_accum))
    scheduler = lr_scheduler(optimizer, cfg.optim, total)
    model, optimizer = accelerator.prepare(model, optimizer)

    start = 0
    if latest is not None:
        start, _ = load_checkpoint(latest, model=model, optimizer=optimizer, scheduler=scheduler)
        if accelerator.is_main_process:
            print(f"vidalign: resumed from {latest} at step {start}")

    cache = ClipCache(processor)
    history: list[dict[str, float]] = []
    final_eval: dict[str, float] = {}
    end = total if cfg.stop_at is None else min(cfg.stop_at, total)
    bar = progress(total, initial=start, desc="reward") if cfg.progress else None
    model.train()
    for step in range(start, end):
        sums: dict[str, float] = {}
        for a in range(cfg.grad_accum):
            idx = batch_indices(
                len(train_pairs), micro, seed=cfg.seed, step=step * cfg.grad_accum + a,
                rank=rank, world_size=world,
            )  # fmt: skip
            batch_pairs = [train_pairs[i] for i in idx]
            clips = [cache.get(p.path_a) for p in batch_pairs] + [
                cache.get(p.path_b) for p in batch_pairs
            ]
            prompts = [p.prompt for p in batch_pairs] * 2
            inputs = {
                k: v.to(accelerator.device) for k, v in processor.collate(clips, prompts).items()
            }
            sync = a == cfg.grad_accum - 1
            with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                r = model(**inputs).float()
                b = len(batch_pairs)
                t = {k: v.to(r.device) for k, v in pair_targets(batch_pairs, dims).items()}
                _, stats = reward_loss(cfg.loss, r[:b], r[b:], t, theta=cfg.theta, dims=dims)
                loss = batch_loss(stats)
                stop_if_not_finite(loss, step=step, run_dir=run_dir, model=model,
                                   optimizer=optimizer, scheduler=scheduler)  # fmt: skip
                accelerator.backward(loss / cfg.grad_accum)
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) / cfg.grad_accum
            for k, v in stats.metrics.items():
                sums[k] = sums.get(k, 0.0) + v / cfg.grad_accum
        if embed.grad is not None:
            embed.grad[frozen_rows.to(embed.grad.device)] = 0  # only reward-token rows learn
        if cfg.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        history.append(sums)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{sums['loss']:.4f}")
        if due(done, cfg.log_every, end):  # lr: the backbone's (the other groups scale alike)
            log_metrics(accelerator, run_dir, done, sums, lr=scheduler.get_last_lr()[0])
        if val_pairs and ((cfg.eval_every and done % cfg.eval_every == 0) or done == total):
            if accelerator.is_main_process:
                last_eval = evaluate(
                    core, processor, cache, val_pairs, loss=cfg.loss, theta=cfg.theta
                )
                final_eval = last_eval if done == total else {}
                val = {k.removeprefix("val/"): v for k, v in last_eval.items()}
                log_metrics(accelerator, run_dir, done, val, split="val")
            accelerator.wait_for_everyone()
        if due(done, cfg.save_every, end):
            save_checkpoint(
                run_dir, done, model=model, optimizer=optimizer, scheduler=scheduler,
                keep=cfg.keep,
            )  # fmt: skip
    if bar is not None:
        bar.close()

    if end < total:
        accelerator.end_training()
        return TrainResult(run_dir, None, max(start, end), history)
    model_dir = run_dir / "model"
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(model)
        if cfg.lora.enabled:
            final = final.merge_and_unload()
        scorer = RewardScorer(final, processor)
        keys = sorted(
            {(p.path_a, p.prompt) for p in train_pairs}
            | {(p.path_b, p.prompt) for p in train_pairs}
        )
        scorer.fit_normalization([cache.get(k[0]) for k in keys], [k[1] for k in keys])
        scorer.save_pretrained(model_dir)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(run_dir, model_dir, total, history, final_eval)
