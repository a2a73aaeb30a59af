"""Generator folders on disk, in the diffusers layout.

A real Wan2.1 folder (``model_index.json``, ``transformer/``, ``vae/``, ``text_encoder/``,
``tokenizer/``, ``scheduler/``) loads as a VAE-latent generator. vidalign's own generators
(pixel space, synthetic world) are saved as::

    transformer/            WanTransformer3DModel.save_pretrained (config.json + safetensors)
    text_encoder/           T5EncoderModel.save_pretrained
    tokenizer/              tokenizer.json + tokenizer_config.json
    vidalign_generator.json {"family", "latent", "max_sequence_length", "sampling"}

``vidalign_generator.json`` may also sit in a Wan folder to override its sampling defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vidalign.checkpoint import atomic_dir
from vidalign.policy.adapter import DEFAULT_MIN_T, SamplingDefaults, WanAdapter
from vidalign.policy.errors import GeneratorError
from vidalign.policy.latent import PixelLatent, WanVAELatent
from vidalign.policy.text import TextEmbedder, load_text_encoder
from vidalign.training import unwrap_model
from vidalign.weights import check_weights_folder

META_FILE = "vidalign_generator.json"
WAN_MAX_SEQUENCE_LENGTH = 512
WAN_DEFAULTS = SamplingDefaults(
    num_frames=81, height=480, width=832, fps=16.0, steps=50, cfg=5.0, shift=3.0
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise GeneratorError(f"{path}: cannot read JSON ({err})") from None
    if not isinstance(data, dict):
        raise GeneratorError(f"{path}: expected a JSON object")
    return data


def _defaults_from(meta: dict[str, Any], where: Path) -> SamplingDefaults:
    try:
        return SamplingDefaults(**meta["sampling"])
    except (KeyError, TypeError) as err:
        raise GeneratorError(f"{where}: bad 'sampling' section ({err})") from None


def _wan_scheduler_shift(root: Path) -> float:
    cfg_file = root / "scheduler" / "scheduler_config.json"
    if not cfg_file.is_file():
        return WAN_DEFAULTS.shift
    cfg = _read_json(cfg_file)
    return float(cfg.get("flow_shift", cfg.get("shift", WAN_DEFAULTS.shift)))


def load_generator(
    path: str | Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> WanAdapter:
    """Load a Wan2.1 diffusers folder or a vidalign generator folder from a local path."""
    from diffusers import WanTransformer3DModel
    from transformers import AutoTokenizer

    root = Path(path)
    if not root.is_dir():
        raise GeneratorError(f"{root}: generator folder not found")
    for sub in ("transformer", "text_encoder", "tokenizer"):
        if not (root / sub).is_dir():
            raise GeneratorError(f"{root}: missing {sub}/ (expected a diffusers-layout folder)")
    meta_file = root / META_FILE
    meta = _read_json(meta_file) if meta_file.is_file() else {}
    family = meta.get("family", "wan")
    if family != "wan":
        raise GeneratorError(f"{meta_file}: generator family {family!r} is not supported yet")
    latent_kind = meta.get("latent", {}).get("type", "wan_vae")

    check_weights_folder(root / "transformer")
    transformer = WanTransformer3DModel.from_pretrained(
        root / "transformer", torch_dtype=dtype, use_safetensors=True
    )
    if latent_kind == "pixel":
        latent = PixelLatent()
    elif latent_kind == "wan_vae":
        from diffusers import AutoencoderKLWan

        if not (root / "vae").is_dir():
            raise GeneratorError(f"{root}: missing vae/ for a VAE-latent generator")
        check_weights_folder(root / "vae")
        vae = AutoencoderKLWan.from_pretrained(root / "vae", torch_dtype=dtype).to(device)
        latent = WanVAELatent(vae)
    else:
        raise GeneratorError(f"{meta_file}: latent type {latent_kind!r}; use 'pixel' or 'wan_vae'")

    if meta:
        defaults = _defaults_from(meta, meta_file)
    else:
        defaults = SamplingDefaults(
            **{**WAN_DEFAULTS.to_dict(), "shift": _wan_scheduler_shift(root)}
        )
    encoder = load_text_encoder(root / "text_encoder", dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(root / "tokenizer")
    text = TextEmbedder(
        tokenizer,
        encoder,
        max_sequence_length=int(meta.get("max_sequence_length", WAN_MAX_SEQUENCE_LENGTH)),
    )
    pred = meta.get("prediction", {})
    if not isinstance(pred, dict):
        raise GeneratorError(f"{meta_file}: 'prediction' must be an object with 'type' and 'min_t'")
    return WanAdapter(
        transformer,
        latent,
        text,
        defaults,
        prediction=pred.get("type", "velocity"),
        min_t=float(pred.get("min_t", DEFAULT_MIN_T)),
        coord_channels=int(meta.get("coord_channels", 0)),
    ).to(device)


def save_generator(adapter: WanAdapter, path: str | Path, *, extra: dict | None = None) -> Path:
    """Write a pixel-space generator folder atomically (see module docstring).

    LoRA layers must be merged first (``vidalign.policy.lora.merge_lora``); VAE-latent
    generators are saved as a LoRA file instead, next to the untouched base folder.
    """
    if not isinstance(adapter.latent, PixelLatent):
        raise GeneratorError("save_generator writes pixel-space generators; save LoRA for Wan")
    if adapter.text.encoder is None:
        raise GeneratorError("the text encoder was released; reload it before saving")
    transformer = unwrap_model(adapter.transformer)
    if getattr(transformer, "peft_config", None):
        raise GeneratorError("the transformer still has LoRA adapters; merge them before saving")
    meta = {
        "family": adapter.family,
        "latent": {"type": "pixel", "value_range": [-1, 1], "layout": "B,C,F,H,W"},
        "max_sequence_length": adapter.text.max_sequence_length,
        "prediction": {"type": adapter.prediction, "min_t": adapter.min_t},
        "coord_channels": adapter.coord_channels,
        "sampling": adapter.defaults.to_dict(),
        **(extra or {}),
    }
    with atomic_dir(path) as tmp:
        transformer.save_pretrained(tmp / "transformer", safe_serialization=True)
        adapter.text.encoder.save_pretrained(tmp / "text_encoder", safe_serialization=True)
        adapter.text.tokenizer.save_pretrained(tmp / "tokenizer")
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
    return Path(path)
