"""Shipped models: packaging writes a card that matches, and every shipped one loads and
gives what its card says."""

import json
import tomllib
from pathlib import Path

import pytest
import torch

from vidalign.builtin import (
    BUILTIN_ROOT,
    METRIC_TOLERANCE,
    BuiltinError,
    builtin_model,
    builtin_names,
    fingerprint,
    read_card,
    verify_folder,
)
from vidalign.cli.main import main
from vidalign.policy import SamplingDefaults, load_generator, save_generator
from vidalign.policy.tiny import build_pixel_generator
from vidalign.reward.tiny import TinyQwen2VLSpec
from vidalign.synth.base_vlm import HEADS_FILE, HeldOutClips, export_heads, held_out_metrics
from vidalign.synth.prompts import general_prompts
from vidalign.synth.vlm_pretrain import PretrainSetupError, VLMPretrainConfig, pretrain_vlm
from vidalign.training_config import OptimConfig

SIZE_LIMIT = 50e6
"""Bytes that all shipped folders together may take."""


def _tiny(tmp_path):
    defaults = SamplingDefaults(num_frames=8, height=32, width=32, fps=8, steps=2, cfg=1.0)
    gen = build_pixel_generator(
        general_prompts(64, 0), defaults, patch_size=(2, 8, 8), num_layers=1, num_heads=2,
        head_dim=16, ffn_dim=32, text_dim=16, text_layers=1, text_heads=2,
    )  # fmt: skip
    return save_generator(gen, tmp_path / "gen", extra={"data": {"num_prompts": 8, "seed": 0}})


def _package(tmp_path, command=("policy", "package")):
    tmp_path.mkdir(parents=True, exist_ok=True)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"num_prompts": 4, "prompt_set": "general", "sources": {}}))
    out = tmp_path / "pkg"
    argv = [*command, str(_tiny(tmp_path)), str(out), "--name", "toy", "--results",
            str(results), "--command", "vidalign policy pretrain ...", "--eval-command",
            "vidalign policy evaluate ...", "--commit", "abc123"]  # fmt: skip
    assert main(argv) == 0
    return out


def test_package_writes_a_card_that_matches_its_files(tmp_path):
    out = _package(tmp_path)
    card = verify_folder(out)
    assert card["name"] == "toy" and card["commit"] == "abc123" and card["kind"] == "generator"
    assert card["training_data"] == {"num_prompts": 8, "seed": 0}
    assert "transformer/config.json" in card["files"] and (out / "MODEL_CARD.md").is_file()
    fp = card["fingerprint"]
    assert len(fp["prompts"]) == len(fp["mean_pixel"]) == len(fp["reads"]) == 4
    assert not set(fp["prompts"]) & set(general_prompts(8, 0)), "fingerprint on trained prompts"
    # the fingerprint is what the folder's weights give
    assert fingerprint(load_generator(out), fp["prompts"]) == fp


def test_policy_package_is_package_generator(tmp_path):
    old = verify_folder(_package(tmp_path / "a"))
    new = verify_folder(_package(tmp_path / "b", ("package", "generator")))
    assert old == new


def test_a_changed_file_is_named(tmp_path):
    out = _package(tmp_path)
    weights = next((out / "transformer").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(BuiltinError, match=r"changed.*safetensors"):
        verify_folder(out)


def test_an_unknown_name_lists_the_shipped_ones():
    with pytest.raises(BuiltinError, match=r"no shipped generator named 'nope'.*synth-base"):
        builtin_model("generator", "nope")
    with pytest.raises(BuiltinError, match=r"no shipped vlm named 'nope'.*synth-vlm"):
        builtin_model("vlm", "nope")
    with pytest.raises(BuiltinError, match="unknown kind"):
        builtin_model("vae", "synth-base")


def test_shipped_folders_fit_in_the_package():
    files = [p for p in BUILTIN_ROOT.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert sum(p.stat().st_size for p in files) < SIZE_LIMIT
    # setuptools globs package-data; every shipped file must be in the wheel and the sdist
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    package = BUILTIN_ROOT.parent
    globs = pyproject["tool"]["setuptools"]["package-data"]["vidalign"]
    covered = {p for g in globs for p in package.glob(g) if p.is_file()}
    assert not [str(p.relative_to(package)) for p in files if p not in covered]
    for kind in ("generator", "vlm"):
        for name in builtin_names(kind):
            assert (BUILTIN_ROOT / kind / name / "MODEL_CARD.md").is_file()
            assert read_card(BUILTIN_ROOT / kind / name)["kind"] == kind


@pytest.mark.skipif(not builtin_names("generator"), reason="no generator shipped")
@pytest.mark.parametrize("name", builtin_names("generator"))
def test_shipped_generator_loads_and_matches_its_card(name):
    folder = builtin_model("generator", name)  # every file's SHA-256 against the card
    card = read_card(folder)
    adapter = load_generator(folder)
    fp = card["fingerprint"]
    got = fingerprint(adapter, fp["prompts"], seed=fp["seed"])
    assert got["reads"] == fp["reads"]
    assert got["mean_pixel"] == pytest.approx(fp["mean_pixel"], abs=0.5)


@pytest.mark.skipif(not builtin_names("vlm"), reason="no base VLM shipped")
@pytest.mark.parametrize("name", builtin_names("vlm"))
def test_shipped_vlm_loads_as_a_reward_base(name):
    from vidalign.reward.builder import from_base
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.template import RewardTemplate

    folder = builtin_model("vlm", name)
    assert not [p for p in folder.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    dims = ["VQ", "MQ", "TA"]
    model, processor = from_base(
        folder, dims=dims, contract=SamplingContract(None, 8, None, None),
        template=RewardTemplate.resolve("default", dims, "separate"),
    )  # fmt: skip
    clip = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    rewards = model(**processor.collate([processor.process_frames(clip)], ["a red circle"]))
    assert rewards.shape == (1, 3) and torch.isfinite(rewards).all()


@pytest.mark.skipif(not builtin_names("vlm"), reason="no base VLM shipped")
@pytest.mark.parametrize("name", builtin_names("vlm"))
def test_shipped_vlm_gives_its_cards_held_out_metrics(name):
    card = read_card(builtin_model("vlm", name))
    held = HeldOutClips(**card["metrics"]["held_out"])
    want = card["metrics"]["measured"]
    assert {"accuracy/scene", "severity_corr/noise", "alignment_corr/missing_object"} <= set(want)
    got = held_out_metrics(BUILTIN_ROOT / "vlm" / name, held)
    assert got.keys() == want.keys()
    off = {k: (got[k], want[k]) for k in want if abs(got[k] - want[k]) > METRIC_TOLERANCE}
    assert not off, f"metrics off the card by more than {METRIC_TOLERANCE}: {off}"


SPEC = TinyQwen2VLSpec(
    hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
    vision_depth=1, vision_embed_dim=16, vision_heads=2, patch_size=8,
)  # fmt: skip


def _two_stage_run(tmp_path):
    """A tiny two-stage base-VLM run as the demo makes it: ``<stage>/run/model``."""
    common = dict(num_clips=8, eval_clips=6, num_prompts=4, batch_size=4, steps=2,
                  optim=OptimConfig(lr=1e-3, warmup_steps=0, schedule="cosine"), save_every=1,
                  progress=False)  # fmt: skip
    stage1 = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm" / "run"), tiny=SPEC, severity_weight=1.0, **common
    )
    first = pretrain_vlm(stage1)
    stage2 = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm_align" / "run"), init_model=str(first.model_dir),
        caption_weight=0.0, severity_weight=1.0, alignment_weight=1.0, text_defect_rate=0.5,
        **common,
    )  # fmt: skip
    second = pretrain_vlm(stage2)
    return first, second


def test_package_vlm_records_both_stages_and_measures_the_runs_metrics(tmp_path):
    first, second = _two_stage_run(tmp_path)
    out = tmp_path / "pkg"
    argv = ["package", "vlm", str(second.model_dir), str(out), "--name", "toy-vlm",
            "--command", "vidalign demo ...", "--commit", "not recorded"]  # fmt: skip
    assert main(argv) == 0
    card = verify_folder(out)
    assert card["kind"] == "vlm" and HEADS_FILE in card["files"]
    assert [s["run"] for s in card["recipe"]["stages"]] == [
        str(tmp_path / "vlm" / "run"),
        str(tmp_path / "vlm_align" / "run"),
    ]
    assert card["recipe"]["stages"][1]["config"]["init_model"] == str(first.model_dir)
    assert [d["text_defect_rate"] for d in card["training_data"]] == [0.0, 0.5]
    assert card["metrics"]["held_out"]["clips"] == 6 and card["metrics"]["held_out"]["seed"] == 1
    # measured again from the folder and its kept heads: the run's own held-out numbers
    measured, recorded = card["metrics"]["measured"], second.final_metrics
    assert {k for k in recorded if k != "steps"} < set(measured)  # plus caption accuracy
    assert {k: measured[k] for k in recorded if k != "steps"} == pytest.approx(
        {k: v for k, v in recorded.items() if k != "steps"}, abs=1e-6
    )
    assert "recorded by `vlm_align`" in (out / "MODEL_CARD.md").read_text()
    # a generator's options are refused for a VLM
    bad = [*argv[:3], str(tmp_path / "pkg2"), *argv[4:], "--results", "r.json"]
    assert main(bad) == 2 and not (tmp_path / "pkg2").exists()


def test_heads_come_only_from_the_checkpoint_of_the_saved_model(tmp_path):
    _, second = _two_stage_run(tmp_path)
    earlier = second.model_dir.parent / "checkpoints" / "step-1" / "model.safetensors"
    with pytest.raises(PretrainSetupError, match="not the one saved"):
        export_heads(second.model_dir, earlier, tmp_path / "heads.safetensors")
    assert not (tmp_path / "heads.safetensors").exists()
