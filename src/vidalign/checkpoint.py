"""Atomic checkpoint folders and RNG state, shared by every trainer.

A checkpoint is written into ``<dir>.tmp-<pid>`` and renamed into place, so a
killed run never leaves a half-written ``step-N`` folder. ``complete_checkpoints``
only sees complete folders (those holding ``COMPLETE``). The ``COMPLETE`` marker of a
checkpoint (``write_complete``) records the size and SHA-256 of every other file, so a file
truncated or damaged later (a full disk, a bad copy) is caught before it is loaded:
``check_complete`` says what is wrong, and ``latest_checkpoint`` passes over such folders.
A marker without that record (written before vidalign kept one) is taken on trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable, Iterator
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


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_complete(folder: str | Path) -> None:
    """Write ``folder/COMPLETE`` (last): the size and SHA-256 of each other file in it."""
    folder = Path(folder)
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "COMPLETE"
    }
    (folder / "COMPLETE").write_text(json.dumps({"files": files}, indent=1) + "\n")


def check_complete(folder: str | Path) -> str | None:
    """Why ``folder`` is not an intact checkpoint (a file missing, of another size or with
    other bytes than ``COMPLETE`` records), or None when it is (module docstring)."""
    folder = Path(folder)
    marker = folder / "COMPLETE"
    if not marker.is_file():
        return "no COMPLETE marker (an unfinished save)"
    try:
        text = marker.read_text(errors="replace")
    except OSError as err:
        return f"its COMPLETE marker cannot be read ({err.strerror or err})"
    if text.strip() == "ok":
        return None  # an older marker: nothing to check against
    try:
        files = json.loads(text)["files"]
        files = {name: (int(want["bytes"]), str(want["sha256"])) for name, want in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError):  # JSONDecodeError is a ValueError
        return "its COMPLETE marker is not readable"
    for name, (size, digest) in files.items():
        p = folder / name
        try:
            if p.stat().st_size != size:
                return f"{name} has {p.stat().st_size} bytes, {size} when saved (truncated?)"
            if _sha256(p) != digest:
                return f"{name} does not match the SHA-256 recorded when it was saved (damaged)"
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as err:
            return f"{name} cannot be read ({err.strerror or err})"
    return None


def latest_checkpoint(
    run_dir: str | Path, *, on_skip: Callable[[Path, str], None] | None = None
) -> Path | None:
    """The newest complete checkpoint whose files match its ``COMPLETE`` record, or None.

    Newer ones that do not match are passed over, each reported to ``on_skip(path, why)``.
    """
    for path in reversed(complete_checkpoints(run_dir)):
        why = check_complete(path)
        if why is None:
            return path
        if on_skip is not None:
            on_skip(path, why)
    return None


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
