"""Load a released VideoReward checkpoint folder (REFERENCE.md §2 layout).

::

    folder/
      model_config.json     {data_config, model_config, peft_lora_config, inference_config}
      checkpoint-<step>/    model.pth                       (full state dict), or
                            adapter_model.safetensors       (LoRA A/B of the language model)
                            + non_lora_state_dict.pth       (vision, embeddings, rm_head, ...)

Parameter names follow the transformers 4.45-era Qwen2-VL layout, under ``base_model.model.``
when LoRA was used. They map to the current layout as::

    model.<x>      -> backbone.model.language_model.<x>   (embed_tokens, layers.N..., norm)
    visual.<x>     -> backbone.model.visual.<x>
    lm_head.<x>    -> backbone.lm_head.<x>
    rm_head.weight -> head.weight

LoRA pairs are merged into the base weights: W += s · B A with s = alpha / r (alpha / √r
with rsLoRA).

A released checkpoint is scored as the release scored it (issue 20 traced each of these):

* the data config's ``max_frame_pixels`` and the reader's floor (100352) bound only the
  frame reader's resize; the processor keeps the base folder's ``preprocessor_config.json``
  bounds, and its second resize is PIL bicubic on uint8, as in transformers 4.45;
* the tokenizer is the base folder's ``tokenizer.json`` pipeline, or loading is refused;
* positions are plain 0…L−1: the release's model passes no position ids to its language
  model, so its checkpoints never saw Qwen2-VL's 3-D positions. ``.pth`` files are read with ``torch.load(weights_only=True)`` only. The
release's prompt wording is its input contract and is not shipped here: pass it as a
template file (``{prompt}``, ``{VQ}``, ``{MQ}``, ``{TA}`` placeholders, see
``vidalign.reward.template``). The base model is a local Qwen2-VL folder.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from vidalign.reward.builder import ModelLoadError, from_base
from vidalign.reward.processing import SamplingContract
from vidalign.reward.scorer import RewardScorer
from vidalign.reward.template import RewardTemplate
from vidalign.video import RELEASE_VIDEO_MIN_PIXELS
from vidalign.weights import load_safetensors

_PEFT_PREFIX = "base_model.model."
_LORA = re.compile(r"^(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[A-Za-z0-9_]+)?\.weight$")


def map_legacy_name(name: str) -> str:
    """A 4.45-era Qwen2-VL reward-model parameter name → this package's name."""
    if name.startswith(_PEFT_PREFIX):
        name = name[len(_PEFT_PREFIX) :]
    name = name.replace(".base_layer.", ".")
    if name == "rm_head.weight":
        return "head.weight"
    if name.startswith("model.language_model.") or name.startswith("model.visual."):
        return "backbone." + name  # already the current layout
    for old, new in (
        ("model.", "backbone.model.language_model."),
        ("visual.", "backbone.model.visual."),
        ("lm_head.", "backbone.lm_head."),
    ):
        if name.startswith(old):
            return new + name[len(old) :]
    raise ModelLoadError(f"unexpected parameter name {name!r} in a released checkpoint")


def _load_pth(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # weights_only refuses pickled objects: report, never fall back
        raise ModelLoadError(f"{path}: cannot load safely with weights_only=True ({err})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{path}: expected a flat state dict of tensors")
    return state


def _pick_checkpoint(folder: Path, step: int | None) -> Path:
    found = {}
    for p in folder.glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and p.is_dir():
            found[int(m.group(1))] = p
    if not found:
        raise ModelLoadError(f"{folder}: no checkpoint-<step>/ folder")
    if step is None:
        return found[max(found)]
    if step not in found:
        raise ModelLoadError(f"{folder}: no checkpoint-{step}/ (have {sorted(found)})")
    return found[step]


def read_release_config(folder: Path) -> dict[str, Any]:
    path = folder / "model_config.json"
    if not path.is_file():
        raise ModelLoadError(f"{folder}: no model_config.json; not a released VideoReward folder")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ModelLoadError(f"{path}: not valid JSON ({err})") from None
    for section in ("data_config", "model_config"):
        if not isinstance(cfg.get(section), dict):
            raise ModelLoadError(f"{path}: missing section {section!r}")
    return cfg


def _contract(data: dict[str, Any], min_pixels: int | None) -> SamplingContract:
    num_frames = data.get("num_frames")
    fps = None if num_frames else float(data.get("fps") or 2.0)
    return SamplingContract(
        fps=fps,
        num_frames=int(num_frames) if num_frames else None,
        max_pixels=int(data.get("max_frame_pixels") or 448 * 448),
        min_pixels=min_pixels,
    )


def load_released(
    folder: str | Path,
    *,
    base_model: str | Path,
    template: str | Path,
    step: int | None = None,
    min_pixels: int | None = RELEASE_VIDEO_MIN_PIXELS,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> RewardScorer:
    """A ``RewardScorer`` for a released checkpoint folder.

    Args:
        folder: the folder with ``model_config.json`` and ``checkpoint-*/``.
        base_model: local Qwen2-VL folder the release was trained from.
        template: template file reproducing the release's prompt (its input contract).
        step: which ``checkpoint-<step>``; default the largest.
        min_pixels: stage-1 frame area floor (the release's reader uses 100352).
        dtype, device: where the model lives.
    """
    folder = Path(folder)
    cfg = read_release_config(folder)
    data, mcfg = cfg["data_config"], cfg["model_config"]
    lora_cfg = cfg.get("peft_lora_config") or {}
    dims = data.get("eval_dim") or ["VQ", "MQ", "TA"]
    dims = [dims] if isinstance(dims, str) else list(dims)
    if mcfg.get("use_special_tokens") is False:
        raise ModelLoadError(
            f"{folder}/model_config.json: use_special_tokens is false; only the special-token "
            "reward model is supported"
        )
    tpl = RewardTemplate.from_file(template, dims, "separate")
    expected_tokens = mcfg.get("special_tokens")
    if expected_tokens and list(expected_tokens) != list(tpl.tokens):
        raise ModelLoadError(
            f"{folder}: special tokens {expected_tokens} do not match dims {dims} ({list(tpl.tokens)})"
        )
    model, processor = from_base(
        base_model,
        dims=dims,
        contract=_contract(data, min_pixels),
        template=tpl,
        dtype=dtype,
        processor_bounds="base",
        position_ids="plain",
        second_resize="pil",
    )
    ckpt = _pick_checkpoint(folder, step)
    state: dict[str, torch.Tensor] = {}
    lora: dict[str, dict[str, torch.Tensor]] = {}
    if (ckpt / "model.pth").is_file():
        raw = _load_pth(ckpt / "model.pth")
    elif (ckpt / "adapter_model.safetensors").is_file():
        raw = load_safetensors(ckpt / "adapter_model.safetensors")
        if (ckpt / "non_lora_state_dict.pth").is_file():
            raw.update(_load_pth(ckpt / "non_lora_state_dict.pth"))
    else:
        raise ModelLoadError(f"{ckpt}: neither model.pth nor adapter_model.safetensors")
    for name, tensor in raw.items():
        m = _LORA.match(name)
        if m:
            lora.setdefault(map_legacy_name(m.group("module") + ".weight"), {})[m.group("ab")] = (
                tensor
            )
        else:
            state[map_legacy_name(name)] = tensor

    own = dict(model.named_parameters())
    emb = "backbone.model.language_model.embed_tokens.weight"
    if emb in state and state[emb].shape[0] != own[emb].shape[0]:
        model.backbone.resize_token_embeddings(state[emb].shape[0])
        own = dict(model.named_parameters())
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise ModelLoadError(f"{ckpt}: parameters not in the model: {unknown[:5]}")
    for name, tensor in state.items():
        if own[name].shape != tensor.shape:
            raise ModelLoadError(
                f"{ckpt}: {name} has shape {tuple(tensor.shape)}, the model {tuple(own[name].shape)}"
            )
    if "head.weight" not in state:
        raise ModelLoadError(f"{ckpt}: no rm_head.weight; not a reward-model checkpoint")
    with torch.no_grad():
        for name, tensor in state.items():
            own[name].copy_(tensor.to(own[name].dtype))
        if lora:
            r = int(lora_cfg.get("lora_r") or lora_cfg.get("r") or 0)
            alpha = float(lora_cfg.get("lora_alpha") or lora_cfg.get("alpha") or 0)
            if r <= 0 or alpha <= 0:
                raise ModelLoadError(
                    f"{folder}/model_config.json: peft_lora_config lacks lora_r / lora_alpha"
                )
            scale = alpha / (math.sqrt(r) if lora_cfg.get("use_rslora") else r)
            for name, ab in lora.items():
                if set(ab) != {"A", "B"} or name not in own:
                    raise ModelLoadError(f"{ckpt}: incomplete or unknown LoRA pair for {name}")
                delta = scale * (ab["B"].float() @ ab["A"].float())
                if delta.shape != own[name].shape:
                    raise ModelLoadError(
                        f"{ckpt}: LoRA delta of {name} has shape {tuple(delta.shape)}"
                    )
                own[name].add_(delta.to(own[name].dtype))
    inf = cfg.get("inference_config") or {}
    stats = None
    if all(f"{d}_mean" in inf and f"{d}_std" in inf for d in dims):
        stats = {d: (float(inf[f"{d}_mean"]), float(inf[f"{d}_std"])) for d in dims}
    if device is not None:
        model.to(device)
    return RewardScorer(model, processor, stats)
