"""Word steering: the clean renderer follows every word; a sampler that ignores the word is at
chance exactly; rewrites change one word and respect the grammar's colour contrast."""

import pytest
import torch

from vidalign.synth.prompts import general_prompts, parse_prompt
from vidalign.synth.render import render_clean
from vidalign.synth.scenes import MIN_CONTRAST, contrast
from vidalign.synth.steering import format_steering, rewrites, word_steering

PROMPTS = [
    "a large red circle moves left on a black background",
    "a large yellow square moves down on a dark blue background",
    "a large white triangle stays still on a dark green background",
    "a large cyan diamond moves right on a gray background",
]


def renderer(prompts, seeds):
    """Clean renders of the prompts asked for: a sampler that follows every word."""
    return torch.stack([render_clean(parse_prompt(p), size=32, num_frames=8, seed=s)
                        for p, s in zip(prompts, seeds)])  # fmt: skip


def deaf(originals):
    """A sampler that draws the original prompt of each seed, whatever it is asked."""
    by_seed = dict(enumerate(originals))
    return lambda prompts, seeds: renderer([by_seed[s] for s in seeds], seeds)


def test_rewrites_change_one_word():
    rows = rewrites(PROMPTS[0], "shape")
    assert [w for w, _ in rows] == ["circle", "square", "triangle", "diamond"]
    assert rows[1][1] == "a large red square moves left on a black background"
    moves = rewrites(PROMPTS[2], "direction")
    assert moves[0][1] == "a large white triangle moves left on a dark green background"
    two = "a small red circle moves left and a large blue square grows on a beige background"
    assert rewrites(two, "shape") == []


def test_colour_rewrites_skip_colours_the_grammar_never_puts_on_that_background():
    words = [w for w, _ in rewrites("a large red circle grows on a beige background", "colour")]
    assert words == ["red", "yellow", "green", "cyan", "blue", "purple"]  # not pink or white
    assert all(contrast(w, "beige") >= MIN_CONTRAST for w in words)
    assert contrast("white", "beige") < MIN_CONTRAST and contrast("pink", "beige") < MIN_CONTRAST


@pytest.mark.parametrize("attribute", ["shape", "direction"])
def test_the_clean_renderer_follows_every_word(attribute):
    result = word_steering(renderer, PROMPTS, [0, 1, 2, 3], attribute)
    assert result.num_prompts == 4 and result.num_samples == 16
    assert result.followed == 1.0 and result.chance == 0.25
    assert all(result.confusion[w][w] == 4 for w in result.words)


def test_a_sampler_that_ignores_the_word_is_at_chance():
    result = word_steering(deaf(PROMPTS), PROMPTS, [0, 1, 2, 3], "shape")
    assert result.followed == 0.25
    # every row reads back the four prompts' own shapes, one each
    assert all(result.confusion[w][s] == 1 for w in result.words for s in result.words)
    text = format_steering(result)
    assert text.startswith("shape steering: 0.25 of 16 samples") and "asked \\ read" in text


def test_two_object_prompts_alone_are_an_error():
    two = [p for p in general_prompts(16, 0) if len(parse_prompt(p).objects) == 2][:2]
    with pytest.raises(ValueError, match="one-object prompts"):
        word_steering(renderer, two, [0, 1], "shape")
