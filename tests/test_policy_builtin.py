"""Shipped base generators: packaging writes a card that matches, and the shipped one loads."""

import json

import pytest

from vidalign.cli.main import main
from vidalign.policy import SamplingDefaults, load_generator, save_generator
from vidalign.policy.builtin import (
    BUILTIN_ROOT,
    builtin_generator,
    builtin_names,
    fingerprint,
    read_card,
    verify_folder,
)
from vidalign.policy.errors import GeneratorError
from vidalign.policy.tiny import build_pixel_generator
from vidalign.synth.prompts import general_prompts


def _tiny(tmp_path):
    defaults = SamplingDefaults(num_frames=8, height=32, width=32, fps=8, steps=2, cfg=1.0)
    gen = build_pixel_generator(
        general_prompts(64, 0), defaults, patch_size=(2, 8, 8), num_layers=1, num_heads=2,
        head_dim=16, ffn_dim=32, text_dim=16, text_layers=1, text_heads=2,
    )  # fmt: skip
    return save_generator(gen, tmp_path / "gen", extra={"data": {"num_prompts": 8, "seed": 0}})


def _package(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"num_prompts": 4, "prompt_set": "general", "sources": {}}))
    out = tmp_path / "pkg"
    argv = ["policy", "package", str(_tiny(tmp_path)), str(out), "--name", "toy", "--results",
            str(results), "--command", "vidalign policy pretrain ...", "--eval-command",
            "vidalign policy evaluate ...", "--commit", "abc123"]  # fmt: skip
    assert main(argv) == 0
    return out


def test_package_writes_a_card_that_matches_its_files(tmp_path):
    out = _package(tmp_path)
    card = verify_folder(out)
    assert card["name"] == "toy" and card["commit"] == "abc123"
    assert card["training_data"] == {"num_prompts": 8, "seed": 0}
    assert "transformer/config.json" in card["files"] and (out / "MODEL_CARD.md").is_file()
    fp = card["fingerprint"]
    assert len(fp["prompts"]) == len(fp["mean_pixel"]) == len(fp["reads"]) == 4
    assert not set(fp["prompts"]) & set(general_prompts(8, 0)), "fingerprint on trained prompts"
    # the fingerprint is what the folder's weights give
    assert fingerprint(load_generator(out), fp["prompts"]) == fp


def test_a_changed_file_is_named(tmp_path):
    out = _package(tmp_path)
    weights = next((out / "transformer").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(GeneratorError, match=r"changed.*safetensors"):
        verify_folder(out)


def test_an_unknown_name_lists_the_shipped_ones():
    with pytest.raises(GeneratorError, match="no shipped generator named 'nope'"):
        builtin_generator("nope")


@pytest.mark.skipif(not builtin_names(), reason="no generator shipped in this checkout")
@pytest.mark.parametrize("name", builtin_names())
def test_shipped_generator_loads_and_matches_its_card(name):
    folder = builtin_generator(name)  # every file's SHA-256 against the card
    card = read_card(folder)
    adapter = load_generator(folder)
    fp = card["fingerprint"]
    got = fingerprint(adapter, fp["prompts"], seed=fp["seed"])
    assert got["reads"] == fp["reads"]
    assert got["mean_pixel"] == pytest.approx(fp["mean_pixel"], abs=0.5)
    assert folder.parent == BUILTIN_ROOT and (folder / "MODEL_CARD.md").is_file()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 50e6
