"""A tiny saved reward model as the win-rate judge and as the hacking monitor's proxy."""

import pytest
import torch

from eval_sampleset_testdata import PROMPTS, write_sample_set
from vidalign.eval.hacking import HackingMonitor
from vidalign.eval.judges import load_judge
from vidalign.eval.sample_set import read_sample_set
from vidalign.eval.winrate import win_rates
from vidalign.eval.winrate_run import run_winrate
from vidalign.synth.scorers import OracleScorer


@pytest.fixture(scope="module")
def rm_and_sets(tmp_path_factory):
    from vidalign.reward.builder import build_tiny
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.scorer import RewardScorer
    from vidalign.reward.template import RewardTemplate
    from vidalign.reward.tiny import TinyQwen2VLSpec

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("rm_judge")
    clean = write_sample_set(root / "clean", prompts=PROMPTS[:2])
    noisy = write_sample_set(root / "noisy", prompts=PROMPTS[:2], severities={"noise": 0.8})
    dims = ("VQ", "MQ", "TA")
    model, rp = build_tiny(
        dims=dims,
        spec=TinyQwen2VLSpec(),
        contract=SamplingContract(fps=None, num_frames=4, max_pixels=56 * 56),
        template=RewardTemplate.builtin("default", dims),
    )
    scorer = RewardScorer(model, rp, batch_size=4)
    samples = read_sample_set(clean) + read_sample_set(noisy)
    scorer.fit_normalization([s.path for s in samples], [s.prompt for s in samples])
    folder = scorer.save_pretrained(root / "tiny-rm")
    return folder, clean, noisy


@pytest.mark.slow
def test_reward_model_judge_matches_direct_scoring(rm_and_sets, tmp_path):
    folder, clean, noisy = rm_and_sets
    judge = load_judge(str(folder), device="cpu")
    assert judge.normalize and judge.dims == ["VQ", "MQ", "TA"]
    r = run_winrate(noisy, clean, judge, n_bootstrap=100, cache_dir=tmp_path)
    base, cand = read_sample_set(noisy), read_sample_set(clean)
    b = judge.scorer.score([s.path for s in base], [s.prompt for s in base])
    c = judge.scorer.score([s.path for s in cand], [s.prompt for s in cand])
    direct = win_rates(b, c, judge.dims, prompts=[s.prompt for s in base], n_bootstrap=0)
    for k in ("VQ", "MQ", "TA", "Overall"):
        assert r.rates[k].win_rate == direct.rates[k].win_rate
    same = run_winrate(clean, clean, judge, n_bootstrap=0, cache_dir=tmp_path)
    assert all(v.win_rate == 0.5 for v in same.rates.values())


@pytest.mark.slow
def test_reward_model_proxy_in_the_hacking_monitor(rm_and_sets, tmp_path):
    from vidalign.reward.scorer import RewardScorer
    from vidalign.video import read_video

    folder, clean, _ = rm_and_sets
    proxy = RewardScorer.from_pretrained(folder, device="cpu")
    samples = read_sample_set(clean)
    clips = torch.stack([read_video(s.path).frames for s in samples])
    mon = HackingMonitor(
        tmp_path,
        [s.prompt for s in samples],
        [s.seed for s in samples],
        proxy,
        OracleScorer(),
        plot=False,
    )
    r = mon.evaluate(0, lambda p, s: clips)
    assert set(r.proxy) >= {"VQ", "MQ", "TA", "Overall"} and r.gold["VQ"] > 0.9
