"""Resolving a stored video path to a file that is safe to serve."""

from __future__ import annotations

import os
from pathlib import Path

from vidalign.annotate.errors import AnnotateError


class Forbidden(AnnotateError):
    """The path leaves the videos root (``..``, an absolute path, or a symlink out)."""


class Missing(AnnotateError):
    """The path stays inside the root but names no regular file."""


def resolve_video(videos_root: Path, rel: str) -> Path:
    """The real path of ``rel`` under ``videos_root``, after following symlinks.

    Raises:
        Forbidden: the path, lexically or after following links, is outside the root.
        Missing: no regular file there.
    """
    root = Path(os.path.realpath(videos_root))
    if not rel or "\x00" in rel or Path(rel).is_absolute():
        raise Forbidden(f"{rel!r}: not a relative path")
    lexical = Path(os.path.normpath(root / rel))
    if not lexical.is_relative_to(root):
        raise Forbidden(f"{rel!r}: outside the videos root")
    real = Path(os.path.realpath(lexical))
    if not real.is_relative_to(root):
        raise Forbidden(f"{rel!r}: links outside the videos root")
    if not real.is_file():
        raise Missing(f"{rel!r}: no such video")
    return real
