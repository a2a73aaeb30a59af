"""Online Flow-GRPO on a LoRA of the generator, with multi-dimensional rewards.

Each step:

1. **Rollouts.** ``prompts_per_step`` prompts (``batch_indices``), G samples each, drawn with
   the current policy by the marginal-preserving SDE (``vidalign.flow.sde``); every SDE
   step keeps its latents and float32 log-probability. The noise of a rollout comes from
   one generator seeded by (seed, step, the prompt's position in the step's global batch,
   the sample's index in its group), so a resumed run repeats an uninterrupted one and N
   processes draw what one process would.
2. **Rewards.** The final latents are decoded (only for the reward; clips go to the CPU)
   and scored in batches; rewards of all processes are gathered and the advantages
   normalised within each prompt's group (``grpo_losses.group_advantages``).
3. **Update.** On a ``timestep_fraction`` of the SDE steps (the same steps for the whole
   batch, drawn from (seed, step)) the policy's log-probability of each recorded step is
   recomputed with the same batches and code as in the rollout, so at the first update the
   importance ratio is exactly 1. The loss is the PPO-clipped surrogate plus β times the
   Gaussian KL between the policy's and the reference's step distributions,
   ‖μ_θ − μ_ref‖² / (2 std²) per element; the reference is the same network with its LoRA
   disabled. ``inner_epochs`` optimizer updates reuse the rollouts.

The run folder is the align trainer's: ``config.yaml``, ``rewards.json`` (sources,
dimensions, weights and the combination used), ``logs/``, ``metrics.jsonl``,
``checkpoints/step-N/`` and at the end ``lora/``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from vidalign.align.grpo_config import GRPOConfig
from vidalign.align.grpo_losses import clipped_policy_loss, group_advantages, step_kl
from vidalign.align.grpo_rewards import RewardSource, build_rewards, resolve_reward_weights
from vidalign.align.trainer import build_monitor, select_monitor_prompts
from vidalign.config import check_config
from vidalign.errors import VidalignError
from vidalign.eval.judges import Judge
from vidalign.flow import classifier_free_guidance, time_grid
from vidalign.flow.sde import (
    SDEStep,
    gaussian_log_prob,
    sde_sample,
    sde_step_mean,
    sde_step_std,
    sde_window,
)
from vidalign.policy.folder import load_generator
from vidalign.policy.lora import add_lora, lora_disabled, save_lora
from vidalign.policy.sampling import read_prompt_file, sample_videos
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


class GRPOError(VidalignError):
    """The GRPO run's settings or inputs are unusable; the message says which."""


def rollout_seed(seed: int, step: int, position: int, member: int) -> int:
    """Seed of the noise of sample ``member`` of the prompt at ``position`` of step ``step``."""
    return (seed * 1_000_003 + step * 65_537 + position * 7919 + member * 104_729 + 13) % (
        2**63 - 1
    )


def train_steps(seed: int, step: int, num_sde: int, fraction: float) -> list[int]:
    """Which of the ``num_sde`` recorded SDE steps step ``step`` trains on (sorted)."""
    k = max(1, round(fraction * num_sde))
    g = torch.Generator().manual_seed(seed * 1_000_003 + step * 65_537 + 101)
    return sorted(torch.randperm(num_sde, generator=g)[:k].tolist())


@dataclass
class Chunk:
    """One micro-batch of rollouts: its prompts, global group ids and recorded SDE steps."""

    prompts: list[str]
    groups: list[int]
    names: list[str]
    steps: list[SDEStep]
    x0: Tensor | None = None


def _window(cfg: GRPOConfig, steps: int) -> tuple[int, int] | None:
    window = (cfg.sde_window_start, cfg.sde_window) if cfg.sde_window > 0 else None
    try:
        sde_window(steps, window)
    except ValueError as err:
        raise GRPOError(f"sde_window/sde_window_start: {err}") from None
    return window


def train_grpo(
    cfg: GRPOConfig,
    *,
    gold_sources: Mapping[str, RewardSource] | None = None,
    named_judges: Mapping[str, Judge] | None = None,
) -> TrainResult:
    """Train (or, with ``resume``, continue) a LoRA with Flow-GRPO; see the module docstring.

    ``TrainResult.model_dir`` is the ``lora/`` folder; with ``stop_at`` the call ends after
    that step with a checkpoint and no export (``model_dir`` None). Each history row also
    holds the step's seconds of sampling, reward scoring and training (``sample_s``,
    ``reward_s``, ``train_s``, this process's), which no resume repeats exactly.

    ``gold_sources`` are the reward sources ``reward.sources`` may name by a word (with
    ``gold_control``), ``named_judges`` the judges the monitor may; the CLI and the demo pass
    the synthetic world's ``oracle`` for both (``vidalign.synth.scorers``).
    """
    check_config(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    ckpt = start_run(cfg, run_dir, resume=cfg.resume, error=GRPOError, outputs=("lora",))
    accelerator = build_accelerator(
        mixed_precision=cfg.mixed_precision, log_dir=run_dir / "logs", seed=cfg.seed
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if cfg.prompts_per_step % world:
        raise GRPOError(
            f"prompts_per_step {cfg.prompts_per_step} does not divide by {world} processes"
        )
    if cfg.lora.dropout > 0:
        raise GRPOError(
            "lora.dropout must be 0 for GRPO: dropout draws another policy in the update than "
            "in the rollout, so the importance ratio would not start at 1"
        )
    if not cfg.policy:
        raise GRPOError("no base generator given: set policy=FOLDER")
    if not cfg.prompts:
        raise GRPOError("no prompt file given: set prompts=FILE (.txt or .jsonl)")
    if not cfg.reward.sources:
        raise GRPOError("no reward given: set reward.sources (a reward model folder, ...)")
    prompts = list(dict.fromkeys(read_prompt_file(cfg.prompts)))
    adapter = load_generator(cfg.policy, device=accelerator.device)
    rewards = build_rewards(cfg.reward.sources, gold_sources=gold_sources,
                            gold_control=cfg.gold_control, device=accelerator.device,
                            batch_size=cfg.reward.batch_size)  # fmt: skip
    weights = resolve_reward_weights(rewards.dims, cfg.reward.weights)
    if accelerator.is_main_process:
        record = {"sources": list(cfg.reward.sources), "dims": rewards.dims,
                  "weights": dict(zip(rewards.dims, weights, strict=True)),
                  "combine": cfg.reward.combine, "advantage_std": cfg.advantage_std,
                  "kl": "gaussian step KL |mu - mu_ref|^2 / (2 std^2), per element"}  # fmt: skip
        (run_dir / "rewards.json").write_text(json.dumps(record, indent=2) + "\n")
    monitor_prompts = select_monitor_prompts(cfg, prompts)
    adapter.text.precompute([*prompts, *monitor_prompts, ""])
    adapter.text.release_encoder()
    shape = adapter.latent_shape(cfg.num_frames, cfg.height, cfg.width)
    d = adapter.defaults
    num_steps = cfg.sample_steps or d.steps
    grid = time_grid(num_steps, shift=cfg.shift or d.shift)
    window = _window(cfg, num_steps)

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
    unwrapped = copy.copy(adapter)  # shares every weight; calls the network outside DDP
    unwrapped.transformer = base

    def conditional(which):
        def v(x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
            with accelerator.autocast():
                return which(x_t, t, cond)

        return v

    empty = adapter.empty_cond.to(accelerator.device)
    policy = classifier_free_guidance(conditional(adapter), cfg.cfg, empty)
    rollout_policy = classifier_free_guidance(conditional(unwrapped), cfg.cfg, empty)
    monitor = build_monitor(cfg, monitor_prompts, run_dir, accelerator, named_judges)

    def sample_fn(ps: list[str], seeds: list[int]) -> Tensor:
        base.eval()
        try:
            return sample_videos(unwrapped, ps, seeds, steps=cfg.monitor.sample_steps)
        finally:
            base.train()

    if monitor is not None and start == 0:
        monitor.evaluate(0, sample_fn)
    per = cfg.prompts_per_step // world
    end = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
    history: list[dict[str, float]] = []
    bar = progress(cfg.steps, initial=start, desc="align grpo") if cfg.progress else None
    device = accelerator.device
    for step in range(start, end):
        clock = time.perf_counter()
        idx = batch_indices(len(prompts), cfg.prompts_per_step, seed=cfg.seed, step=step,
                            rank=rank, world_size=world)  # fmt: skip
        chunks = _rollouts(cfg, step, [prompts[i] for i in idx], rank * per, adapter,
                           rollout_policy, shape, grid, window, device)  # fmt: skip
        sample_s = time.perf_counter() - clock

        clock = time.perf_counter()
        local = torch.cat([_score(adapter, rewards, c) for c in chunks]).to(device)
        reward_s = time.perf_counter() - clock

        clock = time.perf_counter()
        all_r = accelerator.gather(local).float().cpu()
        groups = torch.arange(cfg.prompts_per_step).repeat_interleave(cfg.group_size)
        adv_all = group_advantages(all_r, groups, weights, combine=cfg.reward.combine,
                                   std=cfg.advantage_std, clip=cfg.adv_clip)  # fmt: skip
        n_local = local.shape[0]
        adv = adv_all[rank * n_local : (rank + 1) * n_local].to(device)
        picked = train_steps(cfg.seed, step, len(chunks[0].steps), cfg.timestep_fraction)
        stats = _update(cfg, step, chunks, adv, picked, adapter, base, model, policy,
                        rollout_policy, optimizer, scheduler, params, accelerator, run_dir)  # fmt: skip
        train_s = time.perf_counter() - clock

        values = {**stats}
        for k, dim in enumerate(rewards.dims):
            values[f"reward_{dim}"] = all_r[:, k].mean()
        values["reward"] = (all_r @ torch.tensor(weights)).mean()
        values["adv_abs"] = adv_all.abs().mean()
        row = {k: accelerator.reduce(v.detach().float().to(device), reduction="mean").item()
               for k, v in values.items()}  # fmt: skip
        row.update(sample_s=sample_s, reward_s=reward_s, train_s=train_s)
        history.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k in ("reward", "kl")})
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
        accelerator.end_training()
        return TrainResult(run_dir, None, max(start, end), history)
    lora_dir = run_dir / "lora"
    if accelerator.is_main_process:
        save_lora(accelerator.unwrap_model(model), lora_dir, family=adapter.family)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(run_dir, lora_dir, cfg.steps, history)


@torch.no_grad()
def _rollouts(cfg, step, batch_prompts, first_pos, adapter, velocity, shape, grid, window, device):
    """This process's rollouts, in micro-batches: prompt-major, G samples per prompt."""
    items = [
        (first_pos + j, p, m) for j, p in enumerate(batch_prompts) for m in range(cfg.group_size)
    ]
    size = cfg.micro_batch or len(items)
    chunks = []
    for s in range(0, len(items), size):
        part = items[s : s + size]
        gens = [
            torch.Generator().manual_seed(rollout_seed(cfg.seed, step, pos, m))
            for pos, _, m in part
        ]
        noise = torch.stack([torch.randn(shape, generator=g) for g in gens]).to(device)

        def noise_fn(i: int, gens=gens) -> Tensor:
            return torch.stack([torch.randn(shape, generator=g) for g in gens])

        ps = [p for _, p, _ in part]
        cond = adapter.encode_text(ps)
        x0, steps = sde_sample(
            velocity, noise, cond, grid, cfg.noise_level, noise_fn, window=window
        )
        names = [f"step {step}, prompt #{pos}, sample {m}" for pos, _, m in part]
        chunks.append(Chunk(ps, [pos for pos, _, _ in part], names, steps, x0.float()))
    return chunks


@torch.no_grad()
def _score(adapter, rewards, chunk: Chunk) -> Tensor:
    """Decode a chunk's final latents (clips to the CPU) and score them: (B, D) float32."""
    clips = adapter.decode(chunk.x0).cpu()
    chunk.x0 = None  # only the reward needed the clean latents
    return rewards(clips, chunk.prompts, chunk.names).float()


def _update(cfg, step, chunks, adv, picked, adapter, base, model, policy, reference,
            optimizer, scheduler, params, accelerator, run_dir) -> dict[str, Tensor]:  # fmt: skip
    """``inner_epochs`` optimizer updates on the recorded steps ``picked`` of every chunk.

    ``reference`` is the policy's velocity outside DDP; it runs with the LoRA disabled."""
    terms = len(chunks) * len(picked)
    first_dev = torch.zeros(())
    sums: dict[str, Tensor] = {}
    for epoch in range(cfg.inner_epochs):
        optimizer.zero_grad(set_to_none=True)
        sums = {k: torch.zeros(()) for k in ("loss", "policy_loss", "kl", "ratio", "clip_frac")}
        offset = 0
        for ci, chunk in enumerate(chunks):
            b = len(chunk.prompts)
            a = adv[offset : offset + b]
            offset += b
            cond = adapter.encode_text(chunk.prompts)
            for j, k in enumerate(picked):
                st = chunk.steps[k]
                last = ci == len(chunks) - 1 and j == len(picked) - 1
                sync = contextlib.nullcontext() if last else accelerator.no_sync(model)
                with sync:
                    v = policy(st.x, st.t.expand(b), cond)
                    mean = sde_step_mean(st.x, v, st.t, st.t_next, st.sigma)
                    std = sde_step_std(st.t, st.t_next, st.sigma)
                    lp = gaussian_log_prob(st.x_next, mean, std)
                    pl, pstats = clipped_policy_loss(lp, st.log_prob, a, cfg.clip_range)
                    kl = torch.zeros_like(pl)
                    if cfg.beta > 0:
                        with torch.no_grad(), lora_disabled(base):
                            v_ref = reference(st.x, st.t.expand(b), cond)
                        kl = step_kl(
                            mean, sde_step_mean(st.x, v_ref, st.t, st.t_next, st.sigma), std
                        )
                    loss = (pl + cfg.beta * kl).mean()
                    stop_if_not_finite(loss, step=step, run_dir=run_dir, model=model,
                                       optimizer=optimizer, scheduler=scheduler)  # fmt: skip
                    accelerator.backward(loss / terms)
                r = pstats.ratio.cpu()
                if epoch == 0:
                    first_dev = torch.maximum(first_dev, (r - 1).abs().max())
                sums["loss"] += loss.detach().float().cpu() / terms
                sums["policy_loss"] += pl.detach().float().mean().cpu() / terms
                sums["kl"] += kl.detach().float().mean().cpu() / terms
                sums["ratio"] += r.mean() / terms
                sums["clip_frac"] += pstats.clipped.cpu().mean() / terms
        if cfg.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(params, cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
    return {**sums, "ratio_first_dev": first_dev}
