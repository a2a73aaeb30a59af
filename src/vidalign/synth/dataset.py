"""Build a preference dataset from the synthetic world: real mp4 files plus VideoAlign CSVs.

Layout of ``out_dir``::

    videos/p00012_aurora.mp4     one clip per (prompt, generator) that some pair uses
    train.csv val.csv test.csv   VideoAlign columns + Overall, MOS_*, A_model, B_model
    train.jsonl val.jsonl test.jsonl
    clips.csv                    every clip: prompt, generator, seed, oracle scores, and the
                                 failure severities it was made with (never read by the oracle)
    prompts/general.txt          held-out general prompts (none is in any split)
    prompts/hard.txt             the hard set (``vidalign.synth.prompts``)
    prompts/{train,val,test}.txt the prompts of each split
    world.json                   every setting, the seed, fitted annotator parameters

Splits are by prompt: no prompt is in two of them. Oracle scores are computed on the
*decoded* mp4 frames. Everything is a function of the seed: with the default lossless
encoding (``crf=0``) the CSV and mp4 bytes are identical between runs, whatever
``workers``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vidalign import DEFAULT_DIMS
from vidalign.atomic import write_text_atomic
from vidalign.data import OVERALL, PreferencePair, save_pairs
from vidalign.synth import prompts as grammar
from vidalign.synth.annotators import AnnotatorConfig, annotate
from vidalign.synth.degrade import FAILURE_MODES
from vidalign.synth.oracle import judge, pointwise_mos
from vidalign.synth.profiles import PROFILES, clip_severities, sample_clip
from vidalign.video import read_video, write_video

SPLITS = ("train", "val", "test")


@dataclass
class DatasetSettings:
    """Everything ``build_dataset`` was asked for (stored in ``world.json``)."""

    num_prompts: int = 64
    pairs_per_prompt: int = 4
    seed: int = 0
    size: int = 64
    num_frames: int = 16
    fps: float = 8.0
    crf: int = 0
    eval_prompts: int = 64
    hard_prompts: int = 72
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    annotators: AnnotatorConfig = field(default_factory=AnnotatorConfig)


@dataclass
class ClipJob:
    """One clip to render, encode, decode and judge."""

    index: int
    prompt: str
    profile: str
    seed: int
    path: str
    size: int
    num_frames: int
    fps: float
    crf: int


@dataclass
class DatasetSummary:
    """What was written."""

    out_dir: Path
    pairs: dict[str, int]
    clips: int
    tie_rates: dict[str, float]


def clip_seed(seed: int, prompt_index: int, profile_index: int) -> int:
    """Seed of the clip of one prompt by one profile."""
    return int(np.random.SeedSequence([seed, prompt_index, profile_index]).generate_state(1)[0])


def split_prompts(
    prompts: list[str], fractions: tuple[float, float, float], seed: int
) -> dict[str, list[str]]:
    """Shuffle prompts and cut them into train / val / test (val and test get >= 1 when n >= 3)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"split fractions must be three non-negative numbers, got {fractions}")
    n = len(prompts)
    order = np.random.default_rng([seed, 3]).permutation(n)
    total = sum(fractions)
    n_val = round(n * fractions[1] / total)
    n_test = round(n * fractions[2] / total)
    if n >= 3:
        n_val, n_test = max(n_val, 1 if fractions[1] else 0), max(n_test, 1 if fractions[2] else 0)
    n_train = n - n_val - n_test
    shuffled = [prompts[i] for i in order]
    return {
        "train": shuffled[:n_train],
        "val": shuffled[n_train : n_train + n_val],
        "test": shuffled[n_train + n_val :],
    }


def draw_pairs(num_prompts: int, pairs_per_prompt: int, seed: int) -> list[tuple[int, str, str]]:
    """(prompt index, model A, model B) for every pair.

    Each pair has two different profiles, drawn by weight; no two pairs of one prompt have
    the same two profiles.
    """
    names = list(PROFILES)
    most = len(names) * (len(names) - 1) // 2
    if pairs_per_prompt > most:
        raise ValueError(f"at most {most} distinct pairs per prompt, got {pairs_per_prompt}")
    weights = np.array([PROFILES[n].weight for n in names], dtype=np.float64)
    weights /= weights.sum()
    out = []
    for i in range(num_prompts):
        rng = np.random.default_rng([seed, 4, i])
        seen: set[frozenset[int]] = set()
        while len(seen) < pairs_per_prompt:
            a, b = rng.choice(len(names), size=2, replace=False, p=weights)
            if frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                out.append((i, names[a], names[b]))
    return out


def _one_thread_worker() -> None:
    """Worker initialiser: one torch thread per process, so N workers use N cores."""
    import torch

    torch.set_num_threads(1)


def run_clip(job: ClipJob) -> tuple[int, dict[str, float]]:
    """Render, encode, decode and judge one clip; returns (index, oracle scores)."""
    frames = sample_clip(
        job.prompt,
        job.profile,
        seed=job.seed,
        size=job.size,
        num_frames=job.num_frames,
        fps=job.fps,
    )
    write_video(job.path, frames, job.fps, crf=job.crf)
    return job.index, judge(read_video(job.path), job.prompt)


def _run_all(
    jobs: list[ClipJob], workers: int, progress: bool
) -> Iterator[tuple[int, dict[str, float]]]:
    bar = tqdm(total=len(jobs), desc="clips", unit="clip", disable=not progress, dynamic_ncols=True)
    if workers <= 1:
        for job in jobs:
            yield run_clip(job)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread_worker) as pool:
            for result in pool.map(run_clip, jobs, chunksize=4):
                yield result
                bar.update()
    bar.close()


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _clips_csv(jobs: list[ClipJob], scores: dict[int, dict[str, float]], out_dir: Path) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "prompt", "model", "seed", *DEFAULT_DIMS, *FAILURE_MODES])
    for job in jobs:
        sev = clip_severities(job.profile, job.seed)
        writer.writerow(
            [
                os.path.relpath(job.path, out_dir),
                job.prompt,
                job.profile,
                job.seed,
                *(f"{scores[job.index][d]:.6f}" for d in DEFAULT_DIMS),
                *(f"{sev[m]:.4f}" for m in FAILURE_MODES),
            ]
        )
    return buf.getvalue()


def build_dataset(
    out_dir: str | Path,
    *,
    num_prompts: int = 64,
    pairs_per_prompt: int = 4,
    seed: int = 0,
    size: int = 64,
    num_frames: int = 16,
    fps: float = 8.0,
    crf: int = 0,
    eval_prompts: int = 64,
    hard_prompts: int = 72,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    annotators: AnnotatorConfig | None = None,
    workers: int = 1,
    exclude_eval: Iterable[str] = (),
    progress: bool = True,
    on_clip: Callable[[int], None] | None = None,
) -> DatasetSummary:
    """Render, judge and label a synthetic preference dataset (module docstring for the layout).

    Args:
        out_dir: output folder; created, and files in it are overwritten.
        num_prompts: distinct general prompts shared among the splits.
        pairs_per_prompt: pairs per prompt, each of two different generator profiles.
        seed: fixes everything.
        size, num_frames, fps: clip shape and rate.
        crf: x264 quality. x264 at crf > 0 was measured not to be bit-reproducible here
            (the same frames encoded 12 times gave 4-5 different files, even with one
            thread), so the default 0 (lossless) keeps decoded frames, oracle scores and
            CSV bytes identical between runs.
        eval_prompts: general prompts held out for evaluation (``prompts/general.txt``).
        hard_prompts: hard prompts (``prompts/hard.txt``).
        split_fractions: train / val / test shares of the prompts.
        annotators: simulated annotator settings (defaults if None).
        workers: processes that render and judge clips in parallel.
        exclude_eval: prompts never held out for evaluation, e.g. the base generator's
            training prompts (the evaluation set is disjoint from every training prompt).
        progress: show a progress bar.
        on_clip: called with the clip index after each clip (for callers' own progress).

    Returns:
        A summary of what was written.
    """
    if num_prompts < 1 or pairs_per_prompt < 1:
        raise ValueError(
            f"need >= 1 prompt and pair per prompt, got {num_prompts}, {pairs_per_prompt}"
        )
    settings = DatasetSettings(
        num_prompts=num_prompts,
        pairs_per_prompt=pairs_per_prompt,
        seed=seed,
        size=size,
        num_frames=num_frames,
        fps=float(fps),
        crf=crf,
        eval_prompts=eval_prompts,
        hard_prompts=hard_prompts,
        split_fractions=tuple(split_fractions),
        annotators=annotators or AnnotatorConfig(),
    )
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "prompts").mkdir(exist_ok=True)

    prompts = grammar.general_prompts(num_prompts, seed)
    not_held_out = frozenset(prompts) | frozenset(exclude_eval)
    held_out = grammar.general_prompts(eval_prompts, seed + 1, exclude=not_held_out)
    hard = grammar.hard_prompts(hard_prompts, seed)
    splits = split_prompts(prompts, settings.split_fractions, seed)

    names = list(PROFILES)
    pair_specs = draw_pairs(num_prompts, pairs_per_prompt, seed)
    jobs: dict[tuple[int, str], ClipJob] = {}
    for i, a, b in pair_specs:
        for name in (a, b):
            if (i, name) not in jobs:
                jobs[(i, name)] = ClipJob(
                    index=len(jobs),
                    prompt=prompts[i],
                    profile=name,
                    seed=clip_seed(seed, i, names.index(name)),
                    path=str(out / "videos" / f"p{i:05d}_{name}.mp4"),
                    size=size,
                    num_frames=num_frames,
                    fps=float(fps),
                    crf=crf,
                )
    job_list = list(jobs.values())
    scores: dict[int, dict[str, float]] = {}
    for index, result in _run_all(job_list, workers, progress):
        scores[index] = result
        if on_clip is not None:
            on_clip(index)

    diffs: dict[str, np.ndarray] = {}
    for dim in DEFAULT_DIMS:
        diffs[dim] = np.array(
            [
                scores[jobs[(i, a)].index][dim] - scores[jobs[(i, b)].index][dim]
                for i, a, b in pair_specs
            ]
        )
    diffs[OVERALL] = sum(diffs[d] / max(float(diffs[d].std()), 1e-12) for d in DEFAULT_DIMS)
    labels = annotate(diffs, seed=seed, config=settings.annotators)

    split_of = {p: s for s, ps in splits.items() for p in ps}
    by_split: dict[str, list[PreferencePair]] = {s: [] for s in SPLITS}
    for k, (i, a, b) in enumerate(pair_specs):
        ja, jb = jobs[(i, a)], jobs[(i, b)]
        pair = PreferencePair(
            prompt=prompts[i],
            path_a=ja.path,
            path_b=jb.path,
            labels={d: int(labels[d].labels[k]) for d in (*DEFAULT_DIMS, OVERALL)},
            fps_a=float(fps),
            fps_b=float(fps),
            num_frames_a=num_frames,
            num_frames_b=num_frames,
            mos_a={d: round(v, 4) for d, v in pointwise_mos(scores[ja.index]).items()},
            mos_b={d: round(v, 4) for d, v in pointwise_mos(scores[jb.index]).items()},
            meta={"A_model": a, "B_model": b},
        )
        by_split[split_of[prompts[i]]].append(pair)
    counts = {}
    for split, pairs in by_split.items():
        counts[split] = len(pairs)
        if pairs:
            save_pairs(pairs, out / f"{split}.csv", relative_to=out)
            save_pairs(pairs, out / f"{split}.jsonl", relative_to=out)
        _write_text(out / "prompts" / f"{split}.txt", "".join(f"{p}\n" for p in splits[split]))
    _write_text(out / "prompts" / "general.txt", "".join(f"{p}\n" for p in held_out))
    _write_text(out / "prompts" / "hard.txt", "".join(f"{p}\n" for p in hard))
    _write_text(out / "clips.csv", _clips_csv(job_list, scores, out))
    tie_rates = {d: float((labels[d].labels == 0).mean()) for d in labels}
    world: dict[str, Any] = {
        "settings": asdict(settings),
        "profiles": {
            n: {"era": p.era, "weight": p.weight, "failures": dict(p.failures)}
            for n, p in PROFILES.items()
        },
        "annotators": {d: {"log_theta": a.log_theta, "scale": a.scale} for d, a in labels.items()},
        "counts": {"pairs": counts, "clips": len(job_list)},
        "tie_rates": tie_rates,
    }
    _write_text(out / "world.json", json.dumps(world, indent=2, sort_keys=True) + "\n")
    return DatasetSummary(out_dir=out, pairs=counts, clips=len(job_list), tie_rates=tie_rates)
