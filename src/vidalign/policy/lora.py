"""LoRA on the generator's transformer through peft, in the diffusers LoRA file format.

* ``add_lora`` injects adapters in place (the model stays a ``WanTransformer3DModel``);
* ``lora_disabled`` is the reference model of Flow-DPO: the same network with its adapters
  switched off, never a second copy (REFERENCE.md §4, §5);
* ``save_lora`` writes ``pytorch_lora_weights.safetensors`` with keys
  ``transformer.<module>.lora_A.weight`` / ``lora_B.weight`` and the peft config in the file
  metadata, via diffusers' own writer, so ``WanPipeline.load_lora_weights(folder)`` reads it;
* ``load_lora`` reads such a file back; ``merge_lora`` folds the adapters into the weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from vidalign.policy.errors import GeneratorError
from vidalign.training import unwrap_model
from vidalign.weights import check_safetensors

LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
WAN_ATTENTION_TARGETS: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
"""Query, key, value and output projections of both self- and cross-attention in Wan blocks."""


def add_lora(
    transformer: torch.nn.Module,
    *,
    rank: int = 16,
    alpha: float | None = None,
    dropout: float = 0.0,
    target_modules: Sequence[str] = WAN_ATTENTION_TARGETS,
    adapter_name: str = "default",
    init_lora_weights: bool | str = True,
) -> None:
    """Add a LoRA adapter in place; only LoRA parameters stay trainable.

    Args:
        rank: r. alpha: scaling numerator (default ``rank``, i.e. scale 1).
        target_modules: module-name suffixes to adapt.
        init_lora_weights: peft's option; True makes B = 0, so the adapted model starts equal
            to the base; False gives random B (used by tests).
    """
    from peft import LoraConfig

    model = unwrap_model(transformer)
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha if alpha is not None else rank,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        init_lora_weights=init_lora_weights,
    )
    model.requires_grad_(False)
    model.add_adapter(config, adapter_name=adapter_name)
    model.set_adapter(adapter_name)
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)


def has_lora(transformer: torch.nn.Module) -> bool:
    return bool(getattr(unwrap_model(transformer), "peft_config", None))


@contextlib.contextmanager
def lora_disabled(transformer: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run the base model: adapters off inside the block, back on after (also on error)."""
    model = unwrap_model(transformer)
    if not has_lora(model):
        raise GeneratorError("lora_disabled: the transformer has no LoRA adapters")
    model.disable_adapters()
    try:
        yield transformer
    finally:
        model.enable_adapters()


def lora_state_dict(transformer: torch.nn.Module, *, adapter_name: str = "default"):
    """The adapter's tensors with diffusers/peft names (no ``transformer.`` prefix)."""
    from peft.utils import get_peft_model_state_dict

    model = unwrap_model(transformer)
    if adapter_name not in (getattr(model, "peft_config", None) or {}):
        raise GeneratorError(f"the transformer has no LoRA adapter named {adapter_name!r}")
    return get_peft_model_state_dict(model, adapter_name=adapter_name)


def save_lora(
    transformer: torch.nn.Module,
    out_dir: str | Path,
    *,
    adapter_name: str = "default",
    family: str = "wan",
) -> Path:
    """Write ``out_dir/pytorch_lora_weights.safetensors`` in the diffusers LoRA format."""
    pipeline_cls = _pipeline_class(family)
    model = unwrap_model(transformer)
    state = {
        k: v.detach().cpu().contiguous()
        for k, v in lora_state_dict(model, adapter_name=adapter_name).items()
    }
    metadata = model.peft_config[adapter_name].to_dict()
    metadata["target_modules"] = sorted(metadata.get("target_modules") or [])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pipeline_cls.save_lora_weights(
        out_dir,
        transformer_lora_layers=state,
        weight_name=LORA_WEIGHT_NAME,
        transformer_lora_adapter_metadata=metadata,
    )
    return Path(out_dir) / LORA_WEIGHT_NAME


def load_lora(
    transformer: torch.nn.Module, path: str | Path, *, adapter_name: str = "default"
) -> None:
    """Load a diffusers-format LoRA file (or the folder holding one) as adapter ``adapter_name``."""
    path = Path(path)
    file = path / LORA_WEIGHT_NAME if path.is_dir() else path
    if not file.is_file():
        raise GeneratorError(f"{file}: LoRA file not found")
    check_safetensors(file)
    model = unwrap_model(transformer)
    try:
        model.load_lora_adapter(str(file), prefix="transformer", adapter_name=adapter_name)
    except (ValueError, KeyError, RuntimeError) as err:
        raise GeneratorError(
            f"{file}: cannot load as a LoRA for this transformer ({err})"
        ) from None
    model.set_adapter(adapter_name)


def merge_lora(transformer: torch.nn.Module) -> torch.nn.Module:
    """Fold every active adapter into the base weights and remove the LoRA layers (in place)."""
    model = unwrap_model(transformer)
    if not has_lora(model):
        raise GeneratorError("merge_lora: the transformer has no LoRA adapters")
    model.fuse_lora(lora_scale=1.0)
    model.unload_lora()
    return model


def _pipeline_class(family: str):
    if family == "wan":
        from diffusers import WanPipeline

        return WanPipeline
    if family == "ltx":
        from diffusers import LTXPipeline

        return LTXPipeline
    raise GeneratorError(f"no LoRA writer for generator family {family!r}")
