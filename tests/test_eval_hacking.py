"""Reward-hacking monitor with fake scorers whose outputs the test controls."""

import json
import warnings

import numpy as np
import pytest
import torch

from vidalign.eval.hacking import (
    HackingMonitor,
    RewardHackingWarning,
    detect_hacking,
    plot_history,
    window_change,
)
from vidalign.eval.scorer import EvalError
from vidalign.synth.prompts import parse_prompt
from vidalign.synth.render import render_clean
from vidalign.synth.scorers import OracleScorer

PROMPTS = ["p0", "p1"]
SEEDS = [11, 12]


class Dial:
    """A scorer whose per-dimension value is set by the test (same for every clip)."""

    def __init__(self, dims=("VQ", "MQ", "TA")):
        self.dims = list(dims)
        self.value = dict.fromkeys(self.dims, 0.0)
        self.calls = 0

    def score(self, videos, prompts, *, normalize=True, weights=None):
        self.calls += 1
        assert all(v.dtype == torch.uint8 and v.ndim == 4 for v in videos)
        w = weights or dict.fromkeys(self.dims, 1.0)
        out = []
        for _ in videos:
            s = dict(self.value)
            s["Overall"] = sum(w[d] * s[d] for d in self.dims)
            out.append(s)
        return out


def sample_fn(prompts, seeds):
    assert prompts == PROMPTS and seeds == SEEDS
    return torch.zeros(len(prompts), 2, 3, 8, 8, dtype=torch.uint8)


def run(monitor, proxy, gold, proxy_ta, gold_ta, steps):
    records = []
    for step, p, g in zip(steps, proxy_ta, gold_ta):
        proxy.value["TA"], gold.value["TA"] = p, g
        records.append(monitor.maybe_evaluate(step, sample_fn))
    return records


def test_window_change_hand_worked():
    assert window_change([0, 10, 20], [0.0, 1.0, 2.0]) == pytest.approx(2.0)
    # least-squares slope of (0,0),(10,3),(20,0) is 0
    assert window_change([0, 10, 20], [0.0, 3.0, 0.0]) == pytest.approx(0.0)
    assert window_change([5], [1.0]) == 0.0


def test_rising_proxy_and_falling_gold_warns(tmp_path):
    proxy, gold = Dial(), Dial()
    logged = []
    mon = HackingMonitor(
        tmp_path, PROMPTS, SEEDS, proxy, gold, every=10, window=3,
        gold_tolerance=0.05, log_fn=lambda d, s: logged.append((s, d)), plot=False,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = run(mon, proxy, gold, [0.0, 1.0, 2.0, 3.0], [0.9, 0.8, 0.6, 0.4], [0, 10, 20, 30])
    assert not recs[0].hacking and recs[0].proxy_change == {}
    # second evaluation: gold fell 0.1 > tolerance, proxy rose -> flagged on TA and Overall
    assert recs[1].hacking and recs[1].hacking_keys == ["TA", "Overall"]
    assert recs[3].gold_change["TA"] == pytest.approx(-0.4)  # slope -0.015/step over 20 steps
    assert recs[3].proxy_change["TA"] == pytest.approx(2.0)
    hacking = [w for w in caught if issubclass(w.category, RewardHackingWarning)]
    assert len(hacking) == 3 and "TA (proxy +2" in str(hacking[-1].message)
    lines = [json.loads(x) for x in (tmp_path / "hacking.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [0, 10, 20, 30]
    assert lines[-1]["hacking"] and lines[-1]["proxy"]["TA"] == 3.0
    plot_history(mon.history, mon.keys, tmp_path / "hacking.png")
    assert (tmp_path / "hacking.png").stat().st_size > 1000
    assert logged[-1][0] == 30 and logged[-1][1]["hacking/flag"] == 1.0
    assert logged[-1][1]["hacking/gold/TA"] == pytest.approx(0.4)


def test_both_rising_or_noise_within_tolerance_does_not_warn(tmp_path):
    proxy, gold = Dial(), Dial()
    mon = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, every=1, window=3, plot=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RewardHackingWarning)
        recs = run(mon, proxy, gold, [0, 1, 2, 3], [0.5, 0.6, 0.7, 0.8], range(4))
        # gold wobbles by less than the default tolerance 0.02 over the window
        recs += run(mon, proxy, gold, [4, 5, 6], [0.81, 0.80, 0.805], range(4, 7))
    assert not any(r.hacking for r in recs)


def test_only_every_nth_step_samples(tmp_path):
    proxy, gold = Dial(), Dial()
    mon = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, every=5, plot=False)
    assert [mon.maybe_evaluate(s, sample_fn) is not None for s in range(7)] == [
        True, False, False, False, False, True, False,
    ]  # fmt: skip
    assert proxy.calls == gold.calls == 2


def test_resume_continues_history_and_replaces_later_records(tmp_path):
    proxy, gold = Dial(), Dial()
    mon = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, every=10, plot=False)
    run(mon, proxy, gold, [0.0, 1.0, 2.0], [0.5, 0.5, 0.5], [0, 10, 20])
    # killed after step 20, resumed from the checkpoint of step 10
    mon2 = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, every=10, plot=False)
    assert [r.step for r in mon2.history] == [0, 10, 20]
    with pytest.warns(RewardHackingWarning):
        run(mon2, proxy, gold, [5.0], [0.1], [20])
    lines = [json.loads(x) for x in (tmp_path / "hacking.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [0, 10, 20] and lines[-1]["proxy"]["TA"] == 5.0


def test_monitor_writes_its_plot(tmp_path):
    proxy, gold = Dial(), Dial()
    mon = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, every=1)
    with pytest.warns(RewardHackingWarning):
        run(mon, proxy, gold, [0.0, 1.0], [0.5, 0.4], [0, 1])
    assert (tmp_path / "hacking.png").stat().st_size > 1000


def test_dims_only_one_judge_scores_are_not_compared(tmp_path):
    proxy, gold = Dial(("VQ", "TA", "Aesthetic")), Dial(("VQ", "MQ", "TA"))
    mon = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, plot=False)
    assert mon.keys == ["VQ", "TA", "Overall"]
    r = mon.evaluate(0, sample_fn)
    assert set(r.proxy) == {"VQ", "TA", "Aesthetic", "Overall"} and "MQ" in r.gold


def test_bad_sampler_output_and_non_finite_scores_are_errors(tmp_path):
    proxy, gold = Dial(), Dial()
    mon = HackingMonitor(tmp_path, PROMPTS, SEEDS, proxy, gold, plot=False)
    with pytest.raises(EvalError, match=r"uint8 clips \(B, F, C, H, W\), got torch.float32"):
        mon.evaluate(0, lambda p, s: torch.zeros(2, 2, 3, 8, 8))
    with pytest.raises(EvalError, match="returned 1 clips for 2 prompts"):
        mon.evaluate(0, lambda p, s: torch.zeros(1, 2, 3, 8, 8, dtype=torch.uint8))
    gold.value["MQ"] = float("nan")
    with pytest.raises(EvalError, match="gold scorer gave non-finite 'MQ'"):
        mon.evaluate(0, sample_fn)
    with pytest.raises(EvalError, match="2 prompts but 1 seeds"):
        HackingMonitor(tmp_path, PROMPTS, [1], proxy, gold)


def test_detect_hacking_rule_directly():
    from vidalign.eval.hacking import HackingRecord

    hist = [
        HackingRecord(step=s, proxy={"TA": p}, gold={"TA": g})
        for s, p, g in [(0, 0.0, 1.0), (1, 0.0, 1.0), (2, 1.0, 0.0)]
    ]
    _, _, flagged = detect_hacking(hist, ["TA"], window=2, proxy_tolerance=0, gold_tolerance=0)
    assert flagged == ["TA"]
    # a proxy rise below its tolerance is not enough
    _, _, flagged = detect_hacking(hist, ["TA"], window=2, proxy_tolerance=2, gold_tolerance=0)
    assert flagged == []


def test_the_oracle_as_gold_on_tensors(tmp_path):
    prompts = ["a large red circle moves right on a black background"] * 2
    clean = torch.stack(
        [render_clean(parse_prompt(p), size=48, num_frames=8, seed=1) for p in prompts]
    )
    proxy = Dial()
    mon = HackingMonitor(tmp_path, prompts, [1, 2], proxy, OracleScorer(), every=1, plot=False)
    r = mon.evaluate(0, lambda p, s: clean)
    assert r.gold["VQ"] > 0.9 and r.gold["TA"] > 0.8
    assert r.gold["Overall"] == pytest.approx(sum(r.gold[d] for d in ("VQ", "MQ", "TA")))
    assert np.isfinite(list(r.gold.values())).all()
