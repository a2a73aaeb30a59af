"""The alignment trainer on a tiny generator: it learns, saves and merges LoRA (its exact
resume: test_trainer_shape)."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from align_testdata import save_tiny_generator, write_pair_folder
from vidalign.align.config import AlignConfig
from vidalign.align.data import AlignDataError, LatentStore
from vidalign.align.trainer import _encoder, _examples, draw_time_and_noise, train_align
from vidalign.cli.main import main
from vidalign.config import load_config
from vidalign.flow import interpolate, target_velocity
from vidalign.policy.folder import load_generator
from vidalign.policy.lora import LORA_WEIGHT_NAME, load_lora
from vidalign.training import NonFiniteLossError, batch_indices

RECIPES = Path(__file__).resolve().parents[1] / "configs" / "align"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    return save_tiny_generator(root / "gen"), write_pair_folder(root / "pairs", 4)


def cfg_for(data, out, *overrides):
    gen, pairs = data
    base = [f"policy={gen}", f"pairs={pairs}", f"out_dir={out}", "steps=4", "batch_size=4",
            "lora.rank=4", "optim.lr=1e-2", "save_every=2", "keep=3", "progress=false"]  # fmt: skip
    return load_config(AlignConfig, None, base + list(overrides))


def lora_tensors(run):
    return load_file(str(Path(run) / "lora" / LORA_WEIGHT_NAME))


@pytest.mark.slow
def test_dpo_lowers_the_loss_and_raises_the_implicit_accuracy(data, tmp_path):
    res = train_align(cfg_for(data, tmp_path, "steps=16"))
    h = res.history
    assert h[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)  # policy = reference at init
    assert h[0]["implicit_acc"] == 0.0 and h[0]["margin"] == 0.0
    late = h[-4:]
    assert sum(r["loss"] for r in late) / 4 < math.log(2) - 0.05
    assert sum(r["implicit_acc"] for r in late) / 4 >= 0.75
    assert all(r["w_diff"] < r["l_diff"] for r in late)  # fits winners better than losers
    lora = lora_tensors(tmp_path)
    ups = [v for k, v in lora.items() if "lora_B" in k]
    assert ups and any(v.abs().max() > 0 for v in ups)  # B starts at 0: the adapter trained
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 17)) and "l_diff" in rows[0]
    assert list((tmp_path / "logs").rglob("events.out.tfevents*"))


@pytest.mark.parametrize("method", ["sft", "rwr"])
def test_sft_and_rwr_fit_their_data(data, tmp_path, method):
    res = train_align(cfg_for(data, tmp_path, f"method={method}", "steps=12"))
    first, last = res.history[0]["loss"], sum(r["loss"] for r in res.history[-3:]) / 3
    assert last < first
    if method == "rwr":  # rewards 1 (winner) and 0 (loser): batch weights 2e/(1+e), 2/(1+e)
        assert res.history[0]["rwr_weight_max"] == pytest.approx(2 * math.e / (1 + math.e))


def test_beta_schedule_one_minus_t_squared_is_logged_below_beta(data, tmp_path):
    res = train_align(cfg_for(data, tmp_path, "beta_schedule=one_minus_t_sq", "steps=1"))
    assert 0 < res.history[0]["beta_t"] < 100.0


def test_lora_file_loads_and_merged_folder_matches_it(data, tmp_path):
    gen, _ = data
    train_align(cfg_for(data, tmp_path, "steps=3", "merge=true"))
    with_lora = load_generator(gen)
    load_lora(with_lora.transformer, tmp_path / "lora")
    merged = load_generator(tmp_path / "model")
    base = load_generator(gen)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 16, 16, generator=g)
    t = torch.tensor([0.3, 0.8])
    cond = base.encode_text(["a red circle moves left on a black background"] * 2)
    with torch.no_grad():
        v_lora, v_merged, v_base = (m(x, t, cond) for m in (with_lora, merged, base))
    assert torch.allclose(v_lora, v_merged, atol=1e-5)
    assert (v_lora - v_base).abs().max() > 1e-4
    # the same through the CLI
    assert main(["align", "merge", "--policy", str(gen), "--lora", str(tmp_path / "lora"),
                 "--out", str(tmp_path / "cli-model")]) == 0  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(load_generator(tmp_path / "cli-model")(x, t, cond), v_merged)


def test_a_diverging_run_stops_with_a_checkpoint_of_the_last_finite_weights(data, tmp_path):
    cfg = cfg_for(data, tmp_path, "optim.lr=1e30", "optim.grad_clip=0", "steps=6",
                  "save_every=100")  # fmt: skip
    with pytest.raises(NonFiniteLossError, match="last finite weights") as info:
        train_align(cfg)
    ckpts = list((tmp_path / "checkpoints").iterdir())
    assert len(ckpts) == 1 and str(ckpts[0]) in str(info.value)
    saved = load_file(str(ckpts[0] / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in saved.values())
    assert not (tmp_path / "lora").exists()


def test_bad_data_is_reported_by_file(data, tmp_path):
    _, pairs = data
    text = Path(pairs).read_text().replace("latents/0w.safetensors", "latents/missing.safetensors")
    bad = Path(pairs).parent / "bad.csv"
    bad.write_text(text)
    with pytest.raises(AlignDataError, match=r"missing\.safetensors"):
        train_align(cfg_for(data, tmp_path, f"pairs={bad}", "batch_size=8"))
    no_reward = Path(pairs).parent / "no_reward.csv"
    no_reward.write_text(text.replace(",1.0,0.0", ",,").replace(",0.0,1.0", ",,"))
    with pytest.raises(AlignDataError, match="needs a reward"):
        train_align(cfg_for(data, tmp_path, f"pairs={no_reward}", "method=rwr"))


def test_train_cli_runs_each_recipe_and_rejects_bad_keys(data, tmp_path, capsys):
    gen, pairs = data
    for recipe in ("synth_dpo", "synth_dpo_beta_t", "synth_rwr", "synth_sft"):
        out = tmp_path / recipe
        argv = ["align", "train", "--config", str(RECIPES / f"{recipe}.yaml"), f"policy={gen}",
                f"pairs={pairs}", f"out_dir={out}", "steps=1", "batch_size=2", "threads=0"]  # fmt: skip
        assert main(argv) == 0, recipe
        assert (out / "lora" / LORA_WEIGHT_NAME).is_file()
    assert main(["align", "train", "--config", str(RECIPES / "synth_dpo.yaml"), "nope=1"]) == 2
    assert "unknown key" in capsys.readouterr().err
    real = load_config(AlignConfig, RECIPES / "wan21_1.3b_dpo_lora.yaml")
    assert real.method == "dpo" and real.beta_schedule == "constant" and real.lora.rank > 0


def test_a_run_into_a_used_folder_is_refused_and_resuming_goes_on(data, tmp_path):
    train_align(cfg_for(data, tmp_path, "steps=1"))
    with pytest.raises(AlignDataError, match=r"already holds a run \(checkpoints/step-1, lora\)"):
        train_align(cfg_for(data, tmp_path, "steps=2"))
    assert train_align(cfg_for(data, tmp_path, "steps=2", "resume=true")).steps == 2


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_the_loss_is_measured_on_the_velocity_guided_at_train_cfg(data, tmp_path, scale):
    # First SFT step (the LoRA's B starts at 0, so the policy is the base): worked out here
    # from the base generator with the trainer's own batch, t and noise.
    cfg = cfg_for(data, tmp_path, "method=sft", "steps=1", f"train_cfg={scale}")
    got = train_align(cfg).history[0]["loss"]
    adapter = load_generator(cfg.policy)
    clips = _examples(cfg)
    shape = adapter.latent_shape()
    idx = batch_indices(len(clips), cfg.batch_size, seed=cfg.seed, step=0)
    x0 = LatentStore(shape, _encoder(adapter)).batch([clips[i] for i in idx])
    t, noise = draw_time_and_noise(cfg, 0, list(range(cfg.batch_size)), shape)
    x_t = interpolate(x0, noise, t)
    with torch.no_grad():
        cond = adapter.encode_text([clips[i].prompt for i in idx])
        v_c = adapter(x_t, t, cond)
        v_u = adapter(x_t, t, adapter.empty_cond.expand_as(cond))
    v = v_u + scale * (v_c - v_u)
    want = (target_velocity(x0, noise) - v).pow(2).mean().item()
    assert got == pytest.approx(want, rel=1e-4)
