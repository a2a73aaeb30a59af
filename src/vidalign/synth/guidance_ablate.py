"""Table 6 / 7 analogues on the synthetic world (REFERENCE.md §4, Flow-NRG).

1. **Pairs from the generator's own samples.** Two samples per training prompt (seeds
   ``sample_seed(seed, 2i)`` and ``2i + 1``), judged by the pixel-only oracle and labelled by
   the simulated annotators (``vidalign.synth.annotators``: BTT on oracle differences, with
   ties), or by the noise-free oracle with a tie margin. In the paper the labels come from
   VideoReward; on the synthetic world the issue allows the world's own annotators.
2. **Two latent reward models** with the same K, steps and data: ``noised`` (t ~ U(0, 1)) and
   ``clean`` (t = 0 only).
3. **Guided sampling** of held-out prompts with the same seeds as the unguided baseline:
   MQ-only guidance with each model (Table 7), and a sweep of VQ:MQ:TA weights with the
   noised model (Table 6).
4. **Scores:** the oracle's per-dimension mean, and per dimension the win rate against the
   unguided sample of the same prompt and seed (ties count one half).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from vidalign.checkpoint import latest_checkpoint
from vidalign.config import check_config
from vidalign.data import PreferencePair, save_pairs
from vidalign.guidance.config import LatentRMConfig
from vidalign.guidance.errors import LatentRewardError
from vidalign.guidance.folder import load_latent_reward
from vidalign.guidance.nrg import GuidanceSettings, reward_guidance
from vidalign.guidance.trainer import train_latent_rm
from vidalign.policy.folder import load_generator
from vidalign.policy.sampling import sample_seed, sample_videos
from vidalign.synth.annotators import annotate
from vidalign.synth.oracle import judge
from vidalign.synth.prompts import general_prompts
from vidalign.video import write_video

DIMS = ("VQ", "MQ", "TA")


@dataclass
class AblateConfig:
    """Table 6/7 analogues on the synthetic world (module docstring)."""

    out_dir: str = field(default="runs/guidance-ablate", metadata={"help": "run folder"})
    generator: str = field(
        default="runs/policy-synth/model", metadata={"help": "pre-trained synthetic generator"}
    )
    pair_prompts: int = field(
        default=384,
        metadata={"help": "training prompts; two samples each form one pair", "ge": 1},
    )
    val_prompts: int = field(
        default=64, metadata={"help": "held-out prompts for RM accuracy", "ge": 1}
    )
    eval_prompts: int = field(
        default=64, metadata={"help": "prompts sampled with each setting", "ge": 1}
    )
    labeller: Literal["annotators", "oracle"] = field(
        default="annotators",
        metadata={
            "help": "annotators: the simulated raters (BTT with ties); oracle: sign of the "
            "oracle difference, a tie below tie_margin"
        },
    )
    tie_margin: list[float] = field(
        default_factory=lambda: [0.02, 0.04, 0.02],
        metadata={"help": "per-dimension oracle difference below which a pair is a tie", "ge": 0},
    )
    score_transform: Literal["raw", "log"] = field(
        default="raw",
        metadata={
            "help": "oracle scores the labels compare: raw, or log (for generators whose "
            "samples sit near the oracle's floor, where raw differences vanish)"
        },
    )
    rm_steps: int = field(
        default=300, metadata={"help": "training steps of each latent RM", "ge": 1}
    )
    num_blocks: int = field(default=1, metadata={"help": "K of both latent RMs", "ge": 1})
    scale: float = field(default=1.0, metadata={"help": "guidance scale w", "ge": 0})
    max_ratio: float = field(default=5.0, metadata={"help": "cap on t/(1−t)", "gt": 0})
    t_min: float = field(default=0.0, metadata={"help": "guidance window start", "ge": 0, "le": 1})
    t_max: float = field(default=1.0, metadata={"help": "guidance window end", "ge": 0, "le": 1})
    sweep: list[str] = field(
        default_factory=lambda: ["1:0:0", "0:1:0", "0:0:1", "0.5:0.5:0", "1:1:1"],
        metadata={"help": "VQ:MQ:TA weight settings for the noised RM"},
    )
    steps: int = field(default=0, metadata={"help": "Euler steps (0: the generator's)", "ge": 0})
    batch_size: int = field(default=32, metadata={"help": "samples per sampler call", "ge": 1})
    seed: int = field(
        default=0, metadata={"help": "seed of prompts, samples and training", "ge": 0}
    )
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads (0: leave as is)", "ge": 0}
    )


@dataclass
class SettingResult:
    """One sampling setting: its oracle means, win rates against unguided, and wall time."""

    name: str
    reward_model: str
    weights: dict[str, float]
    oracle: dict[str, float]
    win_rate: dict[str, float]
    seconds: float


def parse_ratio(text: str, dims=DIMS) -> dict[str, float]:
    """``"0.5:0.5:0"`` → ``{"VQ": 0.5, "MQ": 0.5, "TA": 0.0}``."""
    parts = text.split(":")
    if len(parts) != len(dims):
        raise LatentRewardError(f"weight setting {text!r}: expected {len(dims)} numbers a:b:c")
    try:
        return {d: float(p) for d, p in zip(dims, parts)}
    except ValueError:
        raise LatentRewardError(f"weight setting {text!r}: not numbers") from None


def judge_all(clips: torch.Tensor, prompts: list[str]) -> np.ndarray:
    """Oracle scores (N, 3) of uint8 clips (N, F, C, H, W), columns VQ, MQ, TA."""
    return np.array([[judge(c, p)[d] for d in DIMS] for c, p in zip(clips, prompts)])


def win_rates(guided: np.ndarray, base: np.ndarray) -> dict[str, float]:
    """Per dimension: share of samples where guided beats base, ties counting 1/2."""
    wins = (guided > base) + 0.5 * (guided == base)
    return {d: float(wins[:, j].mean()) for j, d in enumerate(DIMS)}


def label_pairs(scores_a: np.ndarray, scores_b: np.ndarray, cfg: AblateConfig, seed: int):
    """Labels (N, 3) in {+1, 0, −1} from oracle scores of A and B (module docstring)."""
    if cfg.score_transform == "log":  # near the oracle's floor raw differences vanish
        scores_a, scores_b = (
            np.log(np.maximum(scores_a, 1e-300)),
            np.log(np.maximum(scores_b, 1e-300)),
        )
    diff = scores_a - scores_b
    if cfg.labeller == "oracle":
        margin = np.asarray(cfg.tie_margin, dtype=np.float64)
        return np.where(np.abs(diff) <= margin, 0, np.sign(diff)).astype(int)
    ann = annotate({d: diff[:, j] for j, d in enumerate(DIMS)}, seed=seed)
    return np.stack([ann[d].labels for d in DIMS], axis=1).astype(int)


def make_pairs(adapter, prompts: list[str], out_dir: Path, cfg: AblateConfig, seed: int) -> Path:
    """Sample two clips per prompt, write mp4s and ``pairs.csv`` labelled on VQ/MQ/TA."""
    out_dir = out_dir.resolve()
    done = out_dir / "pairs.csv"
    if done.is_file():
        return done
    seeds = [sample_seed(seed, j) for j in range(2 * len(prompts))]
    twice = [p for p in prompts for _ in range(2)]
    clips = sample_videos(
        adapter, twice, seeds, steps=cfg.steps or None, batch_size=cfg.batch_size, progress=True
    )
    scores = judge_all(clips, twice)
    labels = label_pairs(scores[0::2], scores[1::2], cfg, seed)
    fps = adapter.defaults.fps
    pairs = []
    for i, prompt in enumerate(prompts):
        paths = []
        for k in range(2):
            path = out_dir / "videos" / f"{2 * i + k:05d}.mp4"
            write_video(path, clips[2 * i + k], fps)
            paths.append(str(path))
        pairs.append(
            PreferencePair(
                prompt, paths[0], paths[1], {d: int(labels[i, j]) for j, d in enumerate(DIMS)},
                mos_a={d: float(scores[2 * i, j]) for j, d in enumerate(DIMS)},
                mos_b={d: float(scores[2 * i + 1, j]) for j, d in enumerate(DIMS)},
            )
        )  # fmt: skip
    save_pairs(pairs, done, dims=list(DIMS), relative_to=out_dir)
    return done


def train_rm(cfg: AblateConfig, variant: str, train: Path, val: Path, out: Path) -> Path:
    if (out / "model" / "latent_reward.json").is_file():
        return out / "model"
    rm_cfg = LatentRMConfig(
        out_dir=str(out), generator=cfg.generator, train_data=str(train), val_data=str(val),
        dims=list(DIMS), num_blocks=cfg.num_blocks, variant=variant, steps=cfg.rm_steps,
        seed=cfg.seed, save_every=max(1, cfg.rm_steps // 2),
        resume=latest_checkpoint(out) is not None,  # an earlier call stopped part-way
    )  # fmt: skip
    return train_latent_rm(rm_cfg).model_dir


def guided_wrapper(rm, settings: GuidanceSettings):
    """``model -> reward_guidance(model, rm, settings)``, for ``velocity_wrapper``."""
    return lambda model: reward_guidance(model, rm, settings)


def run_ablation(cfg: AblateConfig) -> list[SettingResult]:
    """The whole experiment (module docstring); writes ``results.json`` and ``results.md``."""
    check_config(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adapter = load_generator(cfg.generator)
    n_train, n_val, n_eval = cfg.pair_prompts, cfg.val_prompts, cfg.eval_prompts
    prompts = list(general_prompts(n_train + n_val + n_eval, cfg.seed))
    train = make_pairs(adapter, prompts[:n_train], out / "pairs-train", cfg, cfg.seed)
    val = make_pairs(
        adapter, prompts[n_train : n_train + n_val], out / "pairs-val", cfg, cfg.seed + 1
    )
    models = {v: train_rm(cfg, v, train, val, out / f"rm-{v}") for v in ("noised", "clean")}
    rms = {v: load_latent_reward(p, for_guidance=True) for v, p in models.items()}

    eval_prompts = prompts[n_train + n_val :]
    seeds = [sample_seed(cfg.seed + 2, i) for i in range(len(eval_prompts))]
    settings: list[tuple[str, str | None, dict[str, float]]] = [
        ("unguided", None, {}),
        ("MQ only, noised RM", "noised", {"VQ": 0.0, "MQ": 1.0, "TA": 0.0}),
        ("MQ only, clean RM", "clean", {"VQ": 0.0, "MQ": 1.0, "TA": 0.0}),
    ]
    settings += [(f"VQ:MQ:TA = {s}, noised RM", "noised", parse_ratio(s)) for s in cfg.sweep]
    results: list[SettingResult] = []
    base = None
    for name, which, weights in settings:
        wrapper = None
        if which is not None:
            g = GuidanceSettings(
                scale=cfg.scale, weights=weights, t_min=cfg.t_min, t_max=cfg.t_max,
                max_ratio=cfg.max_ratio,
            )  # fmt: skip
            wrapper = guided_wrapper(rms[which], g)
        start = time.perf_counter()
        clips = sample_videos(
            adapter, eval_prompts, seeds, steps=cfg.steps or None, batch_size=cfg.batch_size,
            velocity_wrapper=wrapper,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        scores = judge_all(clips, eval_prompts)
        if base is None:
            base = scores
        results.append(
            SettingResult(
                name=name, reward_model=which or "-", weights=weights,
                oracle={d: float(scores[:, j].mean()) for j, d in enumerate(DIMS)},
                win_rate=win_rates(scores, base), seconds=seconds,
            )
        )  # fmt: skip
        print(format_results(results[-1:]), flush=True)
    (out / "results.json").write_text(
        json.dumps({"config": asdict(cfg), "results": [asdict(r) for r in results]}, indent=2)
    )
    (out / "results.md").write_text(format_results(results) + "\n")
    return results


def format_results(results: list[SettingResult]) -> str:
    """A markdown table: oracle means and win rates (%) against unguided, per dimension."""
    head = "| setting | oracle VQ | oracle MQ | oracle TA | win VQ | win MQ | win TA | s |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in results:
        o = " | ".join(f"{r.oracle[d]:.3f}" for d in DIMS)
        w = " | ".join(f"{100 * r.win_rate[d]:.1f}" for d in DIMS)
        lines.append(f"| {r.name} | {o} | {w} | {r.seconds:.0f} |")
    return "\n".join(lines)
