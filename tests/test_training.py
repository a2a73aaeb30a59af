"""Shared trainer pieces: data order, checkpoints with exact resume, the NaN guard, run start."""

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
