"""Reward ablation: the combined table from tiny variants on a tiny synthetic data set."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from vidalign.eval.reward_eval import evaluate_pairs
from vidalign.reward.ablate import (
    AblationError,
    AblationVariant,
    RewardAblateConfig,
    aggregate,
    run_ablation,
)
from vidalign.synth.scorers import OracleCeiling


class _Pair:
    def __init__(self, a: str, b: str, label: int) -> None:
        self.prompt, self.path_a, self.path_b, self.labels = "p", a, b, {"VQ": label}


def test_aggregate_mean_and_sample_std_over_seeds() -> None:
    pairs = [_Pair("a", "b", 1), _Pair("c", "d", -1)]
    right = {("a", "p"): {"VQ": 1.0}, ("b", "p"): {"VQ": 0.0}, ("c", "p"): {"VQ": 0.0},
             ("d", "p"): {"VQ": 1.0}}  # fmt: skip
    half = {**right, ("c", "p"): {"VQ": 2.0}}  # the second pair is now wrong
    runs = [evaluate_pairs(pairs, s, ["VQ"]) for s in (right, half)]
    agg = aggregate(runs)["VQ"]["without_ties"]
    assert agg["n"] == 2
    assert agg["mean"] == pytest.approx(0.75)
    assert agg["std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert aggregate(runs[:1])["VQ"]["without_ties"]["std"] is None


def test_config_errors_name_the_problem(tmp_path) -> None:
    cfg = RewardAblateConfig(
        train_data="t.csv", test_data="t.csv", recipe="configs/reward/tiny.yaml"
    )
    cfg.variants = [AblationVariant("A", ["loss=bt"]), AblationVariant("a", ["loss=btt"])]
    with pytest.raises(AblationError, match="distinct"):
        run_ablation(cfg)
    cfg.variants, cfg.seeds = [AblationVariant("A", [])], []
    with pytest.raises(AblationError, match="seeds"):
        run_ablation(cfg)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    from vidalign.synth.dataset import build_dataset

    out = tmp_path_factory.mktemp("world")
    build_dataset(out, num_prompts=10, pairs_per_prompt=2, size=32, num_frames=8,
                  eval_prompts=2, hard_prompts=2, progress=False)  # fmt: skip
    return out


@pytest.mark.slow
def test_tiny_ablation_writes_every_row(tiny_world, tmp_path) -> None:
    out = tmp_path / "abl"
    cfg = RewardAblateConfig(
        recipe="configs/reward/tiny.yaml",
        train_data=str(tiny_world / "train.csv"),
        val_data=None,
        test_data=str(tiny_world / "test.csv"),
        out_dir=str(out),
        common=["steps=2", "save_every=0", "eval_every=0"],
        variants=[
            AblationVariant("Regression", ["loss=regression", "token_mode=shared"]),
            AblationVariant("BTT + separate tokens", ["loss=btt", "token_mode=separate"]),
        ],
    )
    result = run_ablation(cfg, oracle=OracleCeiling())
    md = (out / "ablation.md").read_text()
    for row in ("Random", "Oracle (ceiling)", "Regression", "BTT + separate tokens"):
        assert f"| {row} |" in md
    doc = json.loads((out / "ablation.json").read_text())
    assert list(doc["rows"]) == [
        "Random",
        "Oracle (ceiling)",
        "Regression",
        "BTT + separate tokens",
    ]
    assert doc["columns"] == ["Overall", "VQ", "MQ", "TA"]
    for row in doc["rows"].values():
        for col in doc["columns"]:
            assert row[col]["with_ties"]["n"] == 1
            assert 0.0 <= row[col]["with_ties"]["mean"] <= 1.0
    assert (out / "tie_separation.png").stat().st_size > 0
    for run in result.runs:
        assert run.wall_s > 0
    for slug in ("regression", "btt_separate_tokens"):
        assert (out / "variants" / slug / "seed0" / "eval" / "tie_separation.png").is_file()
        assert (out / "variants" / slug / "seed0" / "train" / "model").is_dir()
    # the oracle ceiling agrees with the labels better than chance on this world
    assert doc["rows"]["Oracle (ceiling)"]["Overall"]["with_ties"]["mean"] > 0.5

    # a rerun reuses the finished runs: no retraining, same table
    weights = out / "variants" / "regression" / "seed0" / "train" / "model"
    stamp = {p: p.stat().st_mtime_ns for p in weights.iterdir()}
    again = run_ablation(cfg, oracle=OracleCeiling())
    assert {p: p.stat().st_mtime_ns for p in weights.iterdir()} == stamp
    assert again.runs[0].wall_s == result.runs[0].wall_s

    # ... but never a run trained with other settings
    cfg.common = ["steps=3", "save_every=0", "eval_every=0"]
    with pytest.raises(AblationError, match="other settings"):
        run_ablation(cfg)


def test_variant_config_takes_data_seed_and_overrides_not_the_recipe_data(tmp_path) -> None:
    from vidalign.reward.ablate import variant_train_config

    cfg = RewardAblateConfig(
        recipe="configs/reward/synth_small.yaml",  # names its own runs/ds data
        train_data="mine/train.csv",
        test_data="mine/test.csv",
        common=["steps=7"],
    )
    v = AblationVariant("BT", ["loss=bt", "token_mode=shared", "steps=9"])
    t = variant_train_config(cfg, v, 3, tmp_path / "run")
    assert (t.train_data, t.val_data, t.video_root) == ("mine/train.csv", None, None)
    assert (t.seed, t.loss, t.token_mode, t.steps) == (3, "bt", "shared", 9)
    assert t.out_dir == str(tmp_path / "run") and not t.resume
