"""The tiny VideoReward model: tokens, processing, padding, readout, prompt placement."""

import pytest
import torch
from transformers import Qwen2VLForConditionalGeneration

from vidalign.reward.builder import build_tiny
from vidalign.reward.model import RewardInputError
from vidalign.reward.processing import SamplingContract
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import TinyQwen2VLSpec
from vidalign.reward.tokenizer import BASE_SPECIAL_TOKENS

DIMS = ("VQ", "MQ", "TA")
CONTRACT = SamplingContract(fps=None, num_frames=8, max_pixels=56 * 56)


def tiny(template="default", token_mode="separate", padding_side="right", dims=DIMS):
    tpl = RewardTemplate.builtin(template, dims, token_mode)
    return build_tiny(
        dims=dims,
        spec=TinyQwen2VLSpec(),
        contract=CONTRACT,
        template=tpl,
        padding_side=padding_side,
    )


def clip(f=8, h=56, w=56, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (f, 3, h, w), dtype=torch.uint8, generator=g)


def test_tokenizer_and_config_are_real_qwen2vl():
    model, rp = tiny()
    tok = rp.tokenizer
    for t in (*BASE_SPECIAL_TOKENS, "<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"):
        assert len(tok.encode(t, add_special_tokens=False)) == 1, t
    assert tok.chat_template
    assert isinstance(model.backbone, Qwen2VLForConditionalGeneration)
    assert model.backbone.get_input_embeddings().num_embeddings == len(tok)
    assert model.head.bias is None and model.head.weight.shape == (3, 64)


def test_collate_matches_the_qwen2vl_processor():
    _, rp = tiny()
    v = clip()
    ref = rp.processor(text=[rp.render_text("a red square")], videos=[v], return_tensors="pt")
    mine = rp.collate([rp.process_frames(v)], ["a red square"])
    for key, value in mine.items():
        assert torch.equal(value, ref[key]), key


@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_equals_single_sequences(side):
    model, rp = tiny(padding_side=side)
    model.eval()
    clips = [rp.process_frames(clip()), rp.process_frames(clip(6, 56, 84, seed=1))]
    prompts = ["a red square", "a small blue circle bounces on a dark green background"]
    with torch.no_grad():
        batch = model(**rp.collate(clips, prompts))
        single = torch.cat([model(**rp.collate([c], [p])) for c, p in zip(clips, prompts)])
    assert rp.collate(clips, prompts)["attention_mask"].min() == 0  # padding happened
    torch.testing.assert_close(batch, single, rtol=1e-4, atol=1e-5)


def test_readout_is_the_diagonal_of_the_head_at_token_positions():
    model, rp = tiny()
    inputs = rp.collate([rp.process_frames(clip())], ["a red square"])
    with torch.no_grad():
        r = model(**inputs)
        hidden = model.backbone.model(**inputs).last_hidden_state[0]
    ids = inputs["input_ids"][0].tolist()
    for j, d in enumerate(DIMS):
        pos = ids.index(rp.tokenizer.convert_tokens_to_ids(f"<|{d}_reward|>"))
        assert r[0, j].item() == pytest.approx(
            (hidden[pos] @ model.head.weight[j]).item(), abs=1e-5
        )


def test_shared_token_mode_reads_one_token_with_all_rows():
    model, rp = tiny(token_mode="shared", dims=("VQ", "MQ", "TA", "Extra"))
    inputs = rp.collate([rp.process_frames(clip())], ["x"])
    with torch.no_grad():
        r = model(**inputs)
        hidden = model.backbone.model(**inputs).last_hidden_state[0]
    pos = inputs["input_ids"][0].tolist().index(rp.tokenizer.convert_tokens_to_ids("<|reward|>"))
    torch.testing.assert_close(r[0], model.head.weight @ hidden[pos])


def test_missing_or_repeated_reward_token_is_an_error():
    model, rp = tiny()
    inputs = rp.collate([rp.process_frames(clip())], ["x"])
    ta = rp.tokenizer.convert_tokens_to_ids("<|TA_reward|>")
    vq = rp.tokenizer.convert_tokens_to_ids("<|VQ_reward|>")
    inputs["input_ids"] = inputs["input_ids"].masked_fill(inputs["input_ids"] == ta, vq)
    with pytest.raises(RewardInputError, match="exactly once"):
        model(**inputs)


def test_causal_placement_hides_the_prompt_from_vq_and_mq():
    model, rp = tiny()
    c = rp.process_frames(clip())
    with torch.no_grad():
        r1 = model(**rp.collate([c], ["a red square moves left"]))
        r2 = model(**rp.collate([c], ["two yellow stars spin"]))
    torch.testing.assert_close(r1[:, :2], r2[:, :2])  # VQ, MQ never see the prompt
    assert (r1[:, 2] - r2[:, 2]).abs().item() > 1e-6  # TA does
    model_pf, rp_pf = tiny(template="prompt_first")
    with torch.no_grad():
        p1 = model_pf(**rp_pf.collate([c], ["a red square moves left"]))
        p2 = model_pf(**rp_pf.collate([c], ["two yellow stars spin"]))
    assert (p1[:, 0] - p2[:, 0]).abs().item() > 1e-6


def test_differentiable_processing_matches_and_carries_gradients():
    model, rp = tiny()
    v = clip()
    ref = rp.process_frames(v)
    mine = rp.process_frames_differentiable(v.float() / 255)
    assert torch.equal(mine.grid_thw, ref.grid_thw)
    torch.testing.assert_close(mine.pixel_values, ref.pixel_values, rtol=0, atol=1e-5)
    # 64 x 64 is resized to 56 x 56 by both paths; uint8 rounding separates them slightly
    big = clip(8, 64, 64)
    a, b = rp.process_frames(big), rp.process_frames_differentiable(big.float() / 255)
    assert torch.equal(a.grid_thw, b.grid_thw)
    assert (a.pixel_values - b.pixel_values).abs().mean() < 0.02
    frames = (big.float() / 255).requires_grad_()
    r = model(**rp.collate([rp.process_frames_differentiable(frames)], ["x"]))
    r.sum().backward()
    assert frames.grad is not None and frames.grad.abs().sum() > 0
