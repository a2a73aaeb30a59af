"""Dataclass configs from YAML plus overrides."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from vidalign.config import ConfigError, load_config, save_config


@dataclass
class Optim:
    lr: float = field(default=1e-3, metadata={"help": "learning rate"})
    betas: tuple[float, ...] = (0.9, 0.999)


@dataclass
class Cfg:
    name: str = "run"
    steps: int = 10
    loss: Literal["bt", "btt"] = "btt"
    precision: Literal["no", "bf16"] = "bf16"
    dims: list[str] = field(default_factory=lambda: ["VQ", "MQ", "TA"])
    lora_rank: int | None = None
    optim: Optim = field(default_factory=Optim)


def test_yaml_and_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps: 5\noptim:\n  lr: 0.01\n")
    cfg = load_config(Cfg, recipe, ["optim.lr=2e-4", "dims=[VQ,TA]", "loss=bt", "lora_rank=8"])
    assert cfg.steps == 5 and cfg.optim.lr == 2e-4 and cfg.dims == ["VQ", "TA"]
    assert cfg.loss == "bt" and cfg.lora_rank == 8 and cfg.optim.betas == (0.9, 0.999)
    save_config(cfg, tmp_path / "out.yaml")
    assert load_config(Cfg, tmp_path / "out.yaml") == cfg


def test_literal_word_that_yaml_reads_as_a_bool(tmp_path):
    assert load_config(Cfg, None, ["precision=no"]).precision == "no"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("precision: no\n")
    assert load_config(Cfg, recipe).precision == "no"
    with pytest.raises(ConfigError, match="not one of"):
        load_config(Cfg, None, ["loss=no"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stepz=3", "unknown key"),
        ("steps=many", "integer"),
        ("loss=mse", "not one of"),
        ("optim.lr=fast", "number"),
        ("steps", "key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Cfg, None, [override])


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Cfg, tmp_path / "nope.yaml")
