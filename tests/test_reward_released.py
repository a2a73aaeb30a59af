"""Loading a released VideoReward folder: legacy names, LoRA merge, safe loading."""

import json

import pytest
import torch
from safetensors.torch import save_file

from vidalign.reward.builder import ModelLoadError, from_base, make_processor
from vidalign.reward.processing import SamplingContract
from vidalign.reward.released import load_released, map_legacy_name
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import TinyQwen2VLSpec, tiny_qwen2vl_config
from vidalign.reward.tokenizer import build_tiny_tokenizer

DIMS = ["VQ", "MQ", "TA"]
TEMPLATE_TEXT = "Score it: {VQ} {MQ} Text: {prompt} Match: {TA}"


def legacy(name: str) -> str:
    """This package's name → the 4.45-era release name (the inverse of the loader's map)."""
    for new, old in (
        ("backbone.model.language_model.", "model."),
        ("backbone.model.visual.", "visual."),
        ("backbone.lm_head.", "lm_head."),
        ("head.", "rm_head."),
    ):
        if name.startswith(new):
            return old + name[len(new) :]
    raise AssertionError(name)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("released")
    spec = TinyQwen2VLSpec()
    tok = build_tiny_tokenizer()
    contract = SamplingContract(fps=None, num_frames=8, max_pixels=56 * 56, min_pixels=784)
    from transformers import Qwen2VLForConditionalGeneration

    torch.manual_seed(0)
    Qwen2VLForConditionalGeneration(tiny_qwen2vl_config(tok, spec)).save_pretrained(root / "base")
    make_processor(tok, spec, contract).save_pretrained(root / "base")
    (root / "template.txt").write_text(TEMPLATE_TEXT + "\n")
    tpl = RewardTemplate(TEMPLATE_TEXT, tuple(DIMS))
    # the "trained" release: base weights moved everywhere, as a fine-tune would; the
    # release's model passes no position ids, so it was trained on plain positions
    trained, rp = from_base(
        root / "base", dims=DIMS, contract=contract, template=tpl, seed=1, position_ids="plain"
    )
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.01 * torch.randn_like(p))
    cfg = {
        "data_config": {"fps": None, "num_frames": 8, "max_frame_pixels": 3136, "eval_dim": DIMS},
        "model_config": {
            "use_special_tokens": True,
            "special_tokens": [f"<|{d}_reward|>" for d in DIMS],
        },
        "peft_lora_config": {"lora_enable": False},
        "inference_config": {
            "VQ_mean": 1.0,
            "VQ_std": 2.0,
            "MQ_mean": 0.0,
            "MQ_std": 1.0,
            "TA_mean": -1.0,
            "TA_std": 0.5,
        },
    }
    return root, trained, rp, cfg


def clip():
    return torch.randint(
        0, 256, (8, 3, 56, 56), dtype=torch.uint8, generator=torch.Generator().manual_seed(3)
    )


def expect_same_scores(scorer, trained, rp):
    c = rp.process_frames(clip())
    with torch.no_grad():
        want = trained.eval()(**rp.collate([c], ["a red square"]))
        got = scorer.model(**scorer.processor.collate([c], ["a red square"]))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_full_state_dict_release(setup, tmp_path):
    root, trained, rp, cfg = setup
    (tmp_path / "checkpoint-50").mkdir()
    (tmp_path / "checkpoint-100").mkdir()
    (tmp_path / "model_config.json").write_text(json.dumps(cfg))
    state = {legacy(k): v.detach().clone() for k, v in trained.named_parameters()}
    torch.save(state, tmp_path / "checkpoint-100" / "model.pth")
    scorer = load_released(tmp_path, base_model=root / "base", template=root / "template.txt")
    expect_same_scores(scorer, trained, rp)
    assert scorer.stats["TA"] == (-1.0, 0.5) and scorer.processor.contract.num_frames == 8
    with pytest.raises(ModelLoadError, match="checkpoint-7"):
        load_released(tmp_path, base_model=root / "base", template=root / "template.txt", step=7)


def test_lora_release_is_merged(setup, tmp_path):
    root, trained, rp, cfg = setup
    base, _ = from_base(root / "base", dims=DIMS, contract=rp.contract, template=rp.template)
    base_params = dict(base.named_parameters())
    r, alpha = 4, 8
    adapter, non_lora = {}, {}
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            peft_name = "base_model.model." + legacy(name)
            if ".language_model.layers." in name and name.endswith(
                ("q_proj.weight", "v_proj.weight")
            ):
                # LoRA target: trained = base + (alpha / r) · B A, exactly representable
                a = torch.randn(r, p.shape[1], generator=g)
                b = torch.randn(p.shape[0], r, generator=g) * 0.01
                p.copy_(base_params[name] + (alpha / r) * (b @ a))
                stem = peft_name[: -len(".weight")]
                adapter[f"{stem}.lora_A.weight"], adapter[f"{stem}.lora_B.weight"] = a, b
            elif ".language_model.layers." in name or name.endswith(
                ("norm.weight", "lm_head.weight")
            ):
                p.copy_(base_params[name])  # frozen under LoRA
            else:
                non_lora[peft_name] = p.detach().clone()  # vision, embeddings, rm_head
    ck = tmp_path / "checkpoint-200"
    ck.mkdir()
    save_file(adapter, str(ck / "adapter_model.safetensors"))
    torch.save(non_lora, ck / "non_lora_state_dict.pth")
    lcfg = dict(cfg, peft_lora_config={"lora_enable": True, "lora_r": r, "lora_alpha": alpha})
    (tmp_path / "model_config.json").write_text(json.dumps(lcfg))
    scorer = load_released(tmp_path, base_model=root / "base", template=root / "template.txt")
    expect_same_scores(scorer, trained, rp)


def test_unsafe_pickles_and_bad_names_are_refused(setup, tmp_path):
    root, _, _, cfg = setup
    (tmp_path / "checkpoint-1").mkdir()
    (tmp_path / "model_config.json").write_text(json.dumps(cfg))
    torch.save(
        {"rm_head.weight": torch.zeros(3, 64), "evil": object()},
        tmp_path / "checkpoint-1" / "model.pth",
    )
    with pytest.raises(ModelLoadError, match="weights_only"):
        load_released(tmp_path, base_model=root / "base", template=root / "template.txt")
    with pytest.raises(ModelLoadError, match="unexpected parameter name"):
        map_legacy_name("base_model.model.mystery.weight")
    assert map_legacy_name("base_model.model.model.layers.3.mlp.up_proj.base_layer.weight") == (
        "backbone.model.language_model.layers.3.mlp.up_proj.weight"
    )
