"""Atomic checkpoint folders and RNG state, shared by every trainer.

A checkpoint is written into ``<dir>.tmp-<pid>`` and renamed into place, so a
killed run never leaves a half-written ``step-N`` folder. ``latest_checkpoint``
only sees complete folders (those holding ``COMPLETE``).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

_STEP_RE = re.compile(r"^step-(\d+)$")


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``final`` only if the block succeeds.

    An existing ``final`` is replaced. On error the temporary folder is removed.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        (tmp / "COMPLETE").write_text("ok\n")
        old = final.with_name(f"{final.name}.old-{os.getpid()}")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def step_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step}"


def complete_checkpoints(run_dir: str | Path) -> list[Path]:
    """The ``checkpoints/step-N`` folders of ``run_dir`` that hold ``COMPLETE``, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    steps = sorted(
        (int(m.group(1)), p)
        for p in root.iterdir()
        if (m := _STEP_RE.match(p.name)) and (p / "COMPLETE").is_file()
    )
    return [p for _, p in steps]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The complete ``checkpoints/step-N`` folder with the largest N, or None."""
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` complete checkpoints (keep <= 0 keeps all)."""
    if keep <= 0:
        return
    for p in complete_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states as plain tensors and numbers.

    The result survives ``torch.save`` / ``torch.load(weights_only=True)``.
    """
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": (py_version, torch.tensor(py_state, dtype=torch.int64), py_gauss),
        "numpy": (
            np_name,
            torch.from_numpy(np_keys.astype(np.int64)),
            int(np_pos),
            int(np_has_gauss),
            float(np_gauss),
        ),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    py_version, py_state, py_gauss = state["python"]
    random.setstate((py_version, tuple(int(x) for x in py_state.tolist()), py_gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state(
        (np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss)
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
