"""Training the latent reward model with BTT on noised latents (REFERENCE.md §4, Flow-NRG).

Per step, for each pair (A, B) with prompt y:

    t ~ U(0, 1) (variant "noised") or t = 0 (variant "clean"), noise ~ N(0, I), shared by A and B
    x_t^A = (1 − t)·x0^A + t·noise,  x_t^B likewise
    loss = BTT(r(x_t^A, t, y), r(x_t^B, t, y), labels)      (vidalign.reward.losses.btt_loss)

The trunk starts as a copy of the generator's first K blocks and is trained together with the
pooling layer and heads; the generator itself is only read.

The run folder holds ``config.yaml``, ``logs/`` (TensorBoard), ``metrics.jsonl`` (per
logged step; with validation pairs, the binned accuracy as a ``"split": "val"`` row),
``checkpoints/step-N/`` (resumable), and at the end ``model/`` (the latent reward model
folder) and, with validation pairs, ``eval.json`` (accuracy binned by t).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vidalign.config import check_config, config_to_dict
from vidalign.flow import interpolate
from vidalign.guidance.config import LatentRMConfig
from vidalign.guidance.data import LatentPairs, encode_pairs, pair_dims
from vidalign.guidance.errors import LatentRewardError
from vidalign.guidance.evaluate import accuracy_metrics, accuracy_to_json, binned_accuracy
from vidalign.guidance.folder import save_latent_reward
from vidalign.guidance.model import LatentRewardModel, from_generator
from vidalign.reward.losses import RewardLossStats, batch_loss, btt_loss
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

EVAL_FILE = "eval.json"
"""The held-out accuracy table by t bin (``guidance.evaluate.read_accuracy`` reads it)."""


def load_data(cfg: LatentRMConfig, *, progress_bar: bool = True):
    """Generator, dims, and train / validation ``LatentPairs`` of ``cfg``."""
    from vidalign.data import load_pairs
    from vidalign.policy.folder import load_generator

    if not cfg.generator:
        raise LatentRewardError("set 'generator' to the generator folder the trunk is copied from")
    if not cfg.train_data:
        raise LatentRewardError("set 'train_data' to a pair file")
    adapter = load_generator(cfg.generator)
    root = cfg.video_root or None
    train_pairs = load_pairs(cfg.train_data, cfg.dims or None, video_root=root)
    dims = pair_dims(train_pairs, cfg.dims)
    train = encode_pairs(train_pairs, adapter, dims, progress=progress_bar)
    val = None
    if cfg.val_data:
        val_pairs = load_pairs(cfg.val_data, dims, video_root=root)
        val = encode_pairs(val_pairs, adapter, dims, progress=progress_bar)
    return adapter, dims, train, val


def pair_loss(
    model: torch.nn.Module, data: LatentPairs, idx: list[int], t: torch.Tensor,
    noise: torch.Tensor, theta: float,
) -> tuple[torch.Tensor, RewardLossStats]:  # fmt: skip
    """BTT loss of pairs ``idx`` at times ``t`` (b,) with shared ``noise`` (b, C, F, H, W):
    per-pair losses (b,) and their stats, as ``btt_loss``."""
    device = t.device
    x0a, x0b = data.x0[data.a[idx]].to(device), data.x0[data.b[idx]].to(device)
    cond = data.cond[data.prompt[idx]].to(device)
    x_a, x_b = interpolate(x0a, noise, t), interpolate(x0b, noise, t)
    r = model(torch.cat([x_a, x_b]), torch.cat([t, t]), torch.cat([cond, cond]))
    r_a, r_b = r.chunk(2)
    return btt_loss(
        r_a, r_b, data.labels[idx].to(device), data.valid[idx].to(device), theta=theta,
        dims=data.dims,
    )  # fmt: skip


def train_latent_rm(cfg: LatentRMConfig) -> TrainResult:
    """Train (or, with ``resume``, continue) the latent reward model of ``cfg``; see the
    module docstring. With validation pairs ``final_metrics`` holds the binned accuracy
    (``guidance.evaluate.accuracy_metrics``; the table is ``eval.json``). With ``stop_at``
    the call ends after that step with a checkpoint and no model (``model_dir`` None)."""
    check_config(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    ckpt = start_run(cfg, run_dir, resume=cfg.resume, error=LatentRewardError)
    accelerator = build_accelerator(log_dir=run_dir / "logs", seed=cfg.seed)
    rank, world = accelerator.process_index, accelerator.num_processes
    if world > 1:  # every rank draws its own t and noise
        torch.manual_seed(cfg.seed + 7919 * rank)

    adapter, dims, train, val = load_data(cfg, progress_bar=cfg.progress and rank == 0)
    model = from_generator(
        adapter.transformer,
        cfg.num_blocks,
        dims,
        pooling=cfg.pooling,
        coord_channels=adapter.coord_channels,
        seed=cfg.seed,
    )
    del adapter
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
    )
    scheduler = lr_scheduler(optimizer, cfg.optim, cfg.steps)
    start = 0
    if ckpt is not None:
        start, _ = load_checkpoint(ckpt, model=model, optimizer=optimizer, scheduler=scheduler)
        accelerator.print(f"resumed from {ckpt} (step {start})")
    model, optimizer = accelerator.prepare(model, optimizer)
    device = accelerator.device

    per_rank = cfg.batch_size // world
    history: list[dict[str, float]] = []
    bar = progress(cfg.steps, initial=start, desc="latent rm") if cfg.progress else None
    end = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
    for step in range(start, end):
        idx = batch_indices(
            len(train), cfg.batch_size, seed=cfg.seed, step=step, rank=rank, world_size=world
        )
        if cfg.variant == "noised":
            t = torch.rand(per_rank)
        else:
            t = torch.zeros(per_rank)
        noise = torch.randn((per_rank, *train.x0.shape[1:]))
        _, stats = pair_loss(model, train, idx, t.to(device), noise.to(device), cfg.theta)
        loss = batch_loss(stats)
        stop_if_not_finite(loss, step=step, run_dir=run_dir, model=model,
                           optimizer=optimizer, scheduler=scheduler)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        value = accelerator.reduce(loss.detach(), reduction="mean").item()
        row = {"loss": value, **stats.metrics}
        history.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}")
        if due(step + 1, cfg.log_every, end):
            log_metrics(accelerator, run_dir, step + 1, row, lr=scheduler.get_last_lr()[0])
        if due(step + 1, cfg.save_every, end):
            save_checkpoint(
                run_dir, step + 1, model=model, optimizer=optimizer, scheduler=scheduler,
                keep=cfg.keep,
            )  # fmt: skip
    if bar is not None:
        bar.close()

    if end < cfg.steps:
        accelerator.end_training()
        return TrainResult(run_dir, None, max(start, end), history)
    model_dir = run_dir / "model"
    final: LatentRewardModel = accelerator.unwrap_model(model)
    metrics: dict[str, float] = {}
    if accelerator.is_main_process:
        extra = {
            "generator": str(cfg.generator),
            "variant": cfg.variant,
            "trained_steps": cfg.steps,
            "train_config": config_to_dict(cfg),
        }
        save_latent_reward(final, model_dir, extra=extra)
        if val is not None:
            rows = binned_accuracy(
                final, val, bins=cfg.eval_bins, draws=cfg.eval_draws, seed=cfg.seed
            )
            (run_dir / EVAL_FILE).write_text(json.dumps(accuracy_to_json(rows), indent=2))
            metrics = accuracy_metrics(rows)
            val = {k.removeprefix("val/"): v for k, v in metrics.items()}
            log_metrics(accelerator, run_dir, cfg.steps, val, split="val")
    accelerator.end_training()
    accelerator.wait_for_everyone()
    return TrainResult(run_dir, model_dir, cfg.steps, history, metrics)
