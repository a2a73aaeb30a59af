"""Column names of the VideoAlign pair format (REFERENCE.md §1), shared by CSV, JSONL and Parquet.

Training files: ``path_A, path_B, prompt, <dims...>, fps_A, num_frames_A, fps_B,
num_frames_B`` and optional ``MOS_A_<dim>, MOS_B_<dim>``. Benchmark files add
``A_model, B_model`` and ``Overall``. Any other column is kept as text in ``meta``.
"""

from __future__ import annotations

import re

from vidalign.data.pair import OVERALL

PATH_A, PATH_B, PROMPT = "path_A", "path_B", "prompt"
FPS_A, FPS_B = "fps_A", "fps_B"
NUM_FRAMES_A, NUM_FRAMES_B = "num_frames_A", "num_frames_B"
MODEL_A, MODEL_B = "A_model", "B_model"
REQUIRED = (PATH_A, PATH_B, PROMPT)
SAMPLING = (FPS_A, NUM_FRAMES_A, FPS_B, NUM_FRAMES_B)
RESERVED = frozenset((*REQUIRED, *SAMPLING, OVERALL))

_MOS_RE = re.compile(r"^MOS_([AB])_(.+)$")


def mos_column(side: str, dim: str) -> str:
    """Column of the pointwise score of video ``side`` ("A" or "B") on ``dim``: ``MOS_A_VQ``."""
    return f"MOS_{side}_{dim}"


def parse_mos_column(name: str) -> tuple[str, str] | None:
    """``(side, dim)`` for a ``MOS_<side>_<dim>`` column, else None."""
    m = _MOS_RE.match(name)
    return (m.group(1), m.group(2)) if m else None


def is_reserved(name: str) -> bool:
    """True for columns with a fixed meaning (never a label dimension nor meta)."""
    return name in RESERVED or parse_mos_column(name) is not None
