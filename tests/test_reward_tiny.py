"""The tiny Qwen2-VL spec: the high-pass and energy starts of the vision tower."""

import pytest
import torch

from vidalign.reward.builder import build_tiny
from vidalign.reward.processing import SamplingContract
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import (
    TinyQwen2VLSpec,
    build_tiny_backbone,
    init_energy_vision,
    init_highpass_patch_embed,
)
from vidalign.reward.tokenizer import build_tiny_tokenizer

DIMS = ("VQ", "MQ", "TA")


def test_highpass_filters_ignore_still_flat_patches_and_keep_the_scale():
    conv = torch.nn.Conv3d(3, 64, kernel_size=(2, 8, 8), stride=(2, 8, 8), bias=False)
    random_std = float(conv.weight.detach().std())
    before = conv.weight.detach().clone()
    init_highpass_patch_embed(conv.weight, seed=0)
    w = conv.weight.detach()
    torch.testing.assert_close(w[:16], before[:16])  # colour channels untouched
    torch.testing.assert_close(w[16:32, :, 0], -w[16:32, :, 1])  # frame change
    assert float(w[16:32].std()) == pytest.approx(random_std, rel=1e-4)
    assert float(w[32:].std()) == pytest.approx(random_std, rel=1e-4)

    flat = torch.ones(1, 3, 2, 8, 8) * torch.tensor([0.2, -0.7, 1.3]).view(1, 3, 1, 1, 1)
    out = conv(flat).flatten()
    assert out[16:].abs().max() < 1e-5  # change and high-pass channels see nothing
    assert out[:16].abs().max() > 1e-2  # the random ones see the colour

    noisy = flat + 0.1 * torch.randn(1, 3, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    assert conv(noisy).flatten()[32:].abs().mean() > 0.01  # noise shows up


def test_spec_option_reaches_the_model_and_is_checked():
    contract = SamplingContract(fps=None, num_frames=8)
    tpl = RewardTemplate.builtin("default", DIMS, "separate")
    spec = TinyQwen2VLSpec(patch_size=8, patch_init="highpass")
    model, _ = build_tiny(dims=DIMS, spec=spec, contract=contract, template=tpl)
    w = model.backbone.model.visual.patch_embed.proj.weight.detach()
    q = w.shape[0] // 4
    torch.testing.assert_close(w[q : 2 * q, :, 0], -w[q : 2 * q, :, 1])
    with pytest.raises(ValueError, match="patch_init"):
        build_tiny(
            dims=DIMS, spec=TinyQwen2VLSpec(patch_init="gabor"), contract=contract, template=tpl
        )


def test_energy_start_writes_filter_magnitudes_into_reserved_channels():
    spec = TinyQwen2VLSpec(patch_size=4, vision_embed_dim=32, patch_init="energy")
    visual = build_tiny_backbone(build_tiny_tokenizer([]), spec).model.visual
    q = 8
    w = visual.patch_embed.proj.weight.detach()
    assert w[3 * q :].abs().max() == 0  # reserved channels start empty
    torch.testing.assert_close(w[q : 2 * q, :, 0], -w[q : 2 * q, :, 1])  # frame change
    assert float(w[2 * q : 3 * q].sum(dim=(-2, -1)).abs().max()) < 1e-5  # zero-sum high-pass

    x = torch.randn(5, 4 * q, generator=torch.Generator().manual_seed(0))
    out = visual.blocks[0].mlp(x).detach()
    signed = x[:, q : 3 * q]
    magnitude = signed * torch.tanh(1.702 / 2 * signed)  # QuickGELU(x) + QuickGELU(-x)
    torch.testing.assert_close(out[:, 3 * q :], magnitude.view(5, q, 2).sum(-1))
    # the energies of opposite inputs are equal: they measure size, not sign
    torch.testing.assert_close(out[:, 3 * q :], visual.blocks[0].mlp(-x).detach()[:, 3 * q :])


def test_energy_start_checks_the_tower_shape():
    spec = TinyQwen2VLSpec(patch_size=4, vision_embed_dim=32)
    visual = build_tiny_backbone(build_tiny_tokenizer([]), spec).model.visual
    visual.blocks[0].mlp.fc1 = torch.nn.Linear(32, 16)
    with pytest.raises(ValueError, match="energy start"):
        init_energy_vision(visual)
