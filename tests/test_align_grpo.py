"""Flow-GRPO: the SDE sampler, the pure losses and the online trainer on a tiny generator."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from align_testdata import save_tiny_generator
from vidalign.align.grpo import GRPOError, train_grpo, train_steps
from vidalign.align.grpo_config import GRPOConfig
from vidalign.align.grpo_losses import (
    clipped_policy_loss,
    group_advantages,
    group_normalise,
    step_kl,
)
from vidalign.align.grpo_rewards import CombinedRewards, RewardError, build_rewards
from vidalign.cli.main import main
from vidalign.config import load_config
from vidalign.flow import euler_sample, time_grid
from vidalign.flow.sde import gaussian_log_prob, sde_sample, sde_sigma, sde_step_mean, sde_step_std
from vidalign.policy.lora import LORA_WEIGHT_NAME
from vidalign.synth.prompts import general_prompts
from vidalign.synth.scorers import OracleReward, gold_sources

RECIPES = Path(__file__).resolve().parents[1] / "configs" / "align"


def toy_velocity(x, t, cond):
    return 0.3 * x + t.view(-1, *([1] * (x.ndim - 1))) * cond


def test_sde_with_noise_level_zero_is_the_euler_sampler():
    g = torch.Generator().manual_seed(0)
    x, cond = torch.randn(3, 2, 4, generator=g), torch.randn(3, 2, 4, generator=g)
    grid = time_grid(6, shift=3.0)
    want = euler_sample(toy_velocity, x, cond, grid)
    got, steps = sde_sample(toy_velocity, x, cond, grid, 0.0, lambda i: torch.randn(3, 2, 4))
    assert torch.equal(got, want) and steps == []
    # fast sampling: outside the window the steps are ODE steps; no noise is drawn there
    drawn = []
    _, steps = sde_sample(toy_velocity, x, cond, grid, 0.7,
                          lambda i: drawn.append(i) or torch.zeros(3, 2, 4), window=(2, 3))  # fmt: skip
    assert drawn == [2, 3, 4] and [s.index for s in steps] == [2, 3, 4]
    head = euler_sample(toy_velocity, x, cond, grid[:3])
    assert torch.equal(steps[0].x, head)


def test_sde_marginals_match_the_ode_for_gaussian_data():
    # x0 ~ N(mu, s^2): x_t ~ N((1-t) mu, (1-t)^2 s^2 + t^2) and E[noise - x0 | x_t] is exact.
    mu, s, n = 1.5, 0.5, 6000

    def velocity(x, t, cond):
        t = t.view(-1, 1)
        m, var = (1 - t) * mu, (1 - t) ** 2 * s**2 + t**2
        return t * (x - m) / var - mu - (1 - t) * s**2 * (x - m) / var

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, generator=g)
    _, steps = sde_sample(velocity, x, None, time_grid(100), 0.7,
                          lambda i: torch.randn(n, 1, generator=g))  # fmt: skip
    assert len(steps) == 100
    for st in steps[10::10]:
        t = float(st.t_next)
        want_mean, want_std = (1 - t) * mu, math.sqrt((1 - t) ** 2 * s**2 + t**2)
        assert float(st.x_next.mean()) == pytest.approx(want_mean, abs=0.04), t
        assert float(st.x_next.std()) == pytest.approx(want_std, abs=0.04), t
    assert float(steps[-1].x_next.std()) == pytest.approx(s, abs=0.02)
    # and the noise was real: the SDE's end points are not the ODE's
    ode = euler_sample(velocity, x, None, time_grid(100))
    assert (ode - steps[-1].x_next).abs().mean() > 0.1


def test_a_step_log_probability_is_the_hand_worked_gaussian():
    # x = 1, v = 0.5, t = 0.5 -> 0.25, a = 0.7: sigma = 0.7, eps_hat = 1.25,
    # drift = 0.5 + 0.49 / 1 * 1.25 = 1.1125, mean = 1 - 0.25 * 1.1125, std = 0.7 * 0.5
    t, t_next = torch.tensor(0.5), torch.tensor(0.25)
    sigma = sde_sigma(t, 0.7)
    assert float(sigma) == pytest.approx(0.7)
    mean = sde_step_mean(torch.ones(1, 2), torch.full((1, 2), 0.5), t, t_next, sigma)
    std = sde_step_std(t, t_next, sigma)
    assert torch.allclose(mean, torch.full((1, 2), 0.721875)) and float(std) == pytest.approx(0.35)
    x_next = torch.tensor([[0.721875 + 0.35, 0.721875]])  # z = 1 and z = 0
    c = -math.log(0.35) - 0.5 * math.log(2 * math.pi)
    lp = gaussian_log_prob(x_next.to(torch.bfloat16), mean, std)
    assert lp.dtype == torch.float32
    assert float(gaussian_log_prob(x_next, mean, std)) == pytest.approx(
        ((c - 0.5) + c) / 2, abs=1e-6
    )


def test_the_advantages_and_the_clip_match_hand_worked_values():
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    r = torch.tensor([1.0, 2.0, 3.0, 5.0, 5.0, 9.0])
    a = group_normalise(r, groups, eps=0.0)
    s1 = math.sqrt(2 / 3)
    s2 = math.sqrt((2 * (4 / 3) ** 2 + (8 / 3) ** 2) / 3)
    want = [-1 / s1, 0, 1 / s1, -(4 / 3) / s2, -(4 / 3) / s2, (8 / 3) / s2]
    assert a.tolist() == pytest.approx(want, abs=1e-5)
    glob = group_normalise(r, groups, std="global", eps=0.0)
    sg = math.sqrt(sum((x - 25 / 6) ** 2 for x in r.tolist()) / 6)  # std over all six rewards
    assert glob.tolist() == pytest.approx(
        [-1 / sg, 0, 1 / sg, -(4 / 3) / sg, -(4 / 3) / sg, (8 / 3) / sg]
    )
    # two dimensions: normalise each, then weight (2, 1); or weight first, then normalise
    two = torch.stack([r, torch.tensor([0.0, 0.0, 3.0, 1.0, 2.0, 3.0])], dim=1)
    by_adv = group_advantages(two, groups, [2.0, 1.0], combine="advantages", eps=0.0)
    b = group_normalise(two[:, 1], groups, eps=0.0)
    assert by_adv.tolist() == pytest.approx((2 * a + b).tolist(), abs=1e-5)
    by_rew = group_advantages(two, groups, [2.0, 1.0], combine="rewards", eps=0.0)
    assert by_rew.tolist() == pytest.approx(
        group_normalise(2 * r + two[:, 1], groups, eps=0.0).tolist()
    )
    assert group_advantages(two, groups, [2.0, 1.0], clip=1.0, eps=0.0).abs().max() == 1.0
    # PPO clip, eps 0.2: ratios e^0.3 = 1.35 and e^-0.3 = 0.741 with advantages +1 and -1
    lp_old = torch.zeros(4)
    lp = torch.tensor([0.3, 0.3, -0.3, -0.3])
    loss, stats = clipped_policy_loss(lp, lp_old, torch.tensor([1.0, -1.0, 1.0, -1.0]), 0.2)
    e = math.exp(0.3)
    assert stats.ratio.tolist() == pytest.approx([e, e, 1 / e, 1 / e])
    assert stats.clipped.tolist() == [1.0, 1.0, 1.0, 1.0]  # |ρ − 1| ≈ 0.35, 0.26 > 0.2
    assert loss.tolist() == pytest.approx([-1.2, e, -1 / e, 0.8])
    # step KL: |0.2|^2 / (2 * 0.5^2) = 0.08 per element
    assert step_kl(
        torch.full((2, 3), 0.2), torch.zeros(2, 3), torch.tensor(0.5)
    ).tolist() == pytest.approx([0.08, 0.08])


def test_the_trained_timesteps_are_a_seeded_fraction_of_the_sde_steps():
    picked = train_steps(0, 5, 10, 0.6)
    assert len(picked) == 6 == len(set(picked)) and picked == sorted(picked)
    assert all(0 <= k < 10 for k in picked) and picked == train_steps(0, 5, 10, 0.6)
    assert train_steps(0, 6, 10, 0.6) != picked and train_steps(0, 0, 4, 0.01) != []


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    prompts = root / "prompts.txt"
    prompts.write_text("\n".join(general_prompts(4, 0)) + "\n")
    return save_tiny_generator(root / "gen"), prompts


def cfg_for(data, out, *overrides):
    gen, prompts = data
    base = [f"policy={gen}", f"prompts={prompts}", f"out_dir={out}", "steps=3",
            "prompts_per_step=2", "group_size=2", "sample_steps=3", "reward.sources=[brightness]",
            "lora.rank=4", "optim.lr=1e-2", "save_every=0", "threads=1",
            "progress=false"]  # fmt: skip
    return load_config(GRPOConfig, None, base + list(overrides))


def lora_tensors(run):
    return load_file(str(Path(run) / "lora" / LORA_WEIGHT_NAME))


@pytest.fixture
def fresh_accelerate_state():
    # accelerate keeps one process-wide state; a bf16 run needs it unset before and after
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.mark.usefixtures("fresh_accelerate_state")
@pytest.mark.parametrize("precision", ["no", "bf16"])
@pytest.mark.parametrize("micro_batch", [1, 0])  # batches of 1 and of all 4 rollouts
def test_the_ratio_is_exactly_one_at_the_first_update(data, tmp_path, precision, micro_batch):
    cfg = cfg_for(data, tmp_path, "steps=2", f"micro_batch={micro_batch}",
                  f"mixed_precision={precision}", "inner_epochs=2", "beta=0.1")  # fmt: skip
    res = train_grpo(cfg)
    assert [r["ratio_first_dev"] for r in res.history] == [0.0, 0.0]
    # metrics are the last inner epoch's: after one update the policy left the rollouts' one
    assert res.history[0]["ratio"] != 1.0 and res.history[0]["kl"] > 0.0


def test_training_on_the_guided_velocity_keeps_the_ratio_at_one(data, tmp_path):
    res = train_grpo(cfg_for(data, tmp_path, "steps=1", "cfg=2.5", "beta=0.1"))
    assert res.history[0]["ratio_first_dev"] == 0.0 and math.isfinite(res.history[0]["loss"])


@pytest.mark.parametrize("sign", [1, -1])
def test_a_toy_reward_rises_and_the_lora_changes(data, tmp_path, sign):
    # brightness with weight +1 or -1: the weighted reward rises both ways, so the policy
    # moves where the reward points, not by drift
    cfg = cfg_for(data, tmp_path, "steps=20", "group_size=4", "beta=0", "clip_range=0.2",
                  "inner_epochs=4", f"reward.weights.brightness={sign}")  # fmt: skip
    h = train_grpo(cfg).history
    first, last = sum(r["reward"] for r in h[:3]) / 3, sum(r["reward"] for r in h[-3:]) / 3
    assert last > first + 0.04, [round(r["reward"], 3) for r in h]
    assert h[-1]["reward_brightness"] * sign > 0.5 * sign + 0.04
    ups = [v for k, v in lora_tensors(tmp_path).items() if "lora_B" in k]
    assert ups and any(v.abs().max() > 0 for v in ups)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 21)) and "reward_brightness" in rows[0]
    assert json.loads((tmp_path / "rewards.json").read_text())["combine"] == "advantages"
    assert list((tmp_path / "logs").rglob("events.out.tfevents*"))


def test_rewards_fail_loudly_and_the_oracle_is_only_a_gold_control(data, tmp_path):
    with pytest.raises(RewardError, match="gold_control=true"):
        build_rewards(["oracle"], gold_sources=gold_sources())
    assert build_rewards(["oracle"], gold_sources=gold_sources(), gold_control=True).dims == [
        "VQ",
        "MQ",
        "TA",
    ]
    clips = torch.zeros(1, 4, 3, 16, 16, dtype=torch.uint8)
    with pytest.raises(RewardError, match=r"step 0, prompt #0, sample 1 \(prompt 'not a prompt"):
        OracleReward()(clips, ["not a prompt of the grammar"], ["step 0, prompt #0, sample 1"])

    class Broken:
        dims = ("a", "b")

        def __call__(self, clips, prompts, names):
            return torch.tensor([[0.5, float("nan")]])

    with pytest.raises(RewardError, match=r"step 3, prompt #1, sample 0 .*reward b@1 is nan"):
        CombinedRewards([OracleReward(["VQ"]), Broken()])(
            torch.zeros(1, 4, 3, 16, 16, dtype=torch.uint8),
            [general_prompts(1, 0)[0]],
            ["step 3, prompt #1, sample 0"],
        )
    with pytest.raises(GRPOError, match="no reward given"):
        train_grpo(cfg_for(data, tmp_path / "r", "reward.sources=[]"))
    with pytest.raises(RewardError, match=r"unknown \['VQ'\]"):
        train_grpo(cfg_for(data, tmp_path / "w", "reward.weights={VQ: 1}"))
    with pytest.raises(GRPOError, match=r"lora\.dropout must be 0"):
        train_grpo(cfg_for(data, tmp_path / "d", "lora.dropout=0.1"))
    with pytest.raises(GRPOError, match="sde_window"):
        train_grpo(cfg_for(data, tmp_path / "s", "sde_window=2", "sde_window_start=2"))


def test_grpo_cli_runs_the_synth_recipe_with_the_oracle_gold_control(data, tmp_path, capsys):
    gen, prompts = data
    argv = ["align", "grpo", "--config", str(RECIPES / "synth_grpo.yaml"), f"policy={gen}",
            f"prompts={prompts}", f"out_dir={tmp_path}", "steps=1", "prompts_per_step=1",
            "group_size=2", "sample_steps=2", "reward.sources=[oracle]", "gold_control=true",
            "reward.weights={}", "threads=0", "monitor.every=0"]  # fmt: skip
    assert main(argv) == 0
    assert "saved the LoRA" in capsys.readouterr().out
    assert (tmp_path / "lora" / LORA_WEIGHT_NAME).is_file()
    assert json.loads((tmp_path / "rewards.json").read_text())["dims"] == ["VQ", "MQ", "TA"]
    assert main(argv) == 2  # the folder holds a run
    assert "already holds a run" in capsys.readouterr().err
    assert main([*argv, "steps=2", "--resume"]) == 0
    assert "(step 2" in capsys.readouterr().out


def test_the_wan_recipe_runs_on_a_tiny_wan_folder(tmp_path):
    from vidalign.policy.tiny import save_tiny_wan_folder

    wan = save_tiny_wan_folder(tmp_path / "wan")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle moves left on a dark blue background\n")
    cfg = load_config(GRPOConfig, RECIPES / "wan21_1.3b_grpo_lora.yaml", [
        f"policy={wan}", f"prompts={prompts}", f"out_dir={tmp_path / 'run'}", "steps=2",
        "prompts_per_step=1", "group_size=2", "sample_steps=2", "sde_window=1", "num_frames=5",
        "height=16", "width=16", "reward.sources=[brightness]", "reward.weights={}",
        "mixed_precision=no", "monitor.every=0", "lora.rank=2", "lora.alpha=2", "threads=1",
    ])  # fmt: skip
    res = train_grpo(cfg)
    assert res.steps == 2 and (res.model_dir / LORA_WEIGHT_NAME).is_file()
    assert res.history[0]["ratio_first_dev"] == 0.0
    real = load_config(GRPOConfig, RECIPES / "wan21_1.3b_grpo_lora.yaml")
    assert real.lora.rank > 0 and real.reward.sources and not real.gold_control


def _run(cmd):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.dist
@pytest.mark.slow
def test_two_processes_match_one(data, tmp_path):
    gen, prompts = data
    common = ["align", "grpo", f"policy={gen}", f"prompts={prompts}", "steps=2",
              "prompts_per_step=2", "group_size=2", "sample_steps=3", "reward.sources=[brightness]",
              "lora.rank=4", "optim.lr=1e-3", "save_every=0", "beta=0.1"]  # fmt: skip
    _run([sys.executable, "-m", "vidalign.cli.main", *common, f"out_dir={tmp_path / 'one'}"])
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
          "--master_port", "29531", "-m", "vidalign.cli.main", *common,
          f"out_dir={tmp_path / 'two'}"])  # fmt: skip
    one = [json.loads(x) for x in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    two = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    # step 1's rollouts come from the same weights: rewards and advantages agree exactly
    assert one[0]["reward"] == two[0]["reward"] and one[0]["adv_abs"] == two[0]["adv_abs"]
    assert [r["ratio_first_dev"] for r in one + two] == [0.0] * 4  # DDP's forward too
    a = load_file(str(tmp_path / "one" / "lora" / LORA_WEIGHT_NAME))
    b = load_file(str(tmp_path / "two" / "lora" / LORA_WEIGHT_NAME))
    assert a.keys() == b.keys()
    assert any(v.abs().max() > 0 for k, v in a.items() if "lora_B" in k)
    # as in test_align_dist: gloo sums the halves' gradients in another order, so Adam's
    # sign-like first steps may differ where a gradient is float noise
    diff = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert (diff > 1e-5).float().mean() < 1e-2
    assert diff.max() <= 2 * 2 * 1e-3 + 1e-6


class MeanPixel:
    """A stand-in judge for the monitor: the mean pixel value on every dimension."""

    dims = ("VQ", "MQ", "TA")

    def __init__(self):
        self.calls = 0

    def score(self, videos, prompts, *, normalize=True, weights=None):
        self.calls += 1
        m = [float(torch.as_tensor(v).float().mean()) / 255 for v in videos]
        return [{"VQ": x, "MQ": x, "TA": x, "Overall": 3 * x} for x in m]


def test_the_hacking_monitor_samples_the_policy_every_n_steps(data, tmp_path):
    from vidalign.eval.judges import Judge

    made = {"proxy": MeanPixel(), "gold": MeanPixel()}
    named = {k: Judge(v, k, k) for k, v in made.items()}
    cfg = cfg_for(data, tmp_path, "steps=2", "monitor.every=1", "monitor.proxy=proxy",
                  "monitor.gold=gold", "monitor.num_prompts=2", "monitor.sample_steps=2")  # fmt: skip
    train_grpo(cfg, named_judges=named)
    records = [json.loads(line) for line in (tmp_path / "hacking.jsonl").open()]
    assert [r["step"] for r in records] == [0, 1, 2]
    assert made["proxy"].calls == made["gold"].calls == 3


def test_a_reward_model_folder_and_a_second_source_score_side_by_side(data, tmp_path):
    from vidalign.reward.builder import build_tiny
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.scorer import RewardScorer
    from vidalign.reward.template import RewardTemplate
    from vidalign.reward.tiny import TinyQwen2VLSpec

    dims = ("VQ", "MQ", "TA")
    model, rp = build_tiny(
        dims=dims, spec=TinyQwen2VLSpec(), contract=SamplingContract(fps=None, num_frames=4),
        template=RewardTemplate.builtin("default", dims), corpus=list(general_prompts(4, 0)),
    )  # fmt: skip
    rm = RewardScorer(model, rp, batch_size=4).save_pretrained(tmp_path / "rm")
    cfg = cfg_for(data, tmp_path / "run", "steps=1", f"reward.sources=[{rm}, brightness]",
                  "reward.weights={VQ@0: 0, MQ@0: 0, TA@0: 1, brightness@1: 2}",
                  "reward.combine=rewards")  # fmt: skip
    row = train_grpo(cfg).history[0]
    assert row["reward"] == pytest.approx(row["reward_TA@0"] + 2 * row["reward_brightness@1"])
    saved = json.loads((tmp_path / "run" / "rewards.json").read_text())
    assert saved["combine"] == "rewards" and saved["weights"]["brightness@1"] == 2
