"""Merge an alignment LoRA into its base generator: a full folder ``load_generator`` reads.

Pixel-space (vidalign) generators are written with ``save_generator``. For a diffusers Wan
folder the merged ``transformer/`` is written and every other entry of the base folder
(VAE, text encoder, tokenizer, scheduler, ``model_index.json``) is copied beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vidalign.checkpoint import atomic_dir
from vidalign.policy.folder import load_generator, save_generator
from vidalign.policy.latent import PixelLatent
from vidalign.policy.lora import load_lora, merge_lora


def merge_to_folder(base: str | Path, lora: str | Path, out_dir: str | Path) -> Path:
    """Load ``base``, apply the LoRA file or folder ``lora``, fold it in, write ``out_dir``."""
    adapter = load_generator(base)
    load_lora(adapter.transformer, lora)
    merge_lora(adapter.transformer)
    note = {"merged_lora": str(Path(lora).resolve())}
    if isinstance(adapter.latent, PixelLatent):
        return save_generator(adapter, out_dir, extra=note)
    base = Path(base)
    with atomic_dir(out_dir) as tmp:
        adapter.transformer.save_pretrained(tmp / "transformer", safe_serialization=True)
        for entry in base.iterdir():
            if entry.name == "transformer":
                continue
            if entry.is_dir():
                shutil.copytree(entry, tmp / entry.name)
            else:
                shutil.copy2(entry, tmp / entry.name)
    return Path(out_dir)
