"""Weight files that were cut short or damaged fail with an error naming the file, in every
loader: the safetensors helper, the reward model, the generator, the latent RM, LoRA, and the
text-embedding and rendered-clip caches."""

import re

import pytest
import torch
from safetensors.torch import save_file

from align_testdata import save_tiny_generator
from guidance_testdata import tiny_generator, tiny_reward
from vidalign.guidance import load_latent_reward, save_latent_reward
from vidalign.policy.folder import load_generator
from vidalign.policy.lora import add_lora, load_lora, save_lora
from vidalign.policy.tiny import tiny_wan_transformer
from vidalign.reward.builder import build_tiny
from vidalign.reward.processing import SamplingContract
from vidalign.reward.scorer import RewardScorer
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import TinyQwen2VLSpec
from vidalign.synth.generator_data import load_or_render
from vidalign.weights import WeightsFileError, check_safetensors, load_safetensors


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def names(path):
    return re.escape(str(path)) + r": not a readable safetensors file; it may be truncated"


def test_the_helper_reads_whole_files_and_names_broken_ones(tmp_path):
    file = tmp_path / "w.safetensors"
    save_file({"a": torch.arange(6.0).reshape(2, 3)}, str(file))
    assert torch.equal(load_safetensors(file)["a"], torch.arange(6.0).reshape(2, 3))
    check_safetensors(file)
    truncate(file, 0.9)
    for read in (load_safetensors, check_safetensors):
        with pytest.raises(WeightsFileError, match=names(file)):
            read(file)
    file.write_bytes(b"not a weights file")
    with pytest.raises(WeightsFileError, match=names(file)):
        load_safetensors(file)
    with pytest.raises(WeightsFileError, match="not found"):
        load_safetensors(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("file", ["head.safetensors", "model.safetensors"])
def test_reward_model_folder(tmp_path, file):
    contract = SamplingContract(fps=None, num_frames=8, max_pixels=56 * 56)
    tpl = RewardTemplate.builtin("default", ("VQ", "MQ", "TA"))
    model, rp = build_tiny(dims=("VQ", "MQ", "TA"), spec=TinyQwen2VLSpec(), contract=contract,
                           template=tpl)  # fmt: skip
    folder = RewardScorer(model, rp).save_pretrained(tmp_path / "rm")
    RewardScorer.from_pretrained(folder)
    with pytest.raises(WeightsFileError, match=names(truncate(folder / file))):
        RewardScorer.from_pretrained(folder)


@pytest.mark.parametrize(
    "file", ["transformer/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"]
)
def test_generator_folder(tmp_path, file):
    folder = save_tiny_generator(tmp_path / "gen")
    load_generator(folder)
    with pytest.raises(WeightsFileError, match=names(truncate(folder / file))):
        load_generator(folder)


def test_latent_reward_model_folder(tmp_path):
    folder = save_latent_reward(tiny_reward(tiny_generator()), tmp_path / "lrm")
    load_latent_reward(folder)
    with pytest.raises(WeightsFileError, match=names(truncate(folder / "model.safetensors"))):
        load_latent_reward(folder)


def test_lora_file(tmp_path):
    def small():
        return tiny_wan_transformer(num_layers=1, num_heads=2, head_dim=16, ffn_dim=32,
                                    text_dim=16, seed=3)  # fmt: skip

    model = small()
    add_lora(model, rank=2)
    file = save_lora(model, tmp_path / "lora")
    load_lora(small(), file)
    with pytest.raises(WeightsFileError, match=names(truncate(file))):
        load_lora(small(), file)


def test_text_embedding_cache(tmp_path):
    gen = tiny_generator()
    gen.text.precompute(["a red circle moves left"])
    file = tmp_path / "cache.safetensors"
    gen.text.save_cache(file)
    tiny_generator().text.load_cache(file)
    with pytest.raises(WeightsFileError, match=names(truncate(file))):
        tiny_generator().text.load_cache(file)


def test_rendered_clip_cache(tmp_path):
    settings = dict(num_clips=2, num_prompts=2, profiles=[], seed=0, size=16, num_frames=4, fps=8.0)
    clips, prompts = load_or_render(tmp_path, **settings)
    assert clips.shape[0] == len(prompts) == 2
    [file] = tmp_path.glob("clips-*/clips.safetensors")
    with pytest.raises(WeightsFileError, match=names(truncate(file))):
        load_or_render(tmp_path, **settings)
