"""The synthetic world's base VLM: captions, caption batches, pre-training, and its use as the
base of a reward model."""

import json

import pytest
import torch

from vidalign.config import ConfigError
from vidalign.reward.tiny import TinyQwen2VLSpec
from vidalign.synth.vlm_pretrain import (
    CLEAN_WORD,
    DEFECT_WORDS,
    TEXT_FAILURES,
    CaptionBatcher,
    PretrainSetupError,
    VLMPretrainConfig,
    alignment_text,
    caption,
    caption_corpus,
    pretrain_vlm,
    render_captioned,
)
from vidalign.training_config import OptimConfig

PROMPTS = [
    "a large red circle moves right on a black background",
    "a small blue square moves up on a dark green background",
]
SPEC = TinyQwen2VLSpec(
    hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
    vision_depth=1, vision_embed_dim=16, vision_heads=2, patch_size=8,
)  # fmt: skip


def cosine(lr: float, warmup_steps: int) -> OptimConfig:
    """The pre-trainer's own schedule: warm-up, then cosine to a tenth of ``lr``."""
    return OptimConfig(lr=lr, warmup_steps=warmup_steps, schedule="cosine")


def test_caption_names_the_scene_then_the_defects():
    assert caption(PROMPTS[0], []) == f"{PROMPTS[0]}. {CLEAN_WORD}."
    assert caption(PROMPTS[0], ["grainy", "jittery"]) == f"{PROMPTS[0]}. grainy, jittery."


def test_rendered_captions_follow_the_defect_rate():
    kw = dict(seed=0, size=32, num_frames=8, min_severity=0.5)
    clean = render_captioned(PROMPTS, 4, defect_rate=0.0, **kw)
    assert all(c.defects == [] and c.caption.endswith(". clean.") for c in clean)
    assert clean[1].prompt == PROMPTS[1] and clean[2].prompt == PROMPTS[0]
    assert clean[0].frames.dtype == torch.uint8 and clean[0].frames.shape == (8, 3, 32, 32)
    assert all(c.severities == [0.0] * len(DEFECT_WORDS) for c in clean)
    broken = render_captioned(PROMPTS, 4, defect_rate=1.0, **kw)
    assert all(c.defects == list(DEFECT_WORDS.values()) for c in broken)
    assert all(0.5 <= v <= 1.0 for c in broken for v in c.severities)
    # the same layout seed, so the difference is the defects alone
    assert not torch.equal(clean[0].frames, broken[0].frames)
    again = render_captioned(PROMPTS, 4, defect_rate=1.0, **kw)
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(broken, again))


def test_text_failures_strike_only_when_asked_and_leave_other_clips_alone():
    kw = dict(seed=0, size=32, num_frames=8, defect_rate=0.5, min_severity=0.5)
    before = render_captioned(PROMPTS, 4, **kw)
    none = render_captioned(PROMPTS, 4, text_defect_rate=0.0, **kw)
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(before, none))
    assert all(c.text_severities == [0.0] * len(TEXT_FAILURES) for c in none)
    every = render_captioned(PROMPTS, 4, text_defect_rate=1.0, **dict(kw, defect_rate=0.0))
    assert all(0.5 <= v <= 1.0 for c in every for v in c.text_severities)
    clean = render_captioned(PROMPTS, 4, **dict(kw, defect_rate=0.0))
    assert all(not torch.equal(a.frames, b.frames) for a, b in zip(clean, every))


def _batcher(clips):
    from vidalign.reward.builder import make_processor
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer(caption_corpus())
    processor = make_processor(tok, SPEC, SamplingContract(None, 8, None, None))
    return CaptionBatcher(processor, clips), tok


def test_alignment_batches_end_with_the_description_and_read_its_last_token():
    clips = render_captioned(
        PROMPTS, 2, seed=1, size=32, num_frames=8, defect_rate=0.0, min_severity=0.5
    )
    batcher, tok = _batcher(clips)
    inputs, last = batcher.alignment_batch([0, 1])
    ids = inputs["input_ids"]
    for row, clip in enumerate(clips):
        assert int(inputs["attention_mask"][row].sum()) == int(last[row]) + 1
        kept = ids[row, : int(last[row]) + 1]
        after_video = kept[(kept == batcher.video_token_id).nonzero().max() + 1 :]
        assert tok.decode(after_video).endswith(alignment_text(clip.prompt))
        assert tok.decode(kept[-1:]) == "?"
    assert int((ids == batcher.video_token_id).sum(dim=1)[0]) == 16
    assert "labels" not in inputs and inputs["video_grid_thw"].shape == (2, 3)


def test_caption_batches_put_the_loss_on_the_caption_only():
    from vidalign.reward.builder import make_processor
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer(caption_corpus())
    processor = make_processor(tok, SPEC, SamplingContract(None, 8, None, None))
    clips = render_captioned(
        PROMPTS, 2, seed=1, size=32, num_frames=8, defect_rate=0.5, min_severity=0.5
    )
    batcher = CaptionBatcher(processor, clips)
    inputs, defect = batcher.batch([0, 1])
    labels = inputs["labels"]
    for row, clip in enumerate(clips):
        target = labels[row][labels[row] != -100]
        assert tok.decode(target) == clip.caption + tok.eos_token
        defect_ids = inputs["input_ids"][row][defect[row]]
        assert tok.decode(defect_ids) == clip.caption[len(clip.prompt) + 1 :] + tok.eos_token
    # 32x32 clips, 8-px patches, merge 2: 2x2 tokens per 2 frames, 4 time steps
    assert int((inputs["input_ids"] == batcher.video_token_id).sum(dim=1)[0]) == 16
    assert inputs["pixel_values_videos"].shape[0] == 2 * 64


def test_config_errors_are_named(tmp_path):
    with pytest.raises(PretrainSetupError, match="batch_size"):
        pretrain_vlm(VLMPretrainConfig(out_dir=str(tmp_path), num_clips=2, batch_size=4))
    with pytest.raises(ConfigError, match=r"defect_rate: 1\.5 must be >= 0 and <= 1"):
        pretrain_vlm(VLMPretrainConfig(out_dir=str(tmp_path), defect_rate=1.5))
    with pytest.raises(PretrainSetupError, match="needs text_defect_rate"):
        pretrain_vlm(VLMPretrainConfig(out_dir=str(tmp_path), alignment_weight=1.0))
    with pytest.raises(PretrainSetupError, match="no longer its caption"):
        pretrain_vlm(VLMPretrainConfig(out_dir=str(tmp_path), text_defect_rate=0.5))
    with pytest.raises(PretrainSetupError, match="not all 0"):
        pretrain_vlm(VLMPretrainConfig(out_dir=str(tmp_path), caption_weight=0.0))


@pytest.mark.slow
def test_pretraining_learns_and_the_folder_is_a_reward_base(tmp_path):
    from vidalign.reward.builder import from_base
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.template import RewardTemplate

    cfg = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm"), tiny=SPEC, num_clips=32, eval_clips=8, num_prompts=8,
        steps=40, batch_size=8, optim=cosine(3e-3, 5), save_every=20, progress=False,
    )  # fmt: skip
    result = pretrain_vlm(cfg)
    losses = [row["loss"] for row in result.history]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)  # the captions' grammar is learned fast
    saved = json.loads((result.model_dir / "metrics.json").read_text())
    assert saved == result.final_metrics and saved["steps"] == 40
    rows = [json.loads(x) for x in (tmp_path / "vlm" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [40, 40]  # log_every 50: the last step, then held out
    assert rows[0]["loss"] == losses[-1] and rows[1]["split"] == "val"
    assert rows[1]["accuracy/scene"] == saved["accuracy/scene"]
    assert 0 < saved["accuracy/scene"] <= 1 and 0 <= saved["accuracy/defects"] <= 1
    assert sorted(p.name for p in (tmp_path / "vlm" / "checkpoints").iterdir()) == [
        "step-20",
        "step-40",
    ]

    template = RewardTemplate.resolve("default", ["VQ", "MQ", "TA"], "separate")
    model, processor = from_base(
        result.model_dir,
        dims=["VQ", "MQ", "TA"],
        contract=SamplingContract(None, 8, None, None),
        template=template,
    )
    clip = processor.process_frames(
        render_captioned(
            PROMPTS, 1, seed=2, size=32, num_frames=8, defect_rate=0.0, min_severity=0.5
        )[0].frames
    )
    rewards = model(**processor.collate([clip], PROMPTS[:1]))
    assert rewards.shape == (1, 3) and torch.isfinite(rewards).all()
    # a second run into the same folder must resume or stop, never overwrite
    with pytest.raises(PretrainSetupError, match="resume"):
        pretrain_vlm(cfg)


def test_pretraining_starts_from_the_specs_patch_init(tmp_path):
    from dataclasses import replace

    from safetensors.torch import load_file

    cfg = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm"), tiny=replace(SPEC, patch_init="highpass"),
        num_clips=8, eval_clips=2, num_prompts=2, steps=1, batch_size=8, optim=cosine(0.0, 0),
        progress=False,
    )  # fmt: skip
    weights = load_file(pretrain_vlm(cfg).model_dir / "model.safetensors")
    w = next(v for k, v in weights.items() if k.endswith("patch_embed.proj.weight"))
    q = w.shape[0] // 4
    torch.testing.assert_close(w[q : 2 * q, :, 0], -w[q : 2 * q, :, 1])  # frame-change filters


def test_vision_only_pretraining_learns_severities_and_leaves_the_language_model(tmp_path):
    from dataclasses import replace

    from transformers import Qwen2VLForConditionalGeneration

    from vidalign.reward.tiny import build_tiny_backbone
    from vidalign.reward.tokenizer import build_tiny_tokenizer

    spec = replace(SPEC, patch_size=4, patch_init="energy")
    cfg = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm"), tiny=spec, num_clips=16, eval_clips=16,
        num_prompts=4, defect_rate=0.5, steps=60, batch_size=16, optim=cosine(3e-3, 5),
        caption_weight=0.0, severity_weight=1.0, save_every=0, progress=False,
    )  # fmt: skip
    result = pretrain_vlm(cfg)
    losses = [row["loss"] for row in result.history]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, (first, last)  # the same 16 clips every step: it must fit them
    assert set(result.final_metrics) == {"steps"} | {f"severity_corr/{m}" for m in DEFECT_WORDS}
    saved = Qwen2VLForConditionalGeneration.from_pretrained(result.model_dir).state_dict()
    start = build_tiny_backbone(build_tiny_tokenizer(caption_corpus()), spec).state_dict()
    assert saved.keys() == start.keys()
    frozen = [k for k in saved if not k.startswith("model.visual.")]
    assert frozen and all(torch.equal(saved[k], start[k]) for k in frozen)
    assert any(not torch.equal(saved[k], start[k]) for k in saved if k.startswith("model.visual."))


def test_a_frozen_vision_stem_keeps_the_energy_start(tmp_path):
    from dataclasses import replace

    from transformers import Qwen2VLForConditionalGeneration

    from vidalign.reward.tiny import build_tiny_backbone
    from vidalign.reward.tokenizer import build_tiny_tokenizer

    spec = replace(SPEC, patch_size=4, patch_init="energy")
    cfg = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm"), tiny=spec, num_clips=16, eval_clips=4,
        num_prompts=4, defect_rate=0.5, steps=3, batch_size=8, optim=cosine(3e-3, 0),
        caption_weight=0.0, severity_weight=1.0, freeze_vision_stem=True, save_every=0,
        progress=False,
    )  # fmt: skip
    saved = Qwen2VLForConditionalGeneration.from_pretrained(pretrain_vlm(cfg).model_dir)
    start = build_tiny_backbone(build_tiny_tokenizer(caption_corpus()), spec).state_dict()
    saved = saved.state_dict()
    stem = [
        k
        for k in saved
        if k.startswith(("model.visual.patch_embed.", "model.visual.blocks.0.mlp."))
    ]
    assert len(stem) == 5 and all(torch.equal(saved[k], start[k]) for k in stem)
    tower = [k for k in saved if k.startswith("model.visual.") and k not in stem]
    assert any(not torch.equal(saved[k], start[k]) for k in tower)


def test_alignment_pretraining_learns_and_keeps_the_lm_head(tmp_path):
    from dataclasses import replace

    from transformers import Qwen2VLForConditionalGeneration

    from vidalign.reward.tiny import build_tiny_backbone
    from vidalign.reward.tokenizer import build_tiny_tokenizer

    cfg = VLMPretrainConfig(
        out_dir=str(tmp_path / "vlm"), tiny=SPEC, num_clips=16, eval_clips=8,
        num_prompts=4, defect_rate=0.0, text_defect_rate=0.5, steps=60, batch_size=16,
        optim=cosine(3e-3, 5), caption_weight=0.0, severity_weight=0.0,
        alignment_weight=1.0, save_every=0, progress=False,
    )  # fmt: skip
    result = pretrain_vlm(cfg)
    losses = [row["loss"] for row in result.history]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, (first, last)  # the same 16 clips every step: it must fit them
    assert {f"alignment_corr/{m}" for m in TEXT_FAILURES} <= set(result.final_metrics)
    saved = Qwen2VLForConditionalGeneration.from_pretrained(result.model_dir).state_dict()
    start = build_tiny_backbone(build_tiny_tokenizer(caption_corpus()), SPEC).state_dict()
    assert torch.equal(saved["lm_head.weight"], start["lm_head.weight"])  # no loss reaches it
    lm = [k for k in saved if k.startswith("model.language_model.layers.")]
    assert lm and any(not torch.equal(saved[k], start[k]) for k in lm)

    # a next stage starts from that folder (tokenizer and processor included)
    again = replace(cfg, out_dir=str(tmp_path / "next"), init_model=str(result.model_dir))
    again = replace(again, steps=1, optim=cosine(0.0, 0), tiny=replace(SPEC, hidden_size=64))
    second = pretrain_vlm(again).model_dir
    after = Qwen2VLForConditionalGeneration.from_pretrained(second).state_dict()
    assert after.keys() == saved.keys() and all(torch.equal(after[k], saved[k]) for k in saved)
    assert (second / "tokenizer.json").read_text() == (
        result.model_dir / "tokenizer.json"
    ).read_text()
    with pytest.raises(PretrainSetupError, match=r"no config\.json"):
        pretrain_vlm(replace(again, out_dir=str(tmp_path / "x"), init_model=str(tmp_path)))
