"""Small sample sets on disk (``index.jsonl`` + real mp4s) rendered by the synthetic world."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from vidalign.synth.degrade import render_with_failures
from vidalign.synth.prompts import parse_prompt
from vidalign.video import write_video

PROMPTS = (
    "a large red circle moves right on a black background",
    "a large yellow square moves down on a dark blue background",
    "a large white triangle stays still on a dark green background",
)


def write_sample_set(
    folder: Path,
    prompts: Sequence[str] = PROMPTS,
    seeds: Sequence[int] = (1, 2),
    severities: Mapping[str, float] | None = None,
    *,
    size: int = 48,
    num_frames: int = 8,
) -> Path:
    """Render each (prompt, seed) with the given failure severities; write mp4s + index."""
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, prompt in enumerate(prompts):
        for seed in seeds:
            clip = render_with_failures(
                parse_prompt(prompt), severities or {}, seed=seed, size=size, num_frames=num_frames
            )
            rel = f"videos/{i:03d}-{seed}.mp4"
            write_video(folder / rel, clip, 8.0)
            rows.append({"index": len(rows), "prompt": prompt, "seed": seed, "path": rel})
    (folder / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder
