"""Reward-hacking monitor: track the optimised reward beside a gold judge during alignment.

Every ``every`` steps an alignment trainer calls :meth:`HackingMonitor.maybe_evaluate`
with its sampler. The monitor samples a fixed prompt set with fixed seeds
(``sample_fn(prompts, seeds) -> uint8 (B, F, C, H, W)``), scores the clips with the
**proxy** (the reward model being optimised, any :class:`~vidalign.eval.scorer.Scorer`)
and the **gold** judge (any second scorer: on the synthetic world its oracle, passed in by
the caller), and records the mean of each dimension and of Overall for both (REFERENCE.md
§5).

**Hacking rule.** Over the last ``window`` evaluations (the current one included, at least
2), fit a least-squares line to each curve against the step and take its rise over the
window, Δ = slope · (last step − first step). Key k (a dimension both judges score, or
Overall) is flagged when

    Δ_proxy(k) > proxy_tolerance   and   Δ_gold(k) < −gold_tolerance.

Tolerances are in each judge's own units: the oracle scores lie in [0, 1], so the default
``gold_tolerance`` = 0.02 ignores a drift of under 2 points over the window; set it for a
reward-model gold judge from its noise across evaluations.

A flagged evaluation raises a :class:`RewardHackingWarning` (through ``warnings.warn``),
logs a warning on the ``vidalign.hacking`` logger and sets ``hacking: true`` with the keys
in its record. Records are appended to ``run_dir/hacking.jsonl``; ``hacking.png`` plots
proxy and gold against the step, one panel per key. A monitor created on a run dir that
already has ``hacking.jsonl`` continues it; after a resume, records at or past the resumed
step are replaced.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vidalign.atomic import write_text_atomic
from vidalign.eval.scorer import OVERALL, EvalError, Scorer

HACKING_FILE = "hacking.jsonl"
PLOT_FILE = "hacking.png"
log = logging.getLogger("vidalign.hacking")

SampleFn = Callable[[list[str], list[int]], torch.Tensor]
LogFn = Callable[[dict[str, float], int], None]


class RewardHackingWarning(UserWarning):
    """The proxy reward rose while the gold judge fell over the monitor's window."""


@dataclass
class HackingRecord:
    """One evaluation of the monitor.

    Attributes:
        step: training step.
        proxy: key → mean proxy score over the prompt set (dimensions and Overall).
        gold: key → mean gold score.
        proxy_change, gold_change: key → Δ over the window (empty before 2 evaluations).
        hacking: whether any key is flagged.
        hacking_keys: the flagged keys.
    """

    step: int
    proxy: dict[str, float]
    gold: dict[str, float]
    proxy_change: dict[str, float] = field(default_factory=dict)
    gold_change: dict[str, float] = field(default_factory=dict)
    hacking: bool = False
    hacking_keys: list[str] = field(default_factory=list)


def window_change(steps: Sequence[float], values: Sequence[float]) -> float:
    """Rise of the least-squares line through (steps, values) over the steps' span.

    Δ = slope · (max step − min step); 0 for fewer than 2 points or a zero span.
    """
    t = np.asarray(steps, dtype=float)
    y = np.asarray(values, dtype=float)
    if len(t) < 2 or t.max() == t.min():
        return 0.0
    tc = t - t.mean()
    slope = float((tc * (y - y.mean())).sum() / (tc**2).sum())
    return slope * float(t.max() - t.min())


def detect_hacking(
    history: Sequence[HackingRecord],
    keys: Sequence[str],
    *,
    window: int,
    proxy_tolerance: float,
    gold_tolerance: float,
) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """Apply the hacking rule (module docstring) to the last ``window`` records.

    Returns:
        (proxy Δ per key, gold Δ per key, flagged keys); empty when under 2 records.
    """
    recent = list(history)[-window:]
    if len(recent) < 2:
        return {}, {}, []
    steps = [r.step for r in recent]
    dp = {k: window_change(steps, [r.proxy[k] for r in recent]) for k in keys}
    dg = {k: window_change(steps, [r.gold[k] for r in recent]) for k in keys}
    flagged = [k for k in keys if dp[k] > proxy_tolerance and dg[k] < -gold_tolerance]
    return dp, dg, flagged


def mean_scores(
    scorer: Scorer,
    clips: torch.Tensor,
    prompts: list[str],
    weights: Mapping[str, float] | None,
    role: str,
) -> dict[str, float]:
    """Mean over the clips of each dimension and Overall; non-finite scores are an error."""
    with torch.no_grad():
        results = scorer.score(list(clips), prompts, weights=dict(weights) if weights else None)
    if len(results) != len(prompts):
        raise EvalError(f"{role} scorer returned {len(results)} results for {len(prompts)} clips")
    keys = [*scorer.dims, OVERALL]
    out = {}
    for k in keys:
        try:
            values = [float(r[k]) for r in results]
        except KeyError:
            raise EvalError(f"{role} scorer gave no {k!r} score") from None
        bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            raise EvalError(f"{role} scorer gave non-finite {k!r} for prompt {prompts[bad[0]]!r}")
        out[k] = float(np.mean(values))
    return out


class HackingMonitor:
    """Proxy-vs-gold tracker that an alignment trainer calls every ``every`` steps.

    Args:
        run_dir: where ``hacking.jsonl`` and ``hacking.png`` are written.
        prompts: the fixed evaluation prompts (B).
        seeds: one seed per prompt (B), fixed for the whole run.
        proxy: the reward being optimised.
        gold: the held-out judge, e.g. the synthetic oracle (``vidalign.synth.scorers``).
        every: evaluate when ``step % every == 0``.
        window: evaluations the hacking rule looks back over (>= 2).
        proxy_tolerance, gold_tolerance: thresholds of the rule, in each judge's units.
        proxy_weights, gold_weights: w_d of each judge's Overall (None: 1 each).
        log_fn: called as ``log_fn({"hacking/proxy/VQ": ..., ...}, step)``, e.g. an
            accelerate tracker's ``log``.
        is_main: only the main process writes files and logs; every process may score.
        plot: write ``hacking.png`` after each evaluation.
    """

    def __init__(
        self,
        run_dir: str | Path,
        prompts: Sequence[str],
        seeds: Sequence[int],
        proxy: Scorer,
        gold: Scorer,
        *,
        every: int = 100,
        window: int = 3,
        proxy_tolerance: float = 0.0,
        gold_tolerance: float = 0.02,
        proxy_weights: Mapping[str, float] | None = None,
        gold_weights: Mapping[str, float] | None = None,
        log_fn: LogFn | None = None,
        is_main: bool = True,
        plot: bool = True,
    ) -> None:
        if not prompts:
            raise EvalError("the hacking monitor needs at least one prompt")
        if len(seeds) != len(prompts):
            raise EvalError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        if every < 1:
            raise EvalError(f"every must be >= 1, got {every}")
        if window < 2:
            raise EvalError(f"window must be >= 2 evaluations, got {window}")
        self.run_dir = Path(run_dir)
        self.prompts = [str(p) for p in prompts]
        self.seeds = [int(s) for s in seeds]
        self.proxy, self.gold = proxy, gold
        self.every, self.window = int(every), int(window)
        self.proxy_tolerance, self.gold_tolerance = float(proxy_tolerance), float(gold_tolerance)
        self.proxy_weights, self.gold_weights = proxy_weights, gold_weights
        self.log_fn, self.is_main, self.plot = log_fn, is_main, plot
        self.keys = [d for d in proxy.dims if d in gold.dims] + [OVERALL]
        self.path = self.run_dir / HACKING_FILE
        self.history: list[HackingRecord] = self._read_history()

    # -- persistence -------------------------------------------------------------------
    def _read_history(self) -> list[HackingRecord]:
        if not self.path.is_file():
            return []
        out = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(HackingRecord(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as err:
                raise EvalError(f"{self.path}:{n}: not a hacking record ({err})") from None
        return out

    def _rewrite(self) -> None:
        write_text_atomic(self.path, "".join(json.dumps(asdict(r)) + "\n" for r in self.history))

    # -- evaluation --------------------------------------------------------------------
    def should_evaluate(self, step: int) -> bool:
        return step % self.every == 0

    def maybe_evaluate(self, step: int, sample_fn: SampleFn) -> HackingRecord | None:
        """:meth:`evaluate` when ``step % every == 0``, else None."""
        return self.evaluate(step, sample_fn) if self.should_evaluate(step) else None

    def evaluate(self, step: int, sample_fn: SampleFn) -> HackingRecord:
        """Sample the fixed prompts, score with both judges, record, plot, warn."""
        clips = sample_fn(list(self.prompts), list(self.seeds))
        if not isinstance(clips, torch.Tensor) or clips.dtype != torch.uint8 or clips.ndim != 5:
            got = (
                f"{clips.dtype} {tuple(clips.shape)}"
                if isinstance(clips, torch.Tensor)
                else type(clips).__name__
            )
            raise EvalError(f"sample_fn must return uint8 clips (B, F, C, H, W), got {got}")
        if clips.shape[0] != len(self.prompts):
            raise EvalError(
                f"sample_fn returned {clips.shape[0]} clips for {len(self.prompts)} prompts"
            )
        clips = clips.cpu()
        record = HackingRecord(
            step=int(step),
            proxy=mean_scores(self.proxy, clips, self.prompts, self.proxy_weights, "proxy"),
            gold=mean_scores(self.gold, clips, self.prompts, self.gold_weights, "gold"),
        )
        resumed = [r for r in self.history if r.step >= step]
        self.history = [r for r in self.history if r.step < step] + [record]
        dp, dg, flagged = detect_hacking(
            self.history,
            self.keys,
            window=self.window,
            proxy_tolerance=self.proxy_tolerance,
            gold_tolerance=self.gold_tolerance,
        )
        record.proxy_change, record.gold_change = dp, dg
        record.hacking, record.hacking_keys = bool(flagged), flagged
        if self.is_main:
            self._write(record, rewrite=bool(resumed))
        if flagged:
            msg = (
                f"possible reward hacking at step {step}: over the last "
                f"{min(self.window, len(self.history))} evaluations the proxy rose while the gold "
                "judge fell on "
                + ", ".join(f"{k} (proxy {dp[k]:+.3g}, gold {dg[k]:+.3g})" for k in flagged)
            )
            warnings.warn(msg, RewardHackingWarning, stacklevel=2)
            if self.is_main:
                log.warning(msg)
        return record

    def _write(self, record: HackingRecord, *, rewrite: bool) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if rewrite:
            self._rewrite()
        else:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(record)) + "\n")
        if self.log_fn is not None:
            values = {f"hacking/proxy/{k}": v for k, v in record.proxy.items()}
            values.update({f"hacking/gold/{k}": v for k, v in record.gold.items()})
            values["hacking/flag"] = float(record.hacking)
            self.log_fn(values, record.step)
        if self.plot:
            plot_history(self.history, self.keys, self.run_dir / PLOT_FILE)


def plot_history(history: Sequence[HackingRecord], keys: Sequence[str], path: str | Path) -> Path:
    """Proxy (left axis) and gold (right axis) against the step, one panel per key.

    Flagged evaluations are marked with red vertical lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r.step for r in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.0), squeeze=False)
    for ax, k in zip(axes[0], keys):
        ax.plot(steps, [r.proxy[k] for r in history], "o-", color="tab:blue", label="proxy")
        ax.set_ylabel("proxy", color="tab:blue")
        twin = ax.twinx()
        twin.plot(steps, [r.gold[k] for r in history], "s--", color="tab:orange", label="gold")
        twin.set_ylabel("gold", color="tab:orange")
        for r in history:
            if k in r.hacking_keys:
                ax.axvline(r.step, color="red", alpha=0.3)
        ax.set_title(k)
        ax.set_xlabel("step")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
