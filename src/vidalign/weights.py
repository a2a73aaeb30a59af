"""Reading safetensors weight files: a truncated or corrupt file is an error that names it.

``load_safetensors`` reads a file's tensors, ``safetensors_metadata`` the text metadata its
header carries. ``check_safetensors`` reads only its header: a
safetensors header lists every tensor's byte range, and safetensors refuses a file those
ranges do not cover exactly, so a truncated file fails there. Loaders whose weights a
library opens itself (``from_pretrained`` of diffusers and transformers, peft's LoRA
loading) run ``check_weights_folder`` / ``check_safetensors`` on the files first.
"""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import Tensor

from vidalign.errors import VidalignError


class WeightsFileError(VidalignError):
    """A weights file is missing, truncated or corrupt."""


def _unreadable(path: Path, err: Exception) -> WeightsFileError:
    return WeightsFileError(
        f"{path}: not a readable safetensors file; it may be truncated or corrupt "
        f"(copy or save it again) ({err})"
    )


def check_safetensors(path: str | Path) -> None:
    """Raise ``WeightsFileError`` naming ``path`` unless its header is whole and covers the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError, ValueError) as err:
        raise _unreadable(path, err) from None


def safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file ({} if none); ``WeightsFileError`` naming it
    if its header is not whole."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise _unreadable(path, err) from None


def check_weights_folder(folder: str | Path) -> None:
    """``check_safetensors`` on every ``*.safetensors`` file directly in ``folder``."""
    for path in sorted(Path(folder).glob("*.safetensors")):
        check_safetensors(path)


def load_safetensors(path: str | Path, *, device: str = "cpu") -> dict[str, Tensor]:
    """The tensors of a safetensors file; ``WeightsFileError`` naming it if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: weights file not found")
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as err:
        raise _unreadable(path, err) from None
