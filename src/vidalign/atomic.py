"""Write a single file atomically: into a temporary sibling, then rename into place.

The one helper for files; folders (checkpoints, model folders) use
``vidalign.checkpoint.atomic_dir``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path that replaces ``final`` only if the block succeeds.

    The temporary file sits in the same folder and keeps the suffix of ``final`` (so
    tools that pick a format from the suffix still work). On error it is removed and
    ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(final: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``final`` atomically; returns ``final`` as a Path."""
    with atomic_file(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(final)
