"""Scoring a released VideoReward checkpoint: vidalign against the release's inference.

    OMP_NUM_THREADS=1 python benchmarks/score_released.py [--repeat 8] [--batch-size 4]

Both score the same clips (the parity fixture's, ``--repeat`` times over) with the same
torch intra-op threads (``--threads``), after one warm-up pass each. The release runs in
its side virtualenv (``$VIDEOALIGN_SIDE_VENV``, default ``/work/sidevenv-videoalign``,
with the release's code at ``$VIDEOALIGN_RELEASE``) through a subprocess: its own
inference class, batch by batch, as its inference script calls it. Without that venv
only vidalign's numbers are printed. vidalign runs twice, with and without the prefetch
thread, and prints how long the model waited for data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "released"
SIDE_VENV = Path(os.environ.get("VIDEOALIGN_SIDE_VENV", "/work/sidevenv-videoalign"))


def clips(repeat: int) -> tuple[list[str], list[str]]:
    expected = json.loads((FIXTURE / "expected_scores.json").read_text())
    videos = [str(FIXTURE / c["video"]) for c in expected["clips"]] * repeat
    prompts = [c["prompt"] for c in expected["clips"]] * repeat
    return videos, prompts


def release_side(args: argparse.Namespace) -> None:
    """In the side venv: time the release's inference on the clips; print JSON."""
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(FIXTURE))
    import make_fixture as mf  # its environment check and the two outside settings

    mf._check_environment()
    sys.path.insert(0, str(mf.RELEASE))
    import prompt_template

    prompt_template.DETAILED_PROMPT_WITH_SPECIAL_TOKEN = mf.release_template_text()
    import inference

    inference.TrainingConfig = mf.cpu_training_config
    os.chdir(FIXTURE)
    scorer = inference.VideoVLMRewardInference(
        str(FIXTURE / "videoreward"), device="cpu", dtype=torch.float32
    )
    videos, prompts = clips(args.repeat)
    b = args.batch_size
    with torch.no_grad():
        scorer.reward(videos[:b], prompts[:b])  # warm-up
        t0 = time.perf_counter()
        rows = []
        for i in range(0, len(videos), b):
            rows += scorer.reward(videos[i : i + b], prompts[i : i + b], use_norm=True)
        wall = time.perf_counter() - t0
    print(json.dumps({"wall_s": wall, "rows": rows}))


def run_release(args: argparse.Namespace) -> dict | None:
    py = SIDE_VENV / "bin" / "python"
    if not py.is_file():
        print(f"release: skipped (no side virtualenv at {SIDE_VENV})")
        return None
    cmd = [str(py), __file__, "--release-side", "--repeat", str(args.repeat)]
    cmd += ["--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
    env["TRANSFORMERS_OFFLINE"] = "1"
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        print(f"release: failed (exit {out.returncode})\n{out.stderr[-2000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_vidalign(args: argparse.Namespace, prefetch: int) -> tuple[float, list[dict], object]:
    import torch

    from vidalign.reward import load_released

    torch.set_num_threads(args.threads)
    scorer = load_released(
        FIXTURE / "videoreward", base_model=FIXTURE / "base", template=FIXTURE / "template.txt"
    )
    scorer.batch_size, scorer.prefetch = args.batch_size, prefetch
    videos, prompts = clips(args.repeat)
    with torch.no_grad():
        scorer.score(videos[: args.batch_size], prompts[: args.batch_size])  # warm-up
        t0 = time.perf_counter()
        rows = scorer.score(videos, prompts)
        wall = time.perf_counter() - t0
    return wall, rows, scorer.last_timing


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=8, help="times over the fixture's clips")
    p.add_argument("--batch-size", type=int, default=4, help="clips per forward, both sides")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads, both sides")
    p.add_argument("--release-side", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.release_side:
        release_side(args)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO / "src"))
    import torch

    n = len(clips(args.repeat)[0])
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"torch {torch.__version__}; {n} clips, batch {args.batch_size}, "
        f"{args.threads} torch thread(s) on each side"
    )
    release = run_release(args)
    for prefetch in (0, 1, 2):
        wall, rows, timing = run_vidalign(args, prefetch)
        line = (
            f"vidalign prefetch={prefetch}: {n / wall:6.2f} clips/s ({wall:.2f} s); "
            f"decode+process {timing.prepare_s:.2f} s, forwards {timing.forward_s:.2f} s, "
            f"model waited for data {timing.wait_s:.2f} s"
        )
        if release is not None:
            gap = max(abs(r[k] - q[k]) for r, q in zip(rows, release["rows"]) for k in q)
            line += f"; {release['wall_s'] / wall:.2f}x the release, max score gap {gap:.1e}"
        print(line)
    if release is not None:
        print(
            f"release inference:     {n / release['wall_s']:6.2f} clips/s ({release['wall_s']:.2f} s)"
        )


if __name__ == "__main__":
    main()
