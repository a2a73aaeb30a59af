"""LoRA helpers: disabled = base exactly, save/load/merge preserve outputs, diffusers format."""

import pytest
import torch
from safetensors import safe_open

from vidalign.policy import GeneratorError
from vidalign.policy.lora import (
    LORA_WEIGHT_NAME,
    add_lora,
    has_lora,
    load_lora,
    lora_disabled,
    merge_lora,
    save_lora,
)
from vidalign.policy.tiny import save_tiny_wan_folder, tiny_wan_transformer


def small():
    return tiny_wan_transformer(
        num_layers=2, num_heads=2, head_dim=16, ffn_dim=32, text_dim=16, seed=3
    )


def forward(model):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 8, 8, generator=g)
    c = torch.randn(2, 5, 16, generator=g)
    t = torch.tensor([300.0, 700.0])
    with torch.no_grad():
        return model(hidden_states=x, timestep=t, encoder_hidden_states=c, return_dict=False)[0]


def lora_model():
    model = small()
    torch.manual_seed(1)
    add_lora(model, rank=4, init_lora_weights=False)  # random B so the adapter matters
    return model


def test_add_lora_trains_only_adapters_and_starts_at_base_by_default():
    model = small()
    base = forward(model)
    add_lora(model, rank=4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert torch.equal(forward(model), base)  # B = 0 at init


def test_disabled_adapters_give_the_base_output_exactly():
    model = small()
    base = forward(model)
    torch.manual_seed(1)
    add_lora(model, rank=4, init_lora_weights=False)
    adapted = forward(model)
    assert (adapted - base).abs().max() > 1e-3
    with lora_disabled(model):
        assert torch.equal(forward(model), base)
    assert torch.equal(forward(model), adapted)  # re-enabled afterwards
    with pytest.raises(RuntimeError), lora_disabled(model):
        raise RuntimeError("boom")
    assert torch.equal(forward(model), adapted)  # re-enabled after an error too


def test_save_load_merge_give_equal_outputs(tmp_path):
    model = lora_model()
    adapted = forward(model)
    file = save_lora(model, tmp_path / "lora")
    assert file.name == LORA_WEIGHT_NAME
    with safe_open(str(file), "pt") as f:
        keys = list(f.keys())
        assert "lora_adapter_metadata" in (f.metadata() or {})
    assert keys and all(k.startswith("transformer.blocks.") for k in keys)
    assert any(k.endswith("attn2.to_q.lora_A.weight") for k in keys)

    fresh = small()
    load_lora(fresh, tmp_path / "lora")
    assert torch.equal(forward(fresh), adapted)

    merge_lora(fresh)
    assert not has_lora(fresh)
    assert torch.allclose(forward(fresh), adapted, atol=1e-5)
    assert all(not hasattr(m, "lora_A") for m in fresh.modules())


def test_lora_file_loads_in_the_diffusers_pipeline(tmp_path):
    from diffusers import WanPipeline

    root = save_tiny_wan_folder(tmp_path / "wan")
    pipe = WanPipeline.from_pretrained(root)
    torch.manual_seed(0)
    add_lora(pipe.transformer, rank=2, init_lora_weights=False)
    save_lora(pipe.transformer, tmp_path / "lora")
    expected = {n: p for n, p in pipe.transformer.named_parameters() if "lora_B" in n}

    other = WanPipeline.from_pretrained(root)
    other.load_lora_weights(str(tmp_path / "lora"))
    got = {
        n.replace(".default_0.", ".default."): p
        for n, p in other.transformer.named_parameters()
        if "lora_B" in n
    }
    assert set(got) == set(expected)
    assert all(torch.equal(got[n], expected[n]) for n in expected)


def test_lora_errors_are_clear(tmp_path):
    model = small()
    with pytest.raises(GeneratorError, match="no LoRA"):
        merge_lora(model)
    with pytest.raises(GeneratorError, match="not found"):
        load_lora(model, tmp_path / "missing")
