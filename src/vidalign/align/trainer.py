"""One trainer for Flow-DPO, Flow-RWR and SFT on a LoRA of the generator (REFERENCE.md §4).

Each step draws a global batch with ``batch_indices`` and, for every example, its ``t``
(``sample_time``) and its noise from a generator seeded by (seed, step, position in the
global batch). So the data, times and noise of a step are pure functions of the config:
a resumed run repeats an uninterrupted one exactly, and N processes see what one process
would with the same global batch.

The run folder holds ``config.yaml``, ``logs/`` (TensorBoard), ``metrics.jsonl`` (per
logged step), ``checkpoints/step-N/`` and, at the end, ``lora/`` (diffusers LoRA format)
and, with ``merge``, ``model/`` (the base generator with the LoRA merged).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from vidalign.align.config import AlignConfig
from vidalign.align.data import (
    AlignDataError,
    Clip,
    ClipPair,
    LatentStore,
    read_clip_pairs,
    rwr_clips,
    sft_clips,
)
from vidalign.align.export import merge_to_folder
from vidalign.align.losses import dpo_beta, rwr_weights
from vidalign.align.objectives import (
    flow_dpo_objective,
    flow_matching_objective,
    flow_rwr_objective,
)
from vidalign.config import check_config
from vidalign.eval.hacking import HackingMonitor
from vidalign.eval.judges import Judge, load_judge
from vidalign.eval.prompt_sets import read_prompt_set
from vidalign.flow import classifier_free_guidance, sample_time
from vidalign.policy.adapter import WanAdapter
from vidalign.policy.folder import load_generator
from vidalign.policy.lora import add_lora, save_lora
from vidalign.policy.sampling import sample_videos
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
from vidalign.video import read_video


def example_seed(seed: int, step: int, position: int) -> int:
    """Seed of the t and noise of the example at ``position`` of step ``step``'s global batch."""
    return (seed * 1_000_003 + step * 65_537 + position * 7919 + 11) % (2**63 - 1)


def draw_time_and_noise(
    cfg: AlignConfig, step: int, positions: list[int], shape: tuple[int, ...]
) -> tuple[Tensor, Tensor]:
    """t (B,) and noise (B, *shape) for the given global-batch positions of ``step``."""
    ts, noises = [], []
    for pos in positions:
        g = torch.Generator().manual_seed(example_seed(cfg.seed, step, pos))
        ts.append(
            sample_time(1, cfg.time_sampling, mean=cfg.time_mean, std=cfg.time_std,
                        shift=cfg.time_shift, generator=g)
        )  # fmt: skip
        noises.append(torch.randn(shape, generator=g))
    return torch.cat(ts), torch.stack(noises)


def _examples(cfg: AlignConfig) -> list[ClipPair] | list[Clip]:
    if not cfg.pairs:
        raise AlignDataError(
            "no pair file given: set pairs=PATH (from `vidalign align make-pairs`)"
        )
    pairs = read_clip_pairs(cfg.pairs, label=cfg.label)
    if cfg.method == "dpo":
        return pairs
    if cfg.method == "sft":
        return sft_clips(pairs)
    return rwr_clips(pairs, where=cfg.pairs)


def _encoder(adapter: WanAdapter):
    d = adapter.defaults

    def encode(path: str) -> Tensor:
        video = read_video(path, num_frames=d.num_frames)
        _, _, h, w = video.frames.shape
        if (h, w) != (d.height, d.width):
            raise AlignDataError(
                f"{path}: frames are {h}x{w}; the generator trains on {d.height}x{d.width}"
            )
        return adapter.encode(video.frames.unsqueeze(0))[0].cpu()

    return encode


def train_align(
    cfg: AlignConfig, *, named_judges: Mapping[str, Judge] | None = None
) -> TrainResult:
    """Train (or, with ``resume``, continue) a LoRA with ``cfg.method``; see the module
    docstring. ``TrainResult.model_dir`` is the ``lora/`` folder (``model/``, with ``merge``,
    holds the merged generator); with ``stop_at`` the call ends after that step with a
    checkpoint and no export (``model_dir`` None), as if the job were stopped there.
    ``named_judges`` resolves the monitor's proxy and gold when they are words, not folders
    (the CLI and the demo pass the synthetic world's ``oracle``)."""
    check_config(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    ckpt = start_run(cfg, run_dir, resume=cfg.resume, error=AlignDataError,
                     outputs=("lora", "model"))  # fmt: skip
    accelerator = build_accelerator(
        mixed_precision=cfg.mixed_precision, log_dir=run_dir / "logs", seed=cfg.seed
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if cfg.batch_size % world:
        raise AlignDataError(f"batch_size {cfg.batch_size} does not divide by {world} processes")

    if not cfg.policy:
        raise AlignDataError("no base generator given: set policy=FOLDER")
    examples = _examples(cfg)
    adapter = load_generator(cfg.policy, device=accelerator.device)
    prompts = sorted({(e.winner if isinstance(e, ClipPair) else e).prompt for e in examples})
    monitor_prompts = select_monitor_prompts(cfg, prompts)
    adapter.text.precompute([*prompts, *monitor_prompts, ""])  # "": CFG's empty prompt
    adapter.text.release_encoder()
    shape = adapter.latent_shape()
    store = LatentStore(shape, _encoder(adapter))
    reward_mean = 0.0
    if cfg.method == "rwr":
        reward_mean = sum(c.reward for c in examples) / len(examples)  # type: ignore[union-attr]

    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        a = cfg.lora
        add_lora(adapter.transformer, rank=a.rank, alpha=a.alpha, dropout=a.dropout,
                 target_modules=a.targets)  # fmt: skip
    base = adapter.transformer
    params = [p for p in base.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = lr_scheduler(optimizer, cfg.optim, cfg.steps)
    start = 0
    if ckpt is not None:
        start, _ = load_checkpoint(ckpt, model=base, optimizer=optimizer, scheduler=scheduler)
        accelerator.print(f"resumed from {ckpt} (step {start})")
    model, optimizer = accelerator.prepare(base, optimizer)
    adapter.transformer = model
    reference = copy.copy(adapter)  # shares every weight; calls the unwrapped network
    reference.transformer = base

    def policy_conditional(x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        with accelerator.autocast():
            return adapter(x_t, t, cond)

    def ref_conditional(x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        with accelerator.autocast():
            return reference(x_t, t, cond)

    # The loss is measured on the velocity the sampler follows: guided at ``train_cfg``.
    empty = adapter.empty_cond.to(accelerator.device)
    policy = classifier_free_guidance(policy_conditional, cfg.train_cfg, empty)
    ref_velocity = classifier_free_guidance(ref_conditional, cfg.train_cfg, empty)

    monitor = build_monitor(cfg, monitor_prompts, run_dir, accelerator, named_judges)

    def sample_fn(ps: list[str], seeds: list[int]) -> Tensor:
        # The unwrapped network with the LoRA active: the current policy, outside DDP.
        base.eval()
        try:
            return sample_videos(reference, ps, seeds, steps=cfg.monitor.sample_steps)
        finally:
            base.train()

    if monitor is not None and start == 0:
        monitor.evaluate(0, sample_fn)
    per = cfg.batch_size // world
    positions = list(range(rank * per, (rank + 1) * per))
    end = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
    history: list[dict[str, float]] = []
    bar = progress(cfg.steps, initial=start, desc=f"align {cfg.method}") if cfg.progress else None
    device = accelerator.device
    for step in range(start, end):
        n = len(examples)
        idx = batch_indices(n, cfg.batch_size, seed=cfg.seed, step=step, rank=rank,
                            world_size=world)  # fmt: skip
        batch = [examples[i] for i in idx]
        t, noise = draw_time_and_noise(cfg, step, positions, shape)
        t, noise = t.to(device), noise.to(device)
        metrics: dict[str, Tensor] = {}
        if cfg.method == "dpo":
            x0_w = store.batch([p.winner for p in batch]).to(device)  # type: ignore[union-attr]
            x0_l = store.batch([p.loser for p in batch]).to(device)  # type: ignore[union-attr]
            cond = adapter.encode_text([p.winner.prompt for p in batch])  # type: ignore[union-attr]
            beta_t = dpo_beta(cfg.beta, t, cfg.beta_schedule)
            per_pair, stats = flow_dpo_objective(
                policy, ref_velocity, base, x0_w, x0_l, cond, noise, t, beta_t,
                sft_weight=cfg.sft_weight,
            )  # fmt: skip
            metrics = {"implicit_acc": stats.acc.mean(), "margin": stats.margin.mean(),
                       "w_diff": stats.w_diff.mean(), "l_diff": stats.l_diff.mean(),
                       "beta_t": beta_t.mean()}  # fmt: skip
        else:
            clips: list[Clip] = batch  # type: ignore[assignment]
            x0 = store.batch(clips).to(device)
            cond = adapter.encode_text([c.prompt for c in clips])
            if cfg.method == "sft":
                per_pair = flow_matching_objective(policy, x0, cond, noise, t)
            else:
                weights = _rwr_batch_weights(cfg, examples, step, world, rank, reward_mean)
                per_pair, rwr = flow_rwr_objective(policy, x0, cond, noise, t, weights.to(device))
                metrics = {"rwr_weight_max": rwr.weights.max()}
        loss = per_pair.mean()
        stop_if_not_finite(loss, step=step, run_dir=run_dir, model=model, optimizer=optimizer,
                           scheduler=scheduler)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(params, cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        values = {"loss": loss.detach(), **metrics}
        row = {k: accelerator.reduce(v.detach().float().to(device), reduction="mean").item()
               for k, v in values.items()}  # fmt: skip
        history.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(
                {k: f"{v:.3f}" for k, v in row.items() if k in ("loss", "implicit_acc")}
            )
        if due(step + 1, cfg.log_every, end):
            log_metrics(accelerator, run_dir, step + 1, row, lr=scheduler.get_last_lr()[0])
        if monitor is not None:
            monitor.maybe_evaluate(step + 1, sample_fn)
        if due(step + 1, cfg.save_every, end):
            save_checkpoint(run_dir, step + 1, model=model, optimizer=optimizer,
                            scheduler=scheduler, keep=cfg.keep)  # fmt: skip
    if bar is not None:
        bar.close()

    if end < cfg.steps:
        accelerator.end_training()  # also ends the process group: last
        return TrainResult(run_dir, None, max(start, end), history)
    lora_dir = run_dir / "lora"
    if accelerator.is_main_process:
        save_lora(accelerator.unwrap_model(model), lora_dir, family=adapter.family)
        if cfg.merge:
            merge_to_folder(cfg.policy, lora_dir, run_dir / "model")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(run_dir, lora_dir, cfg.steps, history)


def select_monitor_prompts(cfg, train_prompts: list[str]) -> list[str]:
    """The prompts the reward-hacking monitor samples (none when it is off)."""
    m = cfg.monitor
    if m.every <= 0:
        return []
    if m.prompts:
        return read_prompt_set(m.prompts)[: m.num_prompts]
    return train_prompts[: m.num_prompts]


def build_monitor(
    cfg,
    prompts: list[str],
    run_dir: Path,
    accelerator,
    named_judges: Mapping[str, Judge] | None = None,
):
    """The reward-hacking monitor of ``cfg.monitor``, on the main process only (or None);
    its proxy and gold are ``load_judge(spec, named=named_judges)``."""
    m = cfg.monitor
    if m.every <= 0 or not accelerator.is_main_process:
        return None
    if not m.proxy:
        raise AlignDataError("monitor.every > 0 needs monitor.proxy, the reward model folder")
    return HackingMonitor(
        run_dir,
        prompts,
        [m.seed + i for i in range(len(prompts))],
        load_judge(m.proxy, named=named_judges).scorer,
        load_judge(m.gold, named=named_judges).scorer,
        every=m.every,
        window=m.window,
        gold_tolerance=m.gold_tolerance,
        log_fn=lambda values, step: accelerator.log(values, step=step),
    )


def _rwr_batch_weights(
    cfg: AlignConfig, clips: list, step: int, world: int, rank: int, reward_mean: float
) -> Tensor:
    """This rank's Flow-RWR weights, normalised over the *global* batch (as one process would)."""
    idx = batch_indices(len(clips), cfg.batch_size, seed=cfg.seed, step=step)
    r = torch.tensor([clips[i].reward for i in idx], dtype=torch.float32)
    w = rwr_weights(
        r,
        temperature=cfg.rwr_temperature,
        normalisation=cfg.rwr_normalisation,
        reward_mean=reward_mean,
    )
    per = cfg.batch_size // world
    return w[rank * per : (rank + 1) * per]
