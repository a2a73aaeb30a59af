"""Cached pipeline stages with a progress display and time estimates.

A stage is a name, a function that writes into its own folder, the settings it depends
on, and an estimate of its duration. A finished stage leaves ``<out>/<name>/STAGE.json``
holding a fingerprint of its settings and of every upstream stage's fingerprint; a later
run whose fingerprint matches reuses the folder instead of running the stage again.
Each run also keeps ``<out>/stages_run.json``, saying which stages it reused and which
it ran, so the report can tell a stage's original time from this run's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

MARKER = "STAGE.json"
RUN_LOG = "stages_run.json"
"""``{"stages": {name: "reused" | "running" | "ran"}}``, rewritten as the run goes."""


@dataclass
class Stage:
    """One step of the pipeline.

    Attributes:
        name: folder name under the output directory, and the label shown.
        run: ``run(folder) -> summary dict``; writes only inside ``folder``.
        settings: JSON-able inputs that decide the result (part of the fingerprint).
        needs: names of upstream stages (their fingerprints join this one's).
        estimate_s: expected duration, for the progress display.
    """

    name: str
    run: Callable[[Path], dict[str, Any]]
    settings: dict[str, Any]
    needs: list[str] = field(default_factory=list)
    estimate_s: float = 60.0


def _fingerprint(settings: dict[str, Any], upstream: list[str]) -> str:
    blob = json.dumps({"settings": settings, "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def fmt_duration(seconds: float) -> str:
    """``"7m05s"``, or ``"42s"`` under a minute."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def run_stages(
    stages: list[Stage], out_dir: Path, *, console: Console | None = None
) -> dict[str, dict[str, Any]]:
    """Run ``stages`` in order, reusing finished ones; returns each stage's summary.

    A stage that raises leaves no marker, so the next run starts it again.
    """
    console = console or Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    prints: dict[str, str] = {}
    summaries: dict[str, dict[str, Any]] = {}
    remaining = sum(s.estimate_s for s in stages)
    started = time.perf_counter()
    log: dict[str, str] = {}

    def record(name: str, status: str) -> None:
        log[name] = status
        (out_dir / RUN_LOG).write_text(json.dumps({"stages": log}, indent=2))

    for i, stage in enumerate(stages, 1):
        missing = [n for n in stage.needs if n not in prints]
        if missing:
            raise ValueError(f"stage {stage.name} needs {missing}, which run later or not at all")
        fp = _fingerprint(stage.settings, [prints[n] for n in stage.needs])
        folder = out_dir / stage.name
        marker = folder / MARKER
        head = f"[{i}/{len(stages)}] {stage.name}"
        if marker.is_file():
            saved = json.loads(marker.read_text())
            if saved.get("fingerprint") == fp:
                prints[stage.name] = fp
                summaries[stage.name] = saved.get("summary", {})
                remaining -= stage.estimate_s
                record(stage.name, "reused")
                console.print(f"{head}: [green]cached[/green] ({folder})")
                continue
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        console.rule(
            f"{head} · about {fmt_duration(stage.estimate_s)} · about {fmt_duration(remaining)} left in all"
        )
        record(stage.name, "running")
        t0 = time.perf_counter()
        summary = stage.run(folder) or {}
        took = time.perf_counter() - t0
        remaining -= stage.estimate_s
        marker.write_text(
            json.dumps(
                {"fingerprint": fp, "seconds": round(took, 1), "summary": summary},
                indent=2,
                default=str,
            )
        )
        prints[stage.name] = fp
        summaries[stage.name] = summary
        record(stage.name, "ran")
        console.print(f"{head}: done in {fmt_duration(took)}")
    console.print(f"all stages done in {fmt_duration(time.perf_counter() - started)}")
    return summaries


def stage_summary(out: Path, name: str) -> dict[str, Any]:
    """The summary a finished stage recorded in its marker (paths of what it made)."""
    marker = out / name / MARKER
    if not marker.is_file():
        raise FileNotFoundError(f"{marker}: stage {name} has not finished")
    return json.loads(marker.read_text())["summary"]
