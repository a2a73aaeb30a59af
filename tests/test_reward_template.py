"""Prompt templates: placement of caption and reward tokens, validation of user files."""

import pytest

from vidalign.reward.template import RewardTemplate, TemplateError


def test_default_puts_prompt_after_vq_mq_and_before_ta():
    text = RewardTemplate.builtin("default", ["VQ", "MQ", "TA"]).render("a red circle")
    vq, mq, ta = (text.index(f"<|{d}_reward|>") for d in ("VQ", "MQ", "TA"))
    p = text.index("a red circle")
    assert vq < mq < p < ta


def test_prompt_first_puts_prompt_before_every_token():
    text = RewardTemplate.builtin("prompt_first", ["VQ", "MQ", "TA"]).render("a red circle")
    assert text.index("a red circle") < min(
        text.index(f"<|{d}_reward|>") for d in ("VQ", "MQ", "TA")
    )


def test_any_dimension_list_and_shared_mode():
    tpl = RewardTemplate.builtin("default", ["Aesthetic", "TA", "Physics"])
    text = tpl.render("x")
    assert tpl.tokens == ("<|Aesthetic_reward|>", "<|TA_reward|>", "<|Physics_reward|>")
    assert text.index("<|Physics_reward|>") < text.index('"x"') < text.index("<|TA_reward|>")
    shared = RewardTemplate.builtin("default", ["VQ", "MQ"], token_mode="shared")
    assert shared.tokens == ("<|reward|>",)
    assert shared.render("x").count("<|reward|>") == 1


def test_template_file_round_trip_and_validation(tmp_path):
    good = tmp_path / "t.txt"
    good.write_text("Judge it. {VQ} Caption: {prompt} -> {TA}\n")
    tpl = RewardTemplate.from_file(good, ["VQ", "TA"])
    assert tpl.render("cat") == "Judge it. <|VQ_reward|> Caption: cat -> <|TA_reward|>"
    # braces inside the prompt are kept as text, not treated as placeholders
    assert "{VQ}" in tpl.render("a {VQ} sign")
    cases = {
        "missing": ("{VQ} {prompt}", "{TA}.*0 times"),
        "twice": ("{VQ} {VQ} {prompt} {TA}", "{VQ}.*2 times"),
        "unknown": ("{VQ} {MQ} {prompt} {TA}", r"unknown placeholder.*\{MQ\}"),
        "marker": ("<|video_pad|>{VQ} {prompt} {TA}", "marker"),
    }
    for name, (text, msg) in cases.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(text)
        with pytest.raises(TemplateError, match=msg) as err:
            RewardTemplate.from_file(path, ["VQ", "TA"])
        assert str(path) in str(err.value)
    with pytest.raises(TemplateError, match="not found"):
        RewardTemplate.resolve(str(tmp_path / "nope.txt"), ["VQ"])


def test_prompts_that_are_not_text_or_hold_reserved_tokens_fail():
    tpl = RewardTemplate.builtin("default", ["VQ", "MQ", "TA"])
    with pytest.raises(TemplateError, match="must be text"):
        tpl.render(3.5)
    with pytest.raises(TemplateError, match="reserved"):
        tpl.render("sneaky <|TA_reward|>")
