"""Ablation helpers: weight settings, win rates with ties, oracle labels with a tie margin."""

import numpy as np
import pytest

from vidalign.guidance import LatentRewardError
from vidalign.synth.guidance_ablate import AblateConfig, label_pairs, parse_ratio, win_rates


def test_parse_ratio():
    assert parse_ratio("0.5:0.5:0") == {"VQ": 0.5, "MQ": 0.5, "TA": 0.0}
    with pytest.raises(LatentRewardError, match="3 numbers"):
        parse_ratio("1:1")
    with pytest.raises(LatentRewardError, match="not numbers"):
        parse_ratio("a:b:c")


def test_win_rates_count_ties_half():
    base = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    guided = np.array([[0.6, 0.5, 0.1], [0.6, 0.4, 0.1], [0.4, 0.5, 0.1], [0.6, 0.9, 0.9]])
    # VQ: 3 wins of 4; MQ: 1 win, 2 ties, 1 loss → 2/4; TA: 1 of 4
    assert win_rates(guided, base) == {"VQ": 0.75, "MQ": 0.5, "TA": 0.25}


def test_oracle_labels_use_the_tie_margin():
    cfg = AblateConfig(labeller="oracle", tie_margin=[0.1, 0.1, 0.1])
    a = np.array([[0.9, 0.5, 0.2]])
    b = np.array([[0.5, 0.45, 0.8]])
    assert label_pairs(a, b, cfg, seed=0).tolist() == [[1, 0, -1]]
    # near the floor raw differences vanish; log scores still rank them
    tiny_a, tiny_b = np.array([[1e-10, 1e-12, 0.0]]), np.array([[1e-12, 1e-10, 1e-20]])
    assert label_pairs(tiny_a, tiny_b, cfg, seed=0).tolist() == [[0, 0, 0]]
    cfg.score_transform = "log"
    assert label_pairs(tiny_a, tiny_b, cfg, seed=0).tolist() == [[1, -1, -1]]


def test_annotator_labels_follow_large_differences():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(200, 3))
    b = rng.uniform(size=(200, 3))
    labels = label_pairs(a, b, AblateConfig(), seed=0)
    big = np.abs(a - b) > 0.5
    assert set(np.unique(labels)) <= {-1, 0, 1} and (labels == 0).any()
    assert (labels[big] == np.sign(a - b)[big]).mean() > 0.9


@pytest.mark.slow
def test_ablation_runs_end_to_end_at_micro_scale(tmp_path):
    import json

    from vidalign.policy import SamplingDefaults, save_generator
    from vidalign.policy.tiny import build_pixel_generator
    from vidalign.synth.guidance_ablate import run_ablation
    from vidalign.synth.prompts import general_prompts

    defaults = SamplingDefaults(num_frames=8, height=32, width=32, fps=8, steps=2, cfg=2.0)
    gen = build_pixel_generator(
        general_prompts(16, 0), defaults, patch_size=(2, 8, 8), num_layers=2, num_heads=2,
        head_dim=16, ffn_dim=32, text_dim=16, text_layers=1, text_heads=2,
        max_sequence_length=24,
    )  # fmt: skip
    save_generator(gen, tmp_path / "gen")
    cfg = AblateConfig(
        out_dir=str(tmp_path / "abl"), generator=str(tmp_path / "gen"), pair_prompts=6,
        val_prompts=3, eval_prompts=3, rm_steps=2, num_blocks=1, scale=5.0, sweep=["0:0:1"],
        steps=2, batch_size=8,
    )  # fmt: skip
    results = run_ablation(cfg)
    assert [r.name for r in results][:3] == [
        "unguided", "MQ only, noised RM", "MQ only, clean RM",
    ]  # fmt: skip
    assert results[0].win_rate == {"VQ": 0.5, "MQ": 0.5, "TA": 0.5}  # against itself
    saved = json.loads((tmp_path / "abl" / "results.json").read_text())
    assert len(saved["results"]) == 4
    assert (tmp_path / "abl" / "rm-clean" / "model" / "latent_reward.json").is_file()
    assert "| MQ only, clean RM |" in (tmp_path / "abl" / "results.md").read_text()
