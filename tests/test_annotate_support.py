"""Shared helpers for the annotate tests: tiny real mp4 clips, pairs, a seeded database.

``conftest.py`` holds the ``db_url`` fixture that runs a test on SQLite and on a throwaway
PostgreSQL server (``annotate_postgres``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import Database, open_database
from vidalign.data import PreferencePair
from vidalign.video import write_video


def write_clip(path: Path, shade: int, frames: int = 8, size: int = 32, fps: float = 8.0) -> Path:
    """A (frames, 3, size, size) clip whose brightness ramps from ``shade``; H.264 mp4."""
    ramp = np.linspace(0, 60, frames, dtype=np.float32)[:, None, None, None]
    x = np.clip(shade + ramp + np.zeros((frames, 3, size, size), np.float32), 0, 255)
    return write_video(path, x.astype(np.uint8), fps)


def make_pairs(root: Path, n: int, prompt: str = "a red circle moves left") -> list[PreferencePair]:
    """``n`` pairs over ``n + 1`` clips in ``root/clips``, paths relative to ``root``."""
    (root / "clips").mkdir(parents=True, exist_ok=True)
    for i in range(n + 1):
        clip = root / "clips" / f"c{i}.mp4"
        if not clip.exists():
            write_clip(clip, shade=(37 * i) % 180)
    return [
        PreferencePair(
            prompt=f"{prompt} #{i}",
            path_a=f"clips/c{i}.mp4",
            path_b=f"clips/c{i + 1}.mp4",
            labels={},
            fps_a=2.0,
            fps_b=2.0,
            meta={"A_model": f"m{i % 3}", "B_model": f"m{(i + 1) % 3}"},
        )
        for i in range(n)
    ]


def seeded_db(
    tmp_path: Path,
    n_pairs: int = 4,
    annotators: int = 2,
    url: str | None = None,
    **settings: object,
) -> tuple[Database, str, list[str], Path]:
    """A database (``url``, default a SQLite file in ``tmp_path``) with one batch "b1" and
    some annotators.

    Returns:
        ``(db, admin_token, annotator_tokens, videos_root)``.
    """
    root = tmp_path / "videos"
    root.mkdir(exist_ok=True)
    db, admin = open_database(url or str(tmp_path / "ann.db"))
    assert admin is not None
    import_batch(
        db, "b1", make_pairs(root, n_pairs), videos_root=root, settings=BatchSettings(**settings)
    )
    tokens = [add_annotator(db, f"ann{i}")[1] for i in range(annotators)]
    return db, admin, tokens, root
