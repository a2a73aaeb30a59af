"""Prompt grammar: exact round trips, clear errors, general and hard sets that never meet."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidalign.synth.prompts import (
    PromptError,
    general_prompts,
    hard_prompts,
    is_general,
    is_hard,
    parse_prompt,
    prompt_set,
    render_prompt,
)
from vidalign.synth.scenes import BACKGROUNDS, COLOURS, MOTIONS, SHAPES, SIZES, Scene, SceneObject

objects = st.builds(
    SceneObject,
    shape=st.sampled_from(SHAPES),
    colour=st.sampled_from(list(COLOURS)),
    size=st.sampled_from(list(SIZES)),
    motion=st.sampled_from(MOTIONS),
)
scenes = st.builds(
    Scene,
    objects=st.lists(objects, min_size=1, max_size=2).map(tuple),
    background=st.sampled_from(list(BACKGROUNDS)),
)


@settings(max_examples=300, deadline=None)
@given(scenes)
def test_parse_inverts_render(scene):
    assert parse_prompt(render_prompt(scene)) == scene


def test_hand_worked_prompt():
    scene = parse_prompt(
        "a small red circle moves left and a large white square bounces on a gray background"
    )
    assert scene.objects[0] == SceneObject("circle", "red", "small", "moves left")
    assert scene.objects[1] == SceneObject("square", "white", "large", "bounces")
    assert scene.background == "gray"
    # case, spacing and a final full stop are forgiven
    assert parse_prompt("  A small red circle  moves left on a DARK BLUE background.") == Scene(
        (SceneObject("circle", "red", "small", "moves left"),), "dark blue"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "a red circle moves left on a gray background",  # no size
        "a small red hexagon moves left on a gray background",
        "a small red circle moves left",
        "a small red circle grows and a small blue square grows and a small red circle grows "
        "on a gray background",
        "",
    ],
)
def test_outside_the_grammar_names_the_prompt(bad):
    with pytest.raises(PromptError, match="outside the synthetic world's grammar") as err:
        parse_prompt(bad)
    assert repr(bad) in str(err.value)


def test_non_text_prompt():
    with pytest.raises(PromptError, match="must be text"):
        parse_prompt(3)


def test_general_and_hard_sets_are_disjoint_and_deterministic():
    general = general_prompts(400, seed=3)
    hard = hard_prompts(100, seed=3)
    assert len(set(general)) == 400 and len(set(hard)) == 100
    assert not set(general) & set(hard)
    assert all(is_general(parse_prompt(p)) and not is_hard(parse_prompt(p)) for p in general)
    assert all(is_hard(parse_prompt(p)) and len(parse_prompt(p).objects) == 2 for p in hard)
    assert general_prompts(400, seed=3) == general
    assert general_prompts(50, seed=4) != general[:50]
    excluded = general_prompts(20, seed=3, exclude=frozenset(general[:10]))
    assert not set(excluded) & set(general[:10])


def test_synthetic_sets_are_in_grammar_and_disjoint():
    general = prompt_set("general", 20, seed=0)
    hard = prompt_set("hard", 10, seed=0)
    assert len(set(general)) == 20 and len(set(hard)) == 10
    assert all(is_general(parse_prompt(p)) for p in general)
    assert all(is_hard(parse_prompt(p)) for p in hard)
    assert not set(general) & set(hard)
    assert prompt_set("general", 20, seed=0) == general
