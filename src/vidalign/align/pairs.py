"""On-policy preference pairs: sample the base model, score the samples, pair them up.

``make_pairs`` writes, under ``out_dir``::

    videos/000123.mp4          sample 123, decoded and encoded as H.264
    latents/000123.safetensors {"x0": (C, F', H', W') float32}, the sampled x0 itself, so
                               training never re-samples or re-encodes
    scores.jsonl               one row per sample: index, prompt, seed, video, latent,
                               scores {dim: value, "Overall": Σ w_d·dim}, reward (= Overall)
    pairs.csv                  a standard pair file (``vidalign.data.load_pairs``) whose
                               labels come from reward differences; the ``latent_A/B`` and
                               ``reward_A/B`` columns link each side to its cache
    make_pairs.json            the settings used
    skipped.jsonl              samples the scorer could not score (only with skip_errors)

Labels (REFERENCE.md §1 encoding): for each dimension ``d``, ``+1`` when
``s_d(A) − s_d(B) > tie_margin``, ``−1`` when below ``−tie_margin``, else ``0``; the
``Overall`` label does the same on the weighted reward ``Σ_d w_d·s_d``, and the trainer
ranks winner and loser by it. Pairs whose ``|ΔOverall|`` is below ``margin`` are dropped
(the margin filter). Scores are the scorer's normalised rewards when it has statistics.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from safetensors.torch import save_file
from tqdm.auto import tqdm

from vidalign.data import OVERALL, PreferencePair, save_pairs
from vidalign.errors import VidalignError, reason
from vidalign.eval.scorer import Scorer, resolve_weights
from vidalign.policy.adapter import Generator
from vidalign.policy.sampling import sample_latents, sample_seed
from vidalign.policy.text import check_prompts

Pairing = Literal["all", "best_worst"]
PAIR_FILE = "pairs.csv"
SCORES_FILE = "scores.jsonl"


class MakePairsError(VidalignError):
    """Building on-policy pairs failed; the message says at which sample or setting."""


@dataclass
class ScoredSample:
    """One sample of the policy with its scores.

    Attributes:
        index: sample number j = prompt_index·K + k (seed ``sample_seed(seed, j)``).
        prompt: its prompt. seed: its noise seed.
        video, latent: paths relative to the output folder.
        scores: dimension → score, plus ``Overall``.
    """

    index: int
    prompt: str
    seed: int
    video: str
    latent: str
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def reward(self) -> float:
        return self.scores[OVERALL]


@dataclass
class MakePairsResult:
    """Paths written and counts: ``num_samples`` scored, ``num_skipped`` unscorable."""

    pair_file: Path
    samples: list[ScoredSample]
    pairs: list[PreferencePair]
    num_skipped: int


def diff_label(diff: float, tie_margin: float) -> int:
    """+1 / −1 / 0 for a score difference ``s(A) − s(B)`` with ties within ``tie_margin``."""
    if diff > tie_margin:
        return 1
    if diff < -tie_margin:
        return -1
    return 0


def pair_samples(
    samples: Sequence[ScoredSample],
    *,
    dims: Sequence[str],
    pairing: Pairing = "all",
    margin: float = 0.0,
    tie_margin: float = 0.0,
    seed: int = 0,
) -> list[PreferencePair]:
    """Pairs within each prompt's samples, labelled from score differences (module docstring).

    Args:
        samples: scored samples; only samples of the same prompt are paired.
        dims: dimensions to label (each sample's ``scores`` must hold them and ``Overall``).
        pairing: ``all`` K·(K−1)/2 pairs per prompt, or ``best_worst``: the top- against the
            bottom-rewarded sample.
        margin: drop pairs with ``|ΔOverall| < margin`` (0 keeps every pair).
        tie_margin: score differences within it are labelled ties.
        seed: which side is A is a seeded coin flip, so labels are balanced.

    Returns:
        Pairs with ``path_a``/``path_b`` and ``meta`` latent/reward columns relative to the
        output folder.
    """
    if margin < 0 or tie_margin < 0:
        raise MakePairsError(f"margins must be non-negative; got {margin=} {tie_margin=}")
    if pairing not in ("all", "best_worst"):
        raise MakePairsError(f"pairing {pairing!r}: use 'all' or 'best_worst'")
    rng = random.Random(seed)
    by_prompt: dict[str, list[ScoredSample]] = {}
    for s in samples:
        by_prompt.setdefault(s.prompt, []).append(s)
    out = []
    for prompt, group in by_prompt.items():
        if pairing == "best_worst":
            ranked = sorted(group, key=lambda s: (s.reward, -s.index))
            combos = [(ranked[-1], ranked[0])] if len(ranked) > 1 else []
        else:
            combos = list(itertools.combinations(group, 2))
        for x, y in combos:
            if abs(x.reward - y.reward) < margin:
                continue
            a, b = (x, y) if rng.random() < 0.5 else (y, x)
            labels = {d: diff_label(a.scores[d] - b.scores[d], tie_margin) for d in dims}
            labels[OVERALL] = diff_label(a.reward - b.reward, tie_margin)
            meta = {
                "latent_A": a.latent,
                "latent_B": b.latent,
                "reward_A": repr(a.reward),
                "reward_B": repr(b.reward),
                "seed_A": str(a.seed),
                "seed_B": str(b.seed),
            }
            out.append(PreferencePair(prompt, a.video, b.video, labels, meta=meta))
    return out


def make_pairs(
    adapter: Generator,
    scorer: Scorer,
    prompts: Sequence[str],
    out_dir: str | Path,
    *,
    samples_per_prompt: int = 4,
    weights: Mapping[str, float] | None = None,
    pairing: Pairing = "all",
    margin: float = 0.0,
    tie_margin: float = 0.0,
    seed: int = 0,
    steps: int | None = None,
    cfg: float | None = None,
    batch_size: int = 8,
    skip_errors: bool = False,
    progress: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> MakePairsResult:
    """Sample K videos per prompt, score them and write the pair folder (module docstring).

    Args:
        adapter: the policy to sample (the base model, possibly with a LoRA loaded).
        scorer: a reward model (``RewardScorer``) or any ``Scorer`` (e.g. the oracle).
        prompts: distinct prompts.
        samples_per_prompt: K ≥ 2.
        weights: w_d of the Overall reward (default 1 per dimension; TA-only is
            ``{"VQ": 0, "MQ": 0, "TA": 1}``).
        pairing, margin, tie_margin: see ``pair_samples``.
        seed: run seed of the samples' noise (``sample_seed(seed, j)``) and the A/B coin.
        steps, cfg: sampler settings (default: the generator's).
        batch_size: samples per sampler call.
        skip_errors: write unscorable samples to ``skipped.jsonl`` and go on, instead of
            stopping at the first one.
        settings: extra provenance written into ``make_pairs.json``.
    """
    from vidalign.video import write_video

    prompts = check_prompts(prompts)
    if samples_per_prompt < 2:
        raise MakePairsError(f"samples_per_prompt must be at least 2, got {samples_per_prompt}")
    dupes = sorted({p for p in prompts if prompts.count(p) > 1})
    if dupes:
        raise MakePairsError(f"prompts must be distinct; repeated: {dupes[:3]}")
    dims = list(scorer.dims)
    w = resolve_weights(dims, weights)
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "latents").mkdir(parents=True, exist_ok=True)
    fps = adapter.defaults.fps

    jobs = [(p, i * samples_per_prompt + k) for i, p in enumerate(prompts)
            for k in range(samples_per_prompt)]  # fmt: skip
    samples: list[ScoredSample] = []
    bar = tqdm(total=len(jobs), desc="sample", disable=not progress, dynamic_ncols=True)
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        seeds = [sample_seed(seed, j) for _, j in chunk]
        x0 = sample_latents(
            adapter, [p for p, _ in chunk], seeds, steps=steps, cfg=cfg, batch_size=batch_size
        )
        frames = adapter.decode(x0).cpu()
        for (prompt, j), s, z, clip in zip(chunk, seeds, x0, frames):
            video, latent = f"videos/{j:06d}.mp4", f"latents/{j:06d}.safetensors"
            write_video(out / video, clip, fps)
            save_file({"x0": z.contiguous()}, str(out / latent))
            samples.append(ScoredSample(j, prompt, s, video, latent))
        bar.update(len(chunk))
    bar.close()

    doc = {
        "samples_per_prompt": samples_per_prompt, "num_prompts": len(prompts),
        "steps": steps, "cfg": cfg, "fps": fps, **(settings or {}),
    }  # fmt: skip
    return _score_and_pair(
        samples, scorer, out, weights=w, pairing=pairing, margin=margin,
        tie_margin=tie_margin, seed=seed, skip_errors=skip_errors, settings=doc,
    )  # fmt: skip


def relabel_pairs(
    sample_dir: str | Path,
    scorer: Scorer,
    out_dir: str | Path,
    *,
    weights: Mapping[str, float] | None = None,
    pairing: Pairing = "all",
    margin: float = 0.0,
    tie_margin: float = 0.0,
    seed: int = 0,
    skip_errors: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> MakePairsResult:
    """Score the samples of an earlier ``make_pairs`` folder with another scorer and pair them.

    The videos and cached latents stay where ``make_pairs`` wrote them (the new pair file
    names them by absolute path); ``out_dir`` gets its own ``scores.jsonl``, ``pairs.csv``
    and ``make_pairs.json``. With the same ``pairing``, ``margin`` and ``seed``, the pairs
    are the same sample pairs with the same A/B sides as the source folder's, labelled by
    the new scorer: the gold-label control of an alignment run (``scorer`` the oracle).
    """
    src = Path(sample_dir).resolve()
    samples = [
        ScoredSample(r["index"], r["prompt"], r["seed"], str(src / r["video"]),
                     str(src / r["latent"]))
        for r in read_scores(src)
    ]  # fmt: skip
    if not samples:
        raise MakePairsError(f"{src / SCORES_FILE}: no samples to relabel")
    doc = {"relabelled_from": str(src), **(settings or {})}
    w = resolve_weights(list(scorer.dims), weights)
    return _score_and_pair(
        samples, scorer, Path(out_dir), weights=w, pairing=pairing, margin=margin,
        tie_margin=tie_margin, seed=seed, skip_errors=skip_errors, settings=doc,
    )  # fmt: skip


def read_scores(folder: str | Path) -> list[dict[str, Any]]:
    """The rows of a pair folder's ``scores.jsonl`` (``make_pairs``), in sample order."""
    path = Path(folder) / SCORES_FILE
    if not path.is_file():
        raise MakePairsError(f"{path}: no such file; is {folder} a make-pairs folder?")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise MakePairsError(f"{path}:{n}: not JSON ({err.msg})") from None
        missing = [k for k in ("index", "prompt", "seed", "video", "latent", "scores")
                   if not isinstance(row, dict) or k not in row]  # fmt: skip
        if missing:
            raise MakePairsError(f"{path}:{n}: missing field(s) {missing}")
        rows.append(row)
    return rows


def _score_and_pair(
    samples: list[ScoredSample],
    scorer: Scorer,
    out: Path,
    *,
    weights: dict[str, float],
    pairing: Pairing,
    margin: float,
    tie_margin: float,
    seed: int,
    skip_errors: bool,
    settings: Mapping[str, Any],
) -> MakePairsResult:
    """Score ``samples`` (paths relative to ``out``, or absolute), pair them, write the files."""
    dims = list(scorer.dims)
    out.mkdir(parents=True, exist_ok=True)
    videos = [str(out / s.video) for s in samples]
    normalize = getattr(scorer, "stats", None) is not None
    kwargs: dict[str, Any] = {"errors": "report"} if skip_errors else {}
    rows = scorer.score(
        videos, [s.prompt for s in samples], normalize=normalize, weights=weights, **kwargs
    )
    kept, skipped = [], []
    for s, video, row in zip(samples, videos, rows):
        if "error" in row:
            why = reason(video, row["error"])
            skipped.append({"index": s.index, "video": s.video, "error": why})
            continue
        s.scores = {k: float(row[k]) for k in [*dims, OVERALL]}
        kept.append(s)
    if skipped:
        with (out / "skipped.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in skipped)
    with (out / SCORES_FILE).open("w", encoding="utf-8") as f:
        for s in kept:
            row = {"index": s.index, "prompt": s.prompt, "seed": s.seed, "video": s.video,
                   "latent": s.latent, "scores": s.scores, "reward": s.reward}  # fmt: skip
            f.write(json.dumps(row) + "\n")

    pairs = pair_samples(
        kept, dims=dims, pairing=pairing, margin=margin, tie_margin=tie_margin, seed=seed
    )
    if not pairs:
        raise MakePairsError(
            f"{out}: no pairs left (from {len(kept)} scored samples; margin {margin}); "
            "lower --margin or sample more per prompt"
        )
    for p in pairs:
        p.path_a, p.path_b = str(out / p.path_a), str(out / p.path_b)
    pair_file = save_pairs(pairs, out / PAIR_FILE, dims=dims, relative_to=out)
    doc = {
        **settings,
        "num_samples": len(kept), "num_skipped": len(skipped), "num_pairs": len(pairs),
        "dims": dims, "weights": weights, "normalized": normalize, "pairing": pairing,
        "margin": margin, "tie_margin": tie_margin, "seed": seed,
    }  # fmt: skip
    (out / "make_pairs.json").write_text(json.dumps(doc, indent=2))
    return MakePairsResult(pair_file, kept, pairs, len(skipped))


def tie_rates(pairs: Sequence[PreferencePair]) -> dict[str, float]:
    """Label name → share of ``pairs`` whose label is a tie."""
    names = list(pairs[0].labels) if pairs else []
    return {d: sum(p.labels[d] == 0 for p in pairs) / len(pairs) for d in names}


def proxy_accuracy(
    proxy_dir: str | Path, gold_dir: str | Path, *, tie_margin: float = 0.0
) -> dict[str, dict[str, float | int]]:
    """How well the scores of ``proxy_dir`` order the samples that ``gold_dir`` relabelled.

    Every within-prompt pair of samples counts once. The gold label of a dimension is the
    sign of the gold score difference (ties within ``tie_margin``); the proxy's margin is
    its score difference. Returns dimension → ``{"with_ties", "without_ties", "pairs",
    "strict_pairs"}`` (the accuracies of ``vidalign.eval.accuracy``) for every dimension
    both folders scored, ``Overall`` included.
    """
    import numpy as np

    from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties

    proxy = {r["index"]: r for r in read_scores(proxy_dir)}
    gold = read_scores(gold_dir)
    missing = [r["index"] for r in gold if r["index"] not in proxy]
    if missing:
        raise MakePairsError(
            f"{gold_dir}: samples {missing[:5]} have no score in {Path(proxy_dir) / SCORES_FILE}"
        )
    dims = [d for d in gold[0]["scores"] if d in proxy[gold[0]["index"]]["scores"]]
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for r in gold:
        by_prompt.setdefault(r["prompt"], []).append(r)
    out: dict[str, dict[str, float | int]] = {}
    for d in dims:
        h, m = [], []
        for group in by_prompt.values():
            for a, b in itertools.combinations(group, 2):
                h.append(diff_label(a["scores"][d] - b["scores"][d], tie_margin))
                m.append(proxy[a["index"]]["scores"][d] - proxy[b["index"]]["scores"][d])
        if not h:
            raise MakePairsError(f"{gold_dir}: no prompt has two samples to compare")
        h_arr, m_arr = np.asarray(h), np.asarray(m)
        strict = int((h_arr != 0).sum())
        out[d] = {
            "with_ties": accuracy_with_ties(h_arr, m_arr)[0],
            "without_ties": accuracy_without_ties(h_arr, m_arr) if strict else float("nan"),
            "pairs": len(h),
            "strict_pairs": strict,
        }
    return out
