"""Shared trainer pieces: data order, checkpoints with exact resume, the NaN guard, run start."""

import json
from dataclasses import dataclass, field

import pytest
import torch

from vidalign.checkpoint import latest_checkpoint
from vidalign.config import load_config
from vidalign.training import (
    CheckpointError,
    NonFiniteLossError,
    batch_indices,
    check_finite,
    load_checkpoint,
    save_checkpoint,
    start_run,
)
from vidalign.weights import WeightsFileError


def test_batch_indices_cover_each_epoch_once_and_split_by_rank():
    n, batch = 10, 4
    stream = [i for step in range(5) for i in batch_indices(n, batch, seed=3, step=step)]
    assert sorted(stream[:10]) == list(range(10))  # epoch 0 is a permutation
    assert sorted(stream[10:20]) == list(range(10))  # and so is epoch 1
    assert stream[:10] != stream[10:20]  # reshuffled per epoch
    full = batch_indices(n, batch, seed=3, step=2)
    assert batch_indices(n, batch, seed=3, step=2, rank=0, world_size=2) == full[:2]
    assert batch_indices(n, batch, seed=3, step=2, rank=1, world_size=2) == full[2:]
    with pytest.raises(ValueError, match="divide"):
        batch_indices(n, 3, seed=0, step=0, world_size=2)


def _train(model, opt, data, steps, start=0):
    for step in range(start, steps):
        idx = batch_indices(len(data), 4, seed=0, step=step)
        x = data[idx] + 0.1 * torch.randn(4, 3)  # uses the RNG, so resume must restore it
        loss = (model(x) - 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_resume_equals_uninterrupted(tmp_path):
    data = torch.randn(10, 3)

    def fresh():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        return model, torch.optim.AdamW(model.parameters(), lr=0.1)

    model_a, opt_a = fresh()
    _train(model_a, opt_a, data, 6)

    model_b, opt_b = fresh()
    _train(model_b, opt_b, data, 3)
    save_checkpoint(tmp_path, 3, model=model_b, optimizer=opt_b)
    _train(model_b, opt_b, data, 5, start=3)  # a run that then dies; its progress is lost

    model_c, opt_c = fresh()
    path = latest_checkpoint(tmp_path)
    step, _ = load_checkpoint(path, model=model_c, optimizer=opt_c)
    assert step == 3
    _train(model_c, opt_c, data, 6, start=step)
    for p_a, p_c in zip(model_a.parameters(), model_c.parameters()):
        assert torch.equal(p_a, p_c)


def test_checkpoint_is_atomic_and_checked(tmp_path):
    model = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path, 1, model=model, keep=1)
    save_checkpoint(tmp_path, 2, model=model, keep=1)
    assert latest_checkpoint(tmp_path).name == "step-2"
    assert not (tmp_path / "checkpoints" / "step-1").exists()  # pruned
    (tmp_path / "checkpoints" / "step-9").mkdir()  # a half-written folder is never picked
    assert latest_checkpoint(tmp_path).name == "step-2"
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(latest_checkpoint(tmp_path), model=torch.nn.Linear(3, 2))


def test_check_finite():
    check_finite(torch.tensor(1.5), step=0)
    with pytest.raises(NonFiniteLossError, match="step 7"):
        check_finite(torch.tensor(float("nan")), step=7)


@dataclass
class RunCfg:
    out_dir: str = "run"
    steps: int = 6
    lr: float = 0.1
    optim: dict = field(default_factory=lambda: {"beta": 0.9})


class SetupError(Exception):
    pass


def test_start_run_refuses_a_folder_that_holds_a_run_unless_resuming(tmp_path):
    cfg = RunCfg(out_dir=str(tmp_path))
    assert start_run(cfg, tmp_path, resume=False, error=SetupError) is None
    assert load_config(RunCfg, tmp_path / "config.yaml") == cfg
    save_checkpoint(tmp_path, 3, model=torch.nn.Linear(2, 2))
    with pytest.raises(SetupError, match=rf"{tmp_path} already holds a run \(checkpoints/step-3\)"):
        start_run(cfg, tmp_path, resume=False, error=SetupError)
    with pytest.raises(SetupError, match="pass --resume"):
        start_run(RunCfg(steps=2), tmp_path, resume=False, error=SetupError)
    (tmp_path / "model").mkdir()
    with pytest.raises(SetupError, match=r"step-3, model\)"):
        start_run(cfg, tmp_path, resume=False, error=SetupError)
    finished = tmp_path / "finished"
    (finished / "model").mkdir(parents=True)  # a final model alone is a run's work too
    with pytest.raises(SetupError, match="already holds a run"):
        start_run(cfg, finished, resume=False, error=SetupError)


def test_a_resumed_run_may_go_further_but_not_change_what_it_is(tmp_path):
    start_run(RunCfg(), tmp_path, resume=False, error=SetupError)
    save_checkpoint(tmp_path, 3, model=torch.nn.Linear(2, 2))
    further = RunCfg(steps=12, out_dir="moved")
    assert start_run(further, tmp_path, resume=True, error=SetupError).name == "step-3"
    assert load_config(RunCfg, tmp_path / "config.yaml") == further
    other = RunCfg(steps=12, lr=0.2, optim={"beta": 0.5})
    with pytest.raises(SetupError, match=r"differs in lr: 0\.1 -> 0\.2; optim\.beta: 0\.9 -> 0\.5"):
        start_run(other, tmp_path, resume=True, error=SetupError)
    assert load_config(RunCfg, tmp_path / "config.yaml") == further  # the refusal wrote nothing


def test_resuming_a_folder_without_checkpoints_starts_at_step_zero(tmp_path, capsys):
    assert start_run(RunCfg(), tmp_path, resume=True, error=SetupError) is None
    assert "starting at step 0" in capsys.readouterr().out
    assert (tmp_path / "config.yaml").is_file()


def _saved_run(root, steps=(3, 6)):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    for step in steps:
        save_checkpoint(root, step, model=model, optimizer=opt, keep=0)
    return model, opt


def test_a_truncated_or_damaged_file_fails_loading_naming_the_checkpoint_and_the_file(tmp_path):
    model, opt = _saved_run(tmp_path, steps=(3,))
    ckpt = tmp_path / "checkpoints" / "step-3"
    assert json.loads((ckpt / "COMPLETE").read_text())["files"]["optimizer.pt"]["bytes"] > 0
    good = (ckpt / "optimizer.pt").read_bytes()
    (ckpt / "optimizer.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match=rf"{ckpt}: optimizer\.pt has \d+ bytes, \d+ when"):
        load_checkpoint(ckpt, model=model, optimizer=opt)
    (ckpt / "optimizer.pt").write_bytes(good)
    weights = bytearray((ckpt / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF  # same size, one byte of a weight flipped
    (ckpt / "model.safetensors").write_bytes(bytes(weights))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match the SHA-256"):
        load_checkpoint(ckpt, model=model, optimizer=opt)


def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path, capsys):
    start_run(RunCfg(), tmp_path, resume=False, error=SetupError)
    model, opt = _saved_run(tmp_path)
    step6 = tmp_path / "checkpoints" / "step-6"
    (step6 / "model.safetensors").write_bytes((step6 / "model.safetensors").read_bytes()[:40])
    assert latest_checkpoint(tmp_path).name == "step-3"
    ckpt = start_run(RunCfg(), tmp_path, resume=True, error=SetupError)
    assert ckpt.name == "step-3" and load_checkpoint(ckpt, model=model, optimizer=opt)[0] == 3
    out = capsys.readouterr().out
    assert f"skipping {step6}: model.safetensors has 40 bytes" in out and "step-6.damaged" in out
    # set aside, so that pruning by step number can never prefer it to the run's new ones
    assert not step6.exists() and (tmp_path / "checkpoints" / "step-6.damaged").is_dir()
    (ckpt / "rng-0.pt").unlink()
    with pytest.raises(SetupError, match=r"no checkpoint is intact \(step-3: rng-0\.pt is missing"):
        start_run(RunCfg(), tmp_path, resume=True, error=SetupError)


def test_checkpoints_written_before_the_size_record_still_load_or_fail_cleanly(tmp_path):
    model, opt = _saved_run(tmp_path, steps=(3,))
    ckpt = tmp_path / "checkpoints" / "step-3"
    (ckpt / "COMPLETE").write_text("ok\n")  # the marker vidalign wrote before
    assert load_checkpoint(ckpt, model=model, optimizer=opt)[0] == 3
    optim = ckpt / "optimizer.pt"
    optim.write_bytes(optim.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=rf"{optim}: cannot be read; it may be truncated"):
        load_checkpoint(ckpt, model=model, optimizer=opt)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(WeightsFileError, match=rf"{weights}: not a readable safetensors file"):
        load_checkpoint(ckpt, model=model, optimizer=opt)


def test_a_resumed_run_drops_the_metrics_rows_after_its_checkpoint(tmp_path):
    start_run(RunCfg(), tmp_path, resume=False, error=SetupError)
    save_checkpoint(tmp_path, 3, model=torch.nn.Linear(2, 2))
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 6)] + [{"step": 3, "split": "val"}]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "lo'  # killed mid-row
    (tmp_path / "metrics.jsonl").write_text(text)
    start_run(RunCfg(), tmp_path, resume=True, error=SetupError)
    kept = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert kept == rows[:3] + rows[-1:]
    # a run started over in a folder without checkpoints starts its metrics over as well
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "metrics.jsonl").write_text(text)
    start_run(RunCfg(), fresh, resume=False, error=SetupError)
    assert (fresh / "metrics.jsonl").read_text() == ""


def test_the_schedule_and_the_logging_cadence_every_trainer_uses():
    from vidalign.training import due, lr_factor, lr_scheduler
    from vidalign.training_config import OptimConfig

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = lr_scheduler(opt, OptimConfig(warmup_steps=2, schedule="cosine", min_lr_ratio=0.2), 6)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # warm-up 1/2, 2/2, then cos from 1 at step 2 to 0.2 at step 6: 0.2 + 0.8 (1 + cos(πk/4)) / 2
    assert seen == pytest.approx(
        [0.5, 1.0, 1.0, 0.2 + 0.4 * (1 + 2**-0.5), 0.6, 0.2 + 0.4 * (1 - 2**-0.5)]
    )
    assert lr_factor(6, schedule="cosine", warmup=2, total=6, min_ratio=0.2) == pytest.approx(0.2)
    assert lr_factor(9, schedule="constant", warmup=2, total=6, min_ratio=0.2) == 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(3, schedule="linear", warmup=0, total=6, min_ratio=0.0)
    assert [s for s in range(1, 8) if due(s, 3, 7)] == [3, 6, 7]
    assert [s for s in range(1, 8) if due(s, 0, 7)] == [7]
