"""Pieces every trainer shares: the run start, the accelerator, resumable data order,
checkpoints, NaN guard.

Each trainer (reward model, base-VLM pre-training, policy pre-training, alignment,
Flow-GRPO, latent reward model) owns its loop and calls these, in one shape: its config
extends ``vidalign.training_config.RunConfig`` and holds an ``OptimConfig``; it starts with
``start_run``, builds its schedule with ``lr_scheduler``, logs with ``log_metrics`` (to
``metrics.jsonl`` and TensorBoard), checkpoints with ``save_checkpoint`` when ``due``, stops
after ``stop_at`` with a checkpoint, and returns a ``TrainResult``. Resuming is exact on
CPU: the data order is a pure function of ``(seed, step)``, and a checkpoint stores the
trainable weights, the optimizer and scheduler states and every process's RNG states.

Checkpoint layout, ``run_dir/checkpoints/step-N/``::

    model.safetensors   trainable parameters (or all, with trainable_only=False)
    optimizer.pt        optimizer.state_dict()   (read back with weights_only=True)
    scheduler.pt        scheduler.state_dict()
    rng-<rank>.pt       vidalign.checkpoint.rng_state() of each process
    state.json          {"step": N, "extra": {...}}
    COMPLETE            written last: size and SHA-256 of each file above (folders without
                        it are ignored; see vidalign.checkpoint)
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import save_file
from tqdm.auto import tqdm

from vidalign.atomic import atomic_file
from vidalign.checkpoint import (
    check_complete,
    complete_checkpoints,
    latest_checkpoint,
    prune_checkpoints,
    rng_state,
    set_rng_state,
    step_dir,
    write_complete,
)
from vidalign.config import ConfigError, config_from_dict, config_to_dict, save_config
from vidalign.errors import VidalignError
from vidalign.training_config import OptimConfig
from vidalign.weights import load_safetensors


class NonFiniteLossError(VidalignError):
    """The loss became NaN or infinite; training stopped."""


class CheckpointError(VidalignError):
    """A checkpoint folder is incomplete or does not match the model."""


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _barrier() -> None:
    if _dist()[1] > 1:
        torch.distributed.barrier()


def build_accelerator(
    *,
    mixed_precision: str = "no",
    grad_accum: int = 1,
    log_dir: str | Path | None = None,
    seed: int = 0,
    project_name: str = "vidalign",
):
    """An ``accelerate.Accelerator``: CPU when no CUDA, TensorBoard under ``log_dir`` if given.

    Under ``torchrun --nproc_per_node N`` on CPU this is a real N-process gloo run.
    """
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    kwargs: dict[str, Any] = {}
    if log_dir is not None:
        kwargs["log_with"] = "tensorboard"
        kwargs["project_config"] = ProjectConfiguration(
            project_dir=str(log_dir), logging_dir=str(log_dir)
        )
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=grad_accum,
        cpu=not torch.cuda.is_available(),
        **kwargs,
    )
    set_seed(seed)
    if log_dir is not None:
        accelerator.init_trackers(project_name)
    return accelerator


@functools.lru_cache(maxsize=8)
def _epoch_permutation(n: int, seed: int, epoch: int) -> tuple[int, ...]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return tuple(torch.randperm(n, generator=g).tolist())


def batch_indices(
    n: int, global_batch: int, *, seed: int, step: int, rank: int = 0, world_size: int = 1
) -> list[int]:
    """Dataset indices of this process's share of the global batch at ``step``.

    The stream of examples is the concatenation of seeded per-epoch permutations of
    ``range(n)``; step ``k`` takes positions ``[k*B, (k+1)*B)`` of it and rank ``r`` the
    r-th contiguous slice. The result depends on nothing but the arguments, so a resumed
    run sees exactly the data an uninterrupted one would.
    """
    if n <= 0:
        raise ValueError("cannot draw batches from an empty dataset")
    if global_batch % world_size:
        raise ValueError(f"global batch {global_batch} does not divide by {world_size} processes")
    out = []
    for pos in range(step * global_batch, (step + 1) * global_batch):
        epoch, i = divmod(pos, n)
        out.append(_epoch_permutation(n, seed, epoch)[i])
    per = global_batch // world_size
    return out[rank * per : (rank + 1) * per]


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside DDP / accelerate wrappers (anything with ``.module``)."""
    while hasattr(model, "module"):
        model = model.module
    return model


def _state_to_save(model: torch.nn.Module, trainable_only: bool) -> dict[str, torch.Tensor]:
    model = unwrap_model(model)
    if trainable_only:
        items = ((k, p) for k, p in model.named_parameters() if p.requires_grad)
    else:
        items = model.state_dict().items()
    return {k: v.detach().cpu().clone().contiguous() for k, v in items}


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    *,
    model: torch.nn.Module,
    optimizer: Any = None,
    scheduler: Any = None,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
    trainable_only: bool = True,
) -> Path:
    """Write ``run_dir/checkpoints/step-<step>`` atomically (see module docstring).

    Every process must call it: each stores its RNG state, the main process the rest.
    ``keep`` > 0 prunes older complete checkpoints.
    """
    rank, world = _dist()
    final = step_dir(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    if rank == 0:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    _barrier()
    torch.save(rng_state(), tmp / f"rng-{rank}.pt")
    _barrier()
    if rank == 0:
        save_file(_state_to_save(model, trainable_only), str(tmp / "model.safetensors"))
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if scheduler is not None:
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        state = {"step": step, "world_size": world, "extra": extra or {}}
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
        write_complete(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        prune_checkpoints(run_dir, keep)
    _barrier()
    return final


def load_checkpoint(
    path: str | Path, *, model: torch.nn.Module, optimizer: Any = None, scheduler: Any = None
) -> tuple[int, dict[str, Any]]:
    """Restore a checkpoint written by ``save_checkpoint``; returns ``(step, extra)``.

    The files must match the sizes and hashes ``COMPLETE`` records, and every saved tensor a
    model parameter or buffer by name and shape; else ``CheckpointError`` (or, for an older
    checkpoint without that record, ``WeightsFileError``) names the folder or the file.
    """
    path = Path(path)
    why = check_complete(path)
    if why is not None:
        raise CheckpointError(f"{path}: {why}")
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path / 'state.json'}: cannot be read ({err})") from None
    saved = load_safetensors(path / "model.safetensors")
    target = unwrap_model(model)
    own = target.state_dict()
    unknown = sorted(set(saved) - set(own))
    if unknown:
        raise CheckpointError(f"{path}: tensors not in the model: {unknown[:5]}")
    for k, v in saved.items():
        if own[k].shape != v.shape:
            raise CheckpointError(
                f"{path}: {k} has shape {tuple(v.shape)}, model {tuple(own[k].shape)}"
            )
    target.load_state_dict(saved, strict=False)
    if optimizer is not None:
        optimizer.load_state_dict(_load_pt(path / "optimizer.pt"))
    if scheduler is not None:
        scheduler.load_state_dict(_load_pt(path / "scheduler.pt"))
    rank, world = _dist()
    rng_file = path / f"rng-{rank}.pt"
    if state.get("world_size", 1) != world:
        raise CheckpointError(
            f"{path}: written by {state.get('world_size')} processes, resumed with {world}"
        )
    set_rng_state(_load_pt(rng_file))
    return int(state["step"]), state.get("extra", {})


def _load_pt(file: Path) -> Any:
    try:
        return torch.load(file, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise CheckpointError(
            f"{file}: cannot be read; it may be truncated or corrupt ({err})"
        ) from None


def check_finite(loss: torch.Tensor, *, step: int) -> None:
    """Raise ``NonFiniteLossError`` if ``loss`` is NaN/inf on any process (all agree)."""
    bad = torch.tensor(0.0 if torch.isfinite(loss.detach()).all() else 1.0)
    if _dist()[1] > 1:
        bad = bad.to(loss.device)
        torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
    if bad.item() > 0:
        raise NonFiniteLossError(
            f"step {step}: the loss is {loss.detach().float().flatten()[:4].tolist()} "
            "(not finite); training stopped. Lower the learning rate or check the inputs."
        )


def stop_if_not_finite(
    loss: torch.Tensor,
    *,
    step: int,
    run_dir: str | Path,
    model: torch.nn.Module,
    optimizer: Any = None,
    scheduler: Any = None,
) -> None:
    """The trainers' NaN guard: ``check_finite``, and on failure checkpoint the last good
    state (the weights before this step's update) as ``step-<step>`` and raise
    ``NonFiniteLossError`` naming that folder. Every process must call it."""
    try:
        check_finite(loss, step=step)
    except NonFiniteLossError as err:
        saved = save_checkpoint(
            run_dir, step, model=model, optimizer=optimizer, scheduler=scheduler,
            extra={"nonfinite_at": step}, keep=0,
        )  # fmt: skip
        raise NonFiniteLossError(f"{err} The last finite weights are in {saved}.") from None


RESUME_MAY_CHANGE = frozenset({
    "steps", "epochs", "stop_at",  # how far the run goes
    "log_every", "eval_every", "save_every", "keep",  # what it writes when
    "out_dir", "resume", "progress", "threads",  # where and how it runs
})  # fmt: skip
"""Top-level config fields a resumed run may set anew. A change to any other field (data,
model, optimiser, seed, ...) would splice two different runs into one, so ``start_run``
refuses it."""


def _main_process() -> bool:
    # The trainers call start_run before accelerate starts the process group; torchrun and
    # accelerate launch give every process its rank in RANK.
    return os.environ.get("RANK", "0") == "0"


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _changed_fields(cfg: Any, saved_file: Path, error: type[Exception]) -> list[str]:
    """``"key: saved -> now"`` for each field outside ``RESUME_MAY_CHANGE`` that differs."""
    try:
        saved = config_from_dict(type(cfg), yaml.safe_load(saved_file.read_text()) or {},
                                 where=str(saved_file))  # fmt: skip
    except (ConfigError, yaml.YAMLError) as err:
        raise error(f"cannot resume: the run's saved config does not load ({err})") from None
    old, new = _flat(config_to_dict(saved)), _flat(config_to_dict(cfg))
    return [
        f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
        for k in sorted(old.keys() | new.keys())
        if k.split(".")[0] not in RESUME_MAY_CHANGE and old.get(k) != new.get(k)
    ]


def start_run(
    cfg: Any,
    run_dir: str | Path,
    *,
    resume: bool,
    error: type[Exception],
    outputs: tuple[str, ...] = ("model",),
) -> Path | None:
    """Every trainer's start: guard ``run_dir``, pick the checkpoint to resume, save ``cfg``.

    1. A run that is not resuming refuses a folder that already holds a run's work (a
       complete checkpoint, or one of ``outputs``, the folders a finished run leaves):
       its pruning and final save would delete and overwrite that run's.
    2. A resumed run starts from the newest checkpoint whose files match what its
       ``COMPLETE`` records. Newer ones that do not are reported and set aside as
       ``step-N.damaged`` (kept for a look, out of the way of pruning and of later resumes).
    3. A resumed run refuses a ``config.yaml`` that differs from ``cfg`` in a field outside
       ``RESUME_MAY_CHANGE``, and names those fields.
    4. The main process writes ``cfg`` to ``run_dir/config.yaml``.

    Call it on every process, before ``build_accelerator``. Raises ``error`` (the trainer's
    own setup error). Returns the checkpoint to resume from, or None to start at step 0.
    """
    run_dir = Path(run_dir)
    saved = complete_checkpoints(run_dir)
    damaged: list[tuple[Path, str]] = []
    latest = None
    if not resume:
        found = [saved[-1].relative_to(run_dir)] if saved else []
        found += [Path(name) for name in outputs if (run_dir / name).exists()]
        if found:
            raise error(
                f"{run_dir} already holds a run ({', '.join(map(str, found))}): pass --resume "
                "(resume=true) to continue it, or choose another run folder"
            )
    elif saved:
        latest = latest_checkpoint(run_dir, on_skip=lambda p, why: damaged.append((p, why)))
        if latest is None:
            why = "; ".join(f"{p.name}: {w}" for p, w in damaged)
            raise error(
                f"cannot resume {run_dir}: no checkpoint is intact ({why}); delete them to "
                "start the run over, or choose another run folder"
            )
        changed = []
        if (run_dir / "config.yaml").is_file():
            changed = _changed_fields(cfg, run_dir / "config.yaml", error)
        if changed:
            raise error(
                f"cannot resume {run_dir}: its config.yaml differs in {'; '.join(changed)}. "
                f"A resumed run may change only {', '.join(sorted(RESUME_MAY_CHANGE))}; "
                "start a new run in another folder for other changes"
            )
    if _main_process():
        _trim_metrics(run_dir, _checkpoint_step(latest) if latest is not None else 0)
        for path, why in damaged:
            aside = path.with_name(f"{path.name}.damaged")
            shutil.rmtree(aside, ignore_errors=True)
            path.rename(aside)
            print(f"vidalign: skipping {path}: {why}; moved it to {aside.name}")
        if resume and latest is None:
            print(f"vidalign: no checkpoint under {run_dir / 'checkpoints'}; starting at step 0")
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_file(
            run_dir / "config.yaml"
        ) as tmp:  # processes that compare read a whole file
            save_config(cfg, tmp)
    return latest


def _checkpoint_step(path: Path) -> int:
    return int(json.loads((path / "state.json").read_text())["step"])


def _trim_metrics(run_dir: Path, step: int) -> None:
    """Drop the rows of ``metrics.jsonl`` after ``step``: a run resumed from there logs those
    steps again, so the file reads as if the run had never stopped. A row a killed process
    left half-written is dropped too."""
    file = run_dir / METRICS_FILE
    if not file.is_file():
        return
    text = file.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if _row_step(line) <= step]
    new = "".join(f"{line}\n" for line in kept)
    if new != text:
        with atomic_file(file) as tmp:
            Path(tmp).write_text(new, encoding="utf-8")


def _row_step(line: str) -> float:
    try:
        row = json.loads(line)
    except ValueError:
        return math.inf
    return row.get("step", math.inf) if isinstance(row, dict) else math.inf


METRICS_FILE = "metrics.jsonl"
"""Every trainer's metrics, one JSON row per logged step, in its run folder."""


def log_metrics(
    accelerator: Any,
    run_dir: str | Path,
    step: int,
    row: dict[str, float],
    *,
    lr: float | None = None,
    split: str = "train",
) -> None:
    """Every trainer's one place for metrics: ``<split>/<key>`` (and ``<split>/lr``) to the
    trackers (TensorBoard), and ``{"step", **row, "lr"}`` appended to ``run_dir/metrics.jsonl``
    by the main process; a row of another split (``val``) also says ``"split"``."""
    if lr is not None:
        row = {**row, "lr": lr}
    accelerator.log({f"{split}/{k}": v for k, v in row.items()}, step=step)
    if accelerator.is_main_process:
        head: dict[str, Any] = (
            {"step": step} if split == "train" else {"step": step, "split": split}
        )
        with (Path(run_dir) / METRICS_FILE).open("a", encoding="utf-8") as f:
            f.write(json.dumps({**head, **row}) + "\n")


def due(step: int, every: int, last: int) -> bool:
    """Whether a trainer logs or saves after ``step``: every ``every`` steps (0: never) and
    always after the call's ``last`` step."""
    return step == last or (every > 0 and step % every == 0)


def lr_factor(step: int, *, schedule: str, warmup: int, total: int, min_ratio: float) -> float:
    """Every trainer's LR multiplier for the update of 0-based ``step``.

    Linear warm-up, ``(step + 1) / warmup`` for ``step < warmup``; then 1 (``constant``) or a
    cosine from 1 at ``warmup`` to ``min_ratio`` at ``total`` (``cosine``).
    """
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; choose constant or cosine")
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * frac))


def lr_scheduler(optimizer: Any, optim: OptimConfig, total: int) -> Any:
    """The ``LambdaLR`` of ``optim`` (``lr_factor``) over a run of ``total`` steps; step it
    once per optimizer step, outside accelerate (which would step it once per process)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        functools.partial(
            lr_factor, schedule=optim.schedule, warmup=optim.warmup_steps, total=total,
            min_ratio=optim.min_lr_ratio,
        ),
    )  # fmt: skip


@dataclass
class TrainResult:
    """What one call of a trainer produced; every trainer returns one.

    Attributes:
        out_dir: the run folder.
        model_dir: the run's product, ``out_dir/model`` (``out_dir/lora`` for the LoRA
            trainers); None when the call ended at ``stop_at``, with a checkpoint only.
        steps: the step the run reached.
        history: this call's training metrics, one row per step (``loss`` and the trainer's
            own; the logged ones are also in ``metrics.jsonl``).
        final_metrics: the held-out evaluation after the last step (``val/...`` and the
            like); empty when the trainer has none or the call stopped early.
    """

    out_dir: Path
    model_dir: Path | None
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    final_metrics: dict[str, float] = field(default_factory=dict)


def progress(total: int, *, initial: int = 0, desc: str = "train") -> tqdm:
    """A tqdm bar shown by the main process only."""
    return tqdm(
        total=total, initial=initial, desc=desc, disable=_dist()[0] != 0, dynamic_ncols=True
    )
