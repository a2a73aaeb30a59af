"""The demo's last stage: sample every method, judge the samples, write the report.

Every method samples the same prompts with the same seeds as the base model, so each
candidate video has a base twin; win rates compare the twins (ties count half) under two
judges: the reward model the methods optimised, and the synthetic world's pixel oracle,
which none of them saw. The clean renderer's clips of the same prompts are scored too, so
the report can say how much of the distance from the base model to the renderer each arm
closes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.progress import track

from vidalign.demo.arms import align_arms
from vidalign.demo.config import DemoConfig
from vidalign.demo.report import write_report
from vidalign.demo.stages import Stage, stage_summary
from vidalign.eval.judges import load_judge
from vidalign.eval.prompt_sets import read_prompt_set
from vidalign.eval.winrate_run import run_winrate
from vidalign.guidance.folder import load_latent_reward
from vidalign.guidance.nrg import GuidanceSettings, reward_guidance
from vidalign.policy.folder import load_generator
from vidalign.policy.lora import load_lora
from vidalign.policy.sampling import sample_to_folder
from vidalign.synth.generator_eval import clean_clips
from vidalign.synth.oracle import ORACLE_VERSION
from vidalign.synth.sample_metrics import oracle_metrics
from vidalign.synth.scorers import oracle_judge
from vidalign.video import write_video

PROMPT_SETS = ("general", "hard")


def _prompts(out: Path, name: str, n: int) -> list[str]:
    prompts = read_prompt_set(out / "dataset" / "prompts" / f"{name}.txt")
    return prompts[:n]


def _sample_method(
    cfg: DemoConfig, out: Path, method: str, prompts: dict[str, list[str]], folder: Path
) -> dict[str, Path]:
    """Sample one method on every prompt set; returns set name → sample folder."""
    adapter = load_generator(stage_summary(out, "policy")["model_dir"])
    wrapper = None
    if method in align_arms(cfg):
        load_lora(adapter.transformer, stage_summary(out, f"align_{method}")["lora_dir"])
    elif method == "nrg":
        rm = load_latent_reward(stage_summary(out, "latent_rm")["model_dir"], for_guidance=True)
        settings = GuidanceSettings(**cfg.nrg)

        def wrapper(model):
            return reward_guidance(model, rm, settings)

    dirs = {}
    for name, plist in prompts.items():
        d = folder / "samples" / method / name
        sample_to_folder(
            adapter,
            plist,
            d,
            seed=cfg.seed + 1,
            samples_per_prompt=cfg.evaluation.samples_per_prompt,
            velocity_wrapper=wrapper,
        )
        dirs[name] = d
    return dirs


def _write_clean(cfg: DemoConfig, prompts: dict[str, list[str]], folder: Path) -> dict[str, Path]:
    """The clean renderer's clip of every prompt, as a sample set (``index.jsonl`` + mp4s)."""
    d = cfg.dataset
    dirs = {}
    for name, plist in prompts.items():
        out = folder / "samples" / "clean" / name
        out.mkdir(parents=True, exist_ok=True)
        spp = cfg.evaluation.samples_per_prompt
        takes = [clean_clips(plist, num_frames=d.num_frames, size=d.size, fps=d.fps,
                             seed=cfg.seed + 1 + k) for k in range(spp)]  # fmt: skip
        rows = []
        for i, prompt in enumerate(plist):  # prompt-major, as the methods' sample sets
            for k in range(spp):
                j = i * spp + k
                rel = f"{j:06d}.mp4"
                write_video(out / rel, takes[k][i], d.fps)
                rows.append({"index": j, "prompt": prompt, "seed": k, "path": rel})
        (out / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        dirs[name] = out
    return dirs


def evaluate(cfg: DemoConfig, out: Path, folder: Path, stages: list[str]) -> dict[str, Any]:
    """Sample, judge and report; returns the numbers the report shows. ``stages``: every
    stage of the run in order, for the report's time table."""
    started = time.perf_counter()

    ev = cfg.evaluation
    prompts = {
        "general": _prompts(out, "general", ev.general_prompts),
        "hard": _prompts(out, "hard", ev.hard_prompts),
    }
    methods = ["base", *align_arms(cfg), "nrg"]
    samples = {
        m: _sample_method(cfg, out, m, prompts, folder)
        for m in track(methods, description="sampling every method")
    }
    samples["clean"] = _write_clean(cfg, prompts, folder)
    judges = {
        "reward model": load_judge(stage_summary(out, "reward")["model_dir"]),
        "oracle": oracle_judge(),
    }
    winrates: dict[str, dict[str, dict[str, Any]]] = {}
    for set_name in PROMPT_SETS:
        for judge_name, judge in judges.items():
            key = f"{set_name} / {judge_name}"
            winrates[key] = {}
            for m in methods[1:]:
                res = run_winrate(
                    samples["base"][set_name],
                    samples[m][set_name],
                    judge,
                    n_bootstrap=ev.bootstrap,
                    seed=cfg.seed,
                    cache_dir=folder / "scores" / judge_name.replace(" ", "_") / set_name / m,
                )
                winrates[key][m] = res.to_dict()
    metrics = {
        m: {s: oracle_metrics(samples[m][s]).as_dict() for s in PROMPT_SETS} for m in samples
    }
    results = {
        "winrates": winrates,
        "metrics": metrics,
        "samples": {m: {s: str(p) for s, p in d.items()} for m, d in samples.items()},
        "prompts": {k: len(v) for k, v in prompts.items()},
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str))
    paths = write_report(
        cfg, out, folder, results, stages, running={"evaluate": time.perf_counter() - started}
    )
    return {"report": {k: str(v) for k, v in paths.items()}}


def evaluate_stage(cfg: DemoConfig, out: Path, upstream: list[str]) -> Stage:
    settings = {"evaluation": vars(cfg.evaluation), "nrg": cfg.nrg, "seed": cfg.seed,
                "arms": align_arms(cfg), "oracle": ORACLE_VERSION}  # fmt: skip
    return Stage(
        "evaluate",
        lambda folder: evaluate(cfg, out, folder, [*upstream, "evaluate"]),
        settings,
        upstream,
        float(cfg.estimates.get("evaluate", 120.0)),
    )
