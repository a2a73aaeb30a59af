"""Oracle evaluation of a generator on the synthetic world, next to the clean renderer.

For N prompts the generator's samples, clips of the twelve generator profiles (the quality mix
the base model was trained on) and the clean renderer's clips (same size and frame count) are
judged by the pixel-only oracle (mean score per dimension), and one-object clips are
read back for colour / shape / direction accuracy (``vidalign.synth.attributes``). The clean
renderer is the ceiling; chance levels are 1/|colours|, 1/|shapes| and 1/4. Optionally,
word steering (``vidalign.synth.steering``) tells a word the model ignores from one it draws
badly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from vidalign.policy.adapter import Generator
from vidalign.policy.sampling import sample_seed, sample_videos
from vidalign.synth.attributes import read_attributes
from vidalign.synth.oracle import judge
from vidalign.synth.profiles import PROFILES, sample_clip
from vidalign.synth.prompts import general_prompts, hard_prompts, parse_prompt
from vidalign.synth.render import render_clean
from vidalign.synth.scenes import COLOURS, DIRECTIONS, SHAPES
from vidalign.synth.steering import Attribute, SteeringResult, format_steering, word_steering
from vidalign.video import write_video


@dataclass
class SourceScores:
    """Mean oracle score per dimension and attribute accuracies of one clip source.

    Attributes:
        oracle: dimension → mean oracle score over all prompts.
        accuracy: "colour" / "shape" / "direction" → fraction right.
        counts: how many clips each accuracy is over.
    """

    oracle: dict[str, float]
    accuracy: dict[str, float]
    counts: dict[str, int]


@dataclass
class EvalReport:
    num_prompts: int
    prompt_set: str
    sources: dict[str, SourceScores]
    chance: dict[str, float] = field(default_factory=dict)
    steering: list[SteeringResult] = field(default_factory=list)


def score_clips(clips: torch.Tensor, prompts: list[str]) -> SourceScores:
    """Judge uint8 clips (N, F, C, H, W) against their prompts."""
    per_dim: dict[str, list[float]] = {}
    hits: dict[str, list[bool]] = {"colour": [], "shape": [], "direction": []}
    for clip, prompt in zip(clips, prompts):
        for dim, value in judge(clip, prompt).items():
            per_dim.setdefault(dim, []).append(float(value))
        scene = parse_prompt(prompt)
        if len(scene.objects) != 1:
            continue
        obj = scene.objects[0]
        got = read_attributes(clip)
        hits["colour"].append(got.colour == obj.colour)
        hits["shape"].append(got.shape == obj.shape)
        if obj.motion in DIRECTIONS:
            hits["direction"].append(got.direction == obj.motion)
    return SourceScores(
        oracle={d: float(np.mean(v)) for d, v in per_dim.items()},
        accuracy={k: float(np.mean(v)) if v else float("nan") for k, v in hits.items()},
        counts={k: len(v) for k, v in hits.items()},
    )


def evaluation_prompts(
    num_prompts: int,
    prompt_set: Literal["general", "hard"],
    seed: int,
    exclude: Iterable[str] = (),
) -> list[str]:
    """``num_prompts`` prompts of the general or hard set, none of them in ``exclude``."""
    draw = general_prompts if prompt_set == "general" else hard_prompts
    return list(draw(num_prompts, seed, exclude=frozenset(exclude)))


def clean_clips(
    prompts: list[str], *, num_frames: int, size: int, fps: float, seed: int
) -> torch.Tensor:
    """The clean renderer's clip of each prompt, uint8 (N, F, C, H, W)."""
    return torch.stack(
        [
            torch.as_tensor(
                render_clean(
                    parse_prompt(p),
                    size=size,
                    num_frames=num_frames,
                    fps=fps,
                    seed=sample_seed(seed, i),
                )
            )
            for i, p in enumerate(prompts)
        ]
    )


def profile_mix_clips(
    prompts: list[str], *, num_frames: int, size: int, fps: float, seed: int
) -> torch.Tensor:
    """Clip ``i`` from generator profile ``i mod 12``: the quality mix of the training data."""
    names = list(PROFILES)
    return torch.stack(
        [
            torch.as_tensor(
                sample_clip(
                    p,
                    names[i % len(names)],
                    seed=sample_seed(seed, i),
                    size=size,
                    num_frames=num_frames,
                    fps=fps,
                )
            )
            for i, p in enumerate(prompts)
        ]
    )


def evaluate_generator(
    adapter: Generator,
    *,
    num_prompts: int = 64,
    prompt_set: Literal["general", "hard"] = "general",
    prompt_seed: int = 12345,
    seed: int = 0,
    steps: int | None = None,
    cfg: float | None = None,
    batch_size: int = 16,
    exclude: Iterable[str] = (),
    steering: Sequence[Attribute] = (),
    out_dir: str | Path | None = None,
) -> EvalReport:
    """Sample ``num_prompts`` prompts and score generator and clean renderer (module docstring).

    ``exclude`` holds prompts never to evaluate on, normally the generator's training prompts.
    For each attribute in ``steering`` the one-object prompts are also rewritten with every word
    of that attribute and sampled with their own seed (``vidalign.synth.steering``).
    """
    d = adapter.defaults
    if d.height != d.width:
        raise ValueError(
            f"the synthetic world renders square clips; model makes {d.height}x{d.width}"
        )
    prompts = evaluation_prompts(num_prompts, prompt_set, prompt_seed, exclude)
    seeds = [sample_seed(seed, i) for i in range(len(prompts))]
    samples = sample_videos(
        adapter, prompts, seeds, steps=steps, cfg=cfg, batch_size=batch_size, progress=True
    )
    clean = clean_clips(prompts, num_frames=d.num_frames, size=d.height, fps=d.fps, seed=seed)
    mix = profile_mix_clips(prompts, num_frames=d.num_frames, size=d.height, fps=d.fps, seed=seed)
    report = EvalReport(
        num_prompts=len(prompts),
        prompt_set=prompt_set,
        sources={
            "generator": score_clips(samples, prompts),
            "profile mix": score_clips(mix, prompts),
            "clean renderer": score_clips(clean, prompts),
        },
        chance={"colour": 1 / len(COLOURS), "shape": 1 / len(SHAPES), "direction": 0.25},
    )

    def draw(jobs: list[str], job_seeds: list[int]) -> torch.Tensor:
        return sample_videos(
            adapter, jobs, job_seeds, steps=steps, cfg=cfg, batch_size=batch_size, progress=True
        )

    report.steering = [word_steering(draw, prompts, seeds, a) for a in steering]
    if out_dir is not None:
        out = Path(out_dir)
        for i, clip in enumerate(samples):
            write_video(out / "videos" / f"{i:06d}.mp4", clip, d.fps)
        (out / "prompts.txt").write_text("\n".join(prompts) + "\n")
        (out / "results.json").write_text(json.dumps(asdict(report), indent=2))
    return report


def format_report(report: EvalReport) -> str:
    """A plain-text table: one row per source, oracle means then attribute accuracies."""
    first = next(iter(report.sources.values()))
    dims = list(first.oracle)
    attrs = list(first.accuracy)
    head = ["source", *dims, *[f"{a} acc" for a in attrs]]
    rows = [head]
    for name, s in report.sources.items():
        rows.append(
            [name, *[f"{s.oracle[d]:.3f}" for d in dims], *[f"{s.accuracy[a]:.2f}" for a in attrs]]
        )
    rows.append(
        [
            "chance",
            *["" for _ in dims],
            *[f"{report.chance.get(a, float('nan')):.2f}" for a in attrs],
        ]
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"{report.num_prompts} {report.prompt_set} prompts; accuracies over one-object prompts "
             f"(colour/shape n={first.counts['colour']}, direction n={first.counts['direction']})"]  # fmt: skip
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines += [format_steering(s) for s in report.steering]
    return "\n".join(lines)
