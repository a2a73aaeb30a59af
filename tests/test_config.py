"""Dataclass configs from YAML plus overrides: types, ranges, and errors that say where."""

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from vidalign.config import ConfigError, check_config, load_config, save_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BOUNDS = {"gt", "ge", "lt", "le"}


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


@dataclass
class Bounded:
    lr: float = field(default=1e-3, metadata={"help": "learning rate", "gt": 0})
    dropout: float = field(default=0.1, metadata={"ge": 0, "lt": 1})
    patch: list[int] = field(default_factory=lambda: [2, 4], metadata={"ge": 1})
    lr_head: float | None = field(default=None, metadata={"ge": 0})
    optim: Optim = field(default_factory=Optim)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("lr=-1e-4", r"lr: -0\.0001 must be > 0"),
        ("lr=0", r"lr: 0\.0 must be > 0"),
        ("lr=nan", r"lr: nan must be a finite number > 0"),
        ("dropout=1", r"dropout: 1\.0 must be >= 0 and < 1"),
        ("patch=[2,0]", r"patch\[1\]: 0 must be >= 1"),
        ("lr_head=-1", r"lr_head: -1\.0 must be >= 0"),
    ],
)
def test_values_outside_the_fields_range_name_the_field_and_the_value(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Bounded, None, [override])


def test_range_edges_and_unset_optionals_are_accepted():
    cfg = load_config(Bounded, None, ["dropout=0", "patch=[1]", "lr_head=0"])
    assert cfg.dropout == 0 and cfg.patch == [1] and cfg.lr_head == 0.0
    assert load_config(Bounded, None, ["lr_head=null"]).lr_head is None


def test_check_config_catches_a_config_built_in_python():
    check_config(Bounded())
    with pytest.raises(ConfigError, match=r"lr: -1 must be > 0"):
        check_config(Bounded(lr=-1))


def test_an_error_blames_the_override_that_brought_the_value_else_the_recipe(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("lr: -1.0\n")
    with pytest.raises(ConfigError) as info:
        load_config(Bounded, recipe, [])
    assert str(info.value).startswith(f"{recipe}: lr: -1.0 must be > 0")
    recipe.write_text("steps: 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(Cfg, recipe, ["steps=ten"])
    assert str(info.value) == "override 'steps=ten': steps: expected an integer, got 'ten'"
    with pytest.raises(ConfigError, match=r"^override 'optim=\{lr: x\}': optim\.lr: expected"):
        load_config(Cfg, recipe, ["optim={lr: x}"])
    with pytest.raises(ConfigError, match=r"^override 'stepz=1': unknown key"):
        load_config(Cfg, recipe, ["stepz=1"])
    recipe.write_text("steps: ten\n")
    with pytest.raises(ConfigError, match=rf"^{recipe}: steps: expected an integer"):
        load_config(Cfg, recipe, ["loss=bt"])


def test_malformed_yaml_names_the_file_and_the_line(tmp_path):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("steps: 5\noptim:\n  lr: 0.01\n dims: [VQ\n")
    with pytest.raises(ConfigError, match=rf"^{recipe}:4:2: not valid YAML \(expected"):
        load_config(Cfg, recipe)


def test_overrides_may_follow_resume_on_the_command_line():
    from vidalign.cli.main import build_parser
    from vidalign.cli.recipe import parse_args

    argv = ["policy", "pretrain", "--config", "r.yaml", "out_dir=x", "--resume", "steps=6"]
    args = parse_args(build_parser(), argv)
    assert args.resume and args.overrides == ["out_dir=x", "steps=6"]
    with pytest.raises(SystemExit):
        parse_args(build_parser(), [*argv, "--nope"])


def _numeric_fields(cls, where=""):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, key = hints[f.name], f"{where}{f.name}"
        if dataclasses.is_dataclass(tp):
            yield from _numeric_fields(tp, f"{key}.")
        elif {int, float} & {tp, *typing.get_args(tp)}:
            yield key, f.metadata


def _config_classes():
    """Every config class that a recipe, a demo scale or a tool's options fill in."""
    from vidalign.align.config import AlignConfig
    from vidalign.align.grpo_config import GRPOConfig
    from vidalign.demo.config import DemoConfig
    from vidalign.eval.reward_eval_run import RewardEvalConfig
    from vidalign.guidance.config import LatentRMConfig
    from vidalign.reward.ablate import RewardAblateConfig
    from vidalign.reward.config import RewardTrainConfig
    from vidalign.synth.generator_config import PretrainConfig
    from vidalign.synth.guidance_ablate import AblateConfig
    from vidalign.synth.vlm_pretrain import VLMPretrainConfig

    return (PretrainConfig, RewardTrainConfig, VLMPretrainConfig, AlignConfig, GRPOConfig,
            LatentRMConfig, AblateConfig, RewardAblateConfig, RewardEvalConfig, DemoConfig)  # fmt: skip


def test_every_numeric_field_of_every_config_states_its_range():
    # a logit-normal mean, and per-dimension weights or stage estimates in a mapping, can be
    # any number
    unbounded = {"time_mean", "weights", "reward.weights", "estimates"}
    for cls in _config_classes():
        fields = dict(_numeric_fields(cls))
        assert fields, cls
        missing = [k for k, meta in fields.items() if k not in unbounded and not BOUNDS & set(meta)]
        assert not missing, (cls.__name__, missing)


@pytest.mark.parametrize(
    ("recipe", "override", "message"),
    [
        ("reward/tiny.yaml", "steps=-3", r"steps: -3 must be >= 1"),
        ("reward/tiny.yaml", "optim.lr=-1e-3", r"optim\.lr: -0\.001 must be >= 0"),
        ("reward/tiny.yaml", "stop_at=0", r"stop_at: 0 must be >= 1"),
        ("policy/tiny.yaml", "optim.lr=-1", r"optim\.lr: -1\.0 must be >= 0"),
        ("guidance/tiny.yaml", "batch_size=0", r"batch_size: 0 must be >= 1"),
        ("align/synth_dpo.yaml", "lora.dropout=1.5", r"lora\.dropout: 1\.5 must be >= 0 and < 1"),
        ("align/synth_grpo.yaml", "group_size=1", r"group_size: 1 must be >= 2"),
        ("guidance/synth_ablate.yaml", "steps=-1", r"steps: -1 must be >= 0"),
        ("guidance/synth_ablate.yaml", "t_max=1.5", r"t_max: 1\.5 must be >= 0 and <= 1"),
        ("reward/ablate_synth.yaml", "batch_size=0", r"batch_size: 0 must be >= 1"),
        ("reward/ablate_synth.yaml", "seeds=[0,-1]", r"seeds\[1\]: -1 must be >= 0"),
    ],
)
def test_trainer_recipes_refuse_values_out_of_range(recipe, override, message):
    from test_recipes_load import CLASS_OF

    path = CONFIGS / recipe
    with pytest.raises(ConfigError, match=rf"^override '{re.escape(override)}': {message}"):
        load_config(CLASS_OF[recipe], path, [override])


@pytest.mark.parametrize(
    ("recipe", "override", "message"),
    [
        ("reward/tiny.yaml", "output_dir=x", "output_dir is now out_dir"),
        ("reward/tiny.yaml", "max_steps=3", "max_steps is now steps"),
        ("reward/tiny.yaml", "keep_checkpoints=1", "keep_checkpoints is now keep"),
        ("reward/tiny.yaml", "max_grad_norm=1", "max_grad_norm is now optim.grad_clip"),
        ("reward/tiny.yaml", "lr_head=1", "lr_head is now optim.lr_head"),
        ("reward/tiny.yaml", "warmup_ratio=0.1", "warmup_ratio is now optim.warmup_steps"),
        ("reward/synth_vlm.yaml", "lr=1", "lr is now optim.lr"),
        ("guidance/tiny.yaml", "grad_clip=1", "grad_clip is now optim.grad_clip"),
        ("reward/ablate_synth.yaml", "output_dir=x", "output_dir is now out_dir"),
    ],
)
def test_an_old_field_name_says_what_it_is_now(recipe, override, message):
    from test_recipes_load import CLASS_OF

    with pytest.raises(ConfigError, match=rf"^override '{re.escape(override)}': {message}"):
        load_config(CLASS_OF[recipe], CONFIGS / recipe, [override])


def test_an_old_recipe_is_refused_naming_the_file_and_each_renamed_field(tmp_path):
    from vidalign.reward.config import RewardTrainConfig
    from vidalign.synth.generator_config import PretrainConfig

    old = tmp_path / "old.yaml"
    old.write_text("output_dir: runs/x\nmax_steps: 10\nlr: 1.0e-3\n")
    with pytest.raises(ConfigError) as info:
        load_config(RewardTrainConfig, old)
    assert str(info.value) == (
        f"{old}: lr is now optim.lr; max_steps is now steps; output_dir is now out_dir (rename it)"
    )
    assert info.value.key == "lr"
    # a section sets only the keys it names; the others keep the trainer's own defaults
    cfg = load_config(PretrainConfig, None, ["optim.lr=5e-4"])
    assert (cfg.optim.lr, cfg.optim.warmup_steps, cfg.optim.schedule) == (5e-4, 50, "cosine")


def test_tools_check_configs_built_in_python(tmp_path):
    from vidalign.eval.reward_eval_run import RewardEvalConfig, run_reward_eval
    from vidalign.reward.ablate import RewardAblateConfig
    from vidalign.reward.ablate import run_ablation as reward_ablation
    from vidalign.synth.guidance_ablate import AblateConfig
    from vidalign.synth.guidance_ablate import run_ablation as guidance_ablation

    # refused before any file is read: none of these paths exist
    with pytest.raises(ConfigError, match=r"^scale: -1\.0 must be >= 0"):
        guidance_ablation(AblateConfig(out_dir=str(tmp_path / "g"), scale=-1.0))
    with pytest.raises(ConfigError, match=r"^batch_size: 0 must be >= 1"):
        reward_ablation(RewardAblateConfig(train_data="t.csv", test_data="t.csv", batch_size=0))
    with pytest.raises(ConfigError, match=r"^batch_size: -2 must be >= 1"):
        run_reward_eval(RewardEvalConfig(data="t.csv", batch_size=-2))
