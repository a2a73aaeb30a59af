"""Latent reward training: loss falls, weights move, accuracy binned by t (its exact resume:
test_trainer_shape)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from guidance_testdata import write_pair_dataset
from vidalign.guidance import load_latent_reward
from vidalign.guidance.config import LatentRMConfig
from vidalign.guidance.errors import LatentRewardError
from vidalign.guidance.trainer import train_latent_rm
from vidalign.training_config import OptimConfig


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_pair_dataset(tmp_path_factory.mktemp("latent-rm"))


def config(root, out, **kw):
    base = dict(
        out_dir=str(out), generator=str(root / "gen"), train_data=str(root / "train.csv"),
        num_blocks=1, steps=40, batch_size=8, optim=OptimConfig(lr=3e-3, warmup_steps=1),
        save_every=20, log_every=5, eval_draws=2, eval_bins=2, progress=False,
    )  # fmt: skip
    base.update(kw)
    return LatentRMConfig(**base)


@pytest.mark.slow
def test_training_learns_and_reports_accuracy_by_t(dataset, tmp_path):
    cfg = config(dataset, tmp_path / "run", val_data=str(dataset / "val.csv"))
    result = train_latent_rm(cfg)
    losses = [row["loss"] for row in result.history]
    assert result.steps == 40 and len(losses) == 40
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < first - 0.1, (first, last)
    rm = load_latent_reward(result.model_dir)
    gen_block = load_file(
        str(dataset / "gen" / "transformer" / "diffusion_pytorch_model.safetensors")
    )
    w0 = gen_block["blocks.0.ffn.net.0.proj.weight"]
    assert not torch.allclose(rm.blocks[0].ffn.net[0].proj.weight, w0)
    assert rm.dims == ["BRIGHT", "CLEAN"]
    rows = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert rows[0]["t_hi"] == 0 and [r["t_lo"] for r in rows[1:]] == [0.0, 0.5]
    assert rows[0]["count"] == 12 and sum(r["count"] for r in rows[1:]) == 24
    assert rows[0]["without_ties"]["BRIGHT"] >= 0.75  # brightness is read off clean latents
    assert set(rows[1]["with_ties"]) == {"BRIGHT", "CLEAN"}
    assert result.final_metrics["val/acc/BRIGHT/clean"] == rows[0]["without_ties"]["BRIGHT"]
    assert result.final_metrics["val/acc_ties/CLEAN/t0.5-1.0"] == rows[2]["with_ties"]["CLEAN"]
    logged = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [5, 10, 15, 20, 25, 30, 35, 40, 40]  # log_every 5
    assert [r["loss"] for r in logged[:-1]] == losses[4::5] and "lr" in logged[0]
    assert logged[-1]["split"] == "val" and "acc_ties/CLEAN/t0.5-1.0" in logged[-1]


def test_clean_variant_trains_at_t_zero(dataset, tmp_path, monkeypatch):
    from vidalign.guidance import trainer

    seen = []
    real = trainer.pair_loss
    monkeypatch.setattr(
        trainer, "pair_loss", lambda m, d, i, t, *a: seen.append(t) or real(m, d, i, t, *a)
    )
    train_latent_rm(config(dataset, tmp_path / "c", steps=2, variant="clean"))
    assert all(torch.equal(t, torch.zeros(8)) for t in seen) and len(seen) == 2
    seen.clear()
    train_latent_rm(config(dataset, tmp_path / "n", steps=2))
    assert all(((t > 0) & (t < 1)).all() for t in seen)


def test_a_run_into_a_used_folder_is_refused_and_resuming_goes_on(dataset, tmp_path):
    train_latent_rm(config(dataset, tmp_path, steps=1))
    with pytest.raises(
        LatentRewardError, match=r"already holds a run \(checkpoints/step-1, model\)"
    ):
        train_latent_rm(config(dataset, tmp_path, steps=2))
    with pytest.raises(LatentRewardError, match=r"differs in batch_size: 8 -> 4"):
        train_latent_rm(config(dataset, tmp_path, steps=2, batch_size=4, resume=True))
    assert train_latent_rm(config(dataset, tmp_path, steps=2, resume=True)).steps == 2
