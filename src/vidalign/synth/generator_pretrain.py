"""Pre-training the synthetic world's base generator from scratch (flow matching in pixels).

Loss: ``‖v_θ(x_t, t, y) - (noise - x0)‖²`` with logit-normal ``t`` (REFERENCE.md §4 conventions);
the prompt is replaced by the empty prompt with probability ``cond_dropout`` so that one
network serves as both branches of classifier-free guidance. With ``object_weight`` the
clean-clip error of object pixels weighs more early in training (``vidalign.policy.weighting``).

The run folder holds ``config.yaml``, ``data/`` (the clip cache), ``logs/`` (TensorBoard),
``metrics.jsonl`` (per logged step), ``checkpoints/step-N/`` (resumable) and, at the end,
``model/`` (the generator folder).
"""

from __future__ import annotations

from pathlib import Path

import torch

from vidalign.config import check_config
from vidalign.flow import flow_matching_loss, sample_path, sample_time
from vidalign.policy.adapter import SamplingDefaults, WanAdapter
from vidalign.policy.errors import GeneratorError
from vidalign.policy.folder import save_generator
from vidalign.policy.tiny import build_pixel_generator
from vidalign.policy.weighting import object_weight_strength, object_weights
from vidalign.synth.generator_config import PretrainConfig
from vidalign.synth.generator_data import load_or_render, vocabulary_texts
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


def build_generator(cfg: PretrainConfig) -> WanAdapter:
    """A fresh pixel-space generator with the sizes and sampling defaults of ``cfg``."""
    a, d, s = cfg.arch, cfg.data, cfg.sampling
    defaults = SamplingDefaults(
        num_frames=d.num_frames, height=d.size, width=d.size, fps=d.fps,
        steps=s.steps, cfg=s.cfg, shift=s.shift,
    )  # fmt: skip
    return build_pixel_generator(
        vocabulary_texts(), defaults, patch_size=tuple(a.patch_size),
        num_layers=a.num_layers, num_heads=a.num_heads, head_dim=a.head_dim, ffn_dim=a.ffn_dim,
        text_dim=a.text_dim, text_layers=a.text_layers, text_heads=a.text_heads,
        max_sequence_length=a.max_sequence_length, prediction=a.prediction, min_t=a.min_t,
        coord_channels=a.coord_channels, seed=cfg.seed,
    )  # fmt: skip


def pretrain(cfg: PretrainConfig) -> TrainResult:
    """Train (or, with ``resume``, continue) the base generator of ``cfg``; see the module
    docstring. With ``stop_at`` the call ends after that step with a checkpoint and without
    ``model/`` (``model_dir`` None), as if the job had been stopped there."""
    check_config(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    ckpt = start_run(cfg, run_dir, resume=cfg.resume, error=GeneratorError)
    accelerator = build_accelerator(
        mixed_precision=cfg.mixed_precision, log_dir=run_dir / "logs", seed=cfg.seed
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if world > 1:  # every rank draws its own t, noise and prompt dropout
        torch.manual_seed(cfg.seed + 7919 * rank)

    d = cfg.data
    data_kwargs = dict(
        num_clips=d.num_clips, num_prompts=d.num_prompts, profiles=d.profiles, seed=d.seed,
        size=d.size, num_frames=d.num_frames, fps=d.fps,
    )  # fmt: skip
    if accelerator.is_main_process:
        load_or_render(run_dir / "data", **data_kwargs)
    accelerator.wait_for_everyone()
    clips, prompts = load_or_render(run_dir / "data", main_process=False, **data_kwargs)

    adapter = build_generator(cfg)
    adapter.text.precompute([*sorted(set(prompts)), ""])
    empty = adapter.empty_cond.to(accelerator.device)
    params = [p for p in adapter.transformer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = lr_scheduler(optimizer, cfg.optim, cfg.steps)
    start = 0
    if ckpt is not None:
        start, _ = load_checkpoint(
            ckpt, model=adapter.transformer, optimizer=optimizer, scheduler=scheduler
        )
        accelerator.print(f"resumed from {ckpt} (step {start})")
    model, optimizer = accelerator.prepare(adapter.transformer, optimizer)
    adapter.transformer = model
    adapter.text.to(accelerator.device)

    per_rank = cfg.batch_size // world
    history: list[dict[str, float]] = []
    bar = progress(cfg.steps, initial=start, desc="pretrain") if cfg.progress else None
    end = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
    for step in range(start, end):
        idx = batch_indices(
            len(clips), cfg.batch_size, seed=cfg.seed, step=step, rank=rank, world_size=world
        )
        x0 = adapter.encode(clips[idx])
        cond = adapter.encode_text([prompts[i] for i in idx])
        drop = torch.rand(per_rank) < cfg.cond_dropout
        cond = torch.where(drop.to(cond.device).view(-1, 1, 1), empty, cond)
        t = sample_time(
            per_rank, cfg.time_sampling, mean=cfg.time_mean, std=cfg.time_std, shift=cfg.time_shift
        ).to(x0.device)
        path = sample_path(x0, t, noise=torch.randn(x0.shape).to(x0.device))
        v_hat = adapter(path.x_t, path.t, cond)
        strength = object_weight_strength(
            step, cfg.steps, cfg.object_weight, cfg.object_weight_until
        )
        # object weights are per pixel: the same in either space (x0_hat - x0 = -t·(v_hat - v))
        weight = object_weights(x0, strength) if strength > 0 else None
        per_sample = flow_matching_loss(v_hat, path.v, weight)
        if cfg.loss_space == "sample":  # ‖x0 - x0_hat‖² = t²·‖v - v_hat‖²
            per_sample = per_sample * path.t.to(per_sample.dtype) ** 2
        loss = per_sample.mean()
        stop_if_not_finite(loss, step=step, run_dir=run_dir, model=model, optimizer=optimizer,
                           scheduler=scheduler)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(params, cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        value = accelerator.reduce(loss.detach(), reduction="mean").item()
        history.append({"loss": value})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}")
        if due(step + 1, cfg.log_every, end):
            log_metrics(accelerator, run_dir, step + 1, {"loss": value},
                        lr=scheduler.get_last_lr()[0])  # fmt: skip
        if due(step + 1, cfg.save_every, end):
            save_checkpoint(run_dir, step + 1, model=model, optimizer=optimizer,
                            scheduler=scheduler, keep=cfg.keep)  # fmt: skip
    if bar is not None:
        bar.close()

    if end < cfg.steps:
        accelerator.end_training()
        return TrainResult(run_dir, None, max(start, end), history)
    model_dir = run_dir / "model"
    if accelerator.is_main_process:
        adapter.transformer = accelerator.unwrap_model(model)
        save_generator(adapter, model_dir, extra={"trained_steps": cfg.steps, "data": data_kwargs})
    accelerator.wait_for_everyone()
    accelerator.end_training()  # also ends the process group: keep it last
    return TrainResult(run_dir, model_dir, cfg.steps, history)
