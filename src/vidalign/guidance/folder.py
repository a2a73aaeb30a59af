"""Latent reward model folders: ``latent_reward.json`` + ``model.safetensors``.

``latent_reward.json`` holds what rebuilds the model without the generator (the trunk's Wan
config fields, K, dimensions, pooling) plus provenance (``extra``: the generator folder it was
copied from, the training variant and steps). Weights load through safetensors only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from vidalign.checkpoint import atomic_dir
from vidalign.guidance.errors import LatentRewardError
from vidalign.guidance.model import LatentRewardModel
from vidalign.weights import load_safetensors

META_FILE = "latent_reward.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


def save_latent_reward(
    model: LatentRewardModel, path: str | Path, *, extra: dict[str, Any] | None = None
) -> Path:
    """Write the model folder atomically; ``extra`` is stored under ``"extra"``."""
    while hasattr(model, "module"):
        model = model.module
    meta = {"format_version": FORMAT_VERSION, **model.metadata(), "extra": extra or {}}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_dir(path) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE))
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
    return Path(path)


def read_latent_reward_meta(path: str | Path) -> dict[str, Any]:
    """The parsed ``latent_reward.json`` of a model folder."""
    meta_file = Path(path) / META_FILE
    if not meta_file.is_file():
        raise LatentRewardError(f"{path}: not a latent reward model folder (no {META_FILE})")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as err:
        raise LatentRewardError(f"{meta_file}: not JSON ({err})") from None
    for key in ("config", "num_blocks", "dims", "pooling"):
        if key not in meta:
            raise LatentRewardError(f"{meta_file}: missing field {key!r}")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise LatentRewardError(
            f"{meta_file}: format {meta['format_version']} is newer than this vidalign"
        )
    return meta


def load_latent_reward(
    path: str | Path, *, device: torch.device | str = "cpu", for_guidance: bool = False
) -> LatentRewardModel:
    """Load a model folder written by ``save_latent_reward``.

    Args:
        path: the folder.
        device: where to put the model (float32).
        for_guidance: put it in eval mode with frozen parameters, so that guidance
            differentiates with respect to ``x_t`` only.
    """
    meta = read_latent_reward_meta(path)
    model = LatentRewardModel(meta["config"], meta["num_blocks"], meta["dims"], meta["pooling"])
    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise LatentRewardError(f"{path}: missing {WEIGHTS_FILE}")
    state = load_safetensors(weights)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unknown = sorted(set(state) - set(own))
    if missing or unknown:
        raise LatentRewardError(
            f"{weights}: weights do not match {META_FILE} (missing {missing[:3]}, unknown {unknown[:3]})"
        )
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise LatentRewardError(
                f"{weights}: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    model.load_state_dict(state)
    model.to(device)
    if for_guidance:
        model.eval().requires_grad_(False)
    return model
