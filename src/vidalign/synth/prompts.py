"""The prompt grammar of the synthetic world, and its general and hard prompt sets.

Grammar (every word from the vocabularies of ``vidalign.synth.scenes``)::

    prompt  := object [" and " object] " on a " BACKGROUND " background"
    object  := "a " SIZE " " COLOUR " " SHAPE " " MOTION

e.g. "a small red circle moves left on a dark blue background". ``parse_prompt`` is the
exact inverse of ``render_prompt``; it also accepts any letter case, runs of spaces and a
final full stop.

**Rare combinations.** Some colour-shape pairs (``RARE_COLOUR_SHAPES``) and some pairs of
motions in a two-object scene (``is_rare_motion_pair``: one object moving sideways while
the other moves vertically or bounces, or one growing while the other shrinks) never occur
in the general distribution. The hard set (the analogue of TA-Hard) is made only of
two-object prompts with a rare motion pair *and* at least one rare colour-shape pair, so it
is disjoint from every general prompt, hence from any training prompt.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np

from vidalign.errors import VidalignError
from vidalign.synth.scenes import (
    BACKGROUNDS,
    COLOURS,
    HORIZONTAL,
    MIN_CONTRAST,
    MOTIONS,
    SHAPES,
    SIZES,
    VERTICAL,
    Scene,
    SceneObject,
    contrast,
)

RARE_COLOUR_SHAPES: frozenset[tuple[str, str]] = frozenset(
    {
        ("green", "circle"),
        ("pink", "circle"),
        ("red", "square"),
        ("cyan", "square"),
        ("blue", "triangle"),
        ("white", "triangle"),
        ("yellow", "diamond"),
        ("purple", "diamond"),
    }
)
"""(colour, shape) pairs held out of the general distribution: two per shape, one per colour."""

EXAMPLE = "a small red circle moves left on a dark blue background"


class PromptError(VidalignError):
    """A prompt that the synthetic world's grammar does not produce."""


def _alternation(words: object) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _object_pattern(i: int) -> str:
    return (
        f"a (?P<size{i}>{_alternation(SIZES)}) (?P<colour{i}>{_alternation(COLOURS)}) "
        f"(?P<shape{i}>{_alternation(SHAPES)}) (?P<motion{i}>{_alternation(MOTIONS)})"
    )


_PROMPT_RE = re.compile(
    f"^{_object_pattern(0)}(?: and {_object_pattern(1)})? on a "
    f"(?P<background>{_alternation(BACKGROUNDS)}) background$"
)


def render_prompt(scene: Scene) -> str:
    """The prompt that describes ``scene``."""
    objects = " and ".join(f"a {o.size} {o.colour} {o.shape} {o.motion}" for o in scene.objects)
    return f"{objects} on a {scene.background} background"


def parse_prompt(prompt: str) -> Scene:
    """The scene a prompt describes; ``parse_prompt(render_prompt(s)) == s``.

    Raises:
        PromptError: naming the prompt, when it is not text or not in the grammar.
    """
    if not isinstance(prompt, str):
        raise PromptError(f"a prompt must be text, got {type(prompt).__name__}: {prompt!r}")
    text = " ".join(prompt.lower().split()).removesuffix(".")
    match = _PROMPT_RE.match(text)
    if match is None:
        raise PromptError(
            f"prompt {prompt!r} is outside the synthetic world's grammar; expected "
            f"'a SIZE COLOUR SHAPE MOTION [and a SIZE COLOUR SHAPE MOTION] on a BACKGROUND "
            f"background', e.g. {EXAMPLE!r}, with SIZE in {list(SIZES)}, COLOUR in "
            f"{list(COLOURS)}, SHAPE in {list(SHAPES)}, MOTION in {list(MOTIONS)}, "
            f"BACKGROUND in {list(BACKGROUNDS)}"
        )
    objects = tuple(
        SceneObject(
            shape=match[f"shape{i}"],
            colour=match[f"colour{i}"],
            size=match[f"size{i}"],
            motion=match[f"motion{i}"],
        )
        for i in (0, 1)
        if match[f"shape{i}"] is not None
    )
    return Scene(objects=objects, background=match["background"])


def is_rare_motion_pair(a: str, b: str) -> bool:
    """True for a sideways mover beside a vertical mover or bouncer, or growing beside shrinking."""
    pair = {a, b}
    crossed = bool(pair & HORIZONTAL) and bool(pair & VERTICAL)
    return crossed or pair == {"grows", "shrinks"}


def is_general(scene: Scene) -> bool:
    """Whether ``scene`` belongs to the general distribution (no rare combination)."""
    if any((o.colour, o.shape) in RARE_COLOUR_SHAPES for o in scene.objects):
        return False
    if len(scene.objects) == 2:
        a, b = scene.objects
        return not is_rare_motion_pair(a.motion, b.motion)
    return True


def is_hard(scene: Scene) -> bool:
    """Two objects, a rare motion pair and at least one rare colour-shape pair."""
    if len(scene.objects) != 2:
        return False
    a, b = scene.objects
    rare_look = any((o.colour, o.shape) in RARE_COLOUR_SHAPES for o in scene.objects)
    return rare_look and is_rare_motion_pair(a.motion, b.motion)


def _draw_object(rng: np.random.Generator) -> SceneObject:
    return SceneObject(
        shape=SHAPES[rng.integers(len(SHAPES))],
        colour=list(COLOURS)[rng.integers(len(COLOURS))],
        size=list(SIZES)[rng.integers(len(SIZES))],
        motion=MOTIONS[rng.integers(len(MOTIONS))],
    )


def _draw_scene(rng: np.random.Generator, num_objects: int) -> Scene | None:
    objects = tuple(_draw_object(rng) for _ in range(num_objects))
    if num_objects == 2 and objects[0].colour == objects[1].colour:
        return None
    backgrounds = [
        bg for bg in BACKGROUNDS if all(contrast(o.colour, bg) >= MIN_CONTRAST for o in objects)
    ]
    if not backgrounds:
        return None
    return Scene(objects=objects, background=backgrounds[rng.integers(len(backgrounds))])


def _sample(n: int, seed: int, hard: bool, exclude: frozenset[str]) -> list[str]:
    rng = np.random.default_rng([seed, 1 if hard else 0])
    found: list[str] = []
    seen = set(exclude)
    for _ in range(200 * n + 1000):
        if len(found) == n:
            return found
        num_objects = 2 if hard or rng.uniform() < 0.5 else 1
        scene = _draw_scene(rng, num_objects)
        if scene is None or not (is_hard(scene) if hard else is_general(scene)):
            continue
        prompt = render_prompt(scene)
        if prompt not in seen:
            seen.add(prompt)
            found.append(prompt)
    if len(found) < n:
        raise ValueError(f"could only draw {len(found)} distinct prompts of the {n} asked for")
    return found


def general_prompts(n: int, seed: int, *, exclude: frozenset[str] = frozenset()) -> list[str]:
    """``n`` distinct prompts of the general distribution (half with one object), none in ``exclude``."""
    return _sample(n, seed, hard=False, exclude=exclude)


def hard_prompts(n: int, seed: int, *, exclude: frozenset[str] = frozenset()) -> list[str]:
    """``n`` distinct hard prompts (``is_hard``), none in ``exclude``."""
    return _sample(n, seed, hard=True, exclude=exclude)


def prompt_set(
    name: Literal["general", "hard"],
    n: int,
    *,
    seed: int = 0,
    exclude: frozenset[str] = frozenset(),
) -> list[str]:
    """The synthetic world's general set (VideoGen-Eval analogue) or hard set (TA-Hard analogue).

    Args:
        name: ``general`` (one or two objects, no rare combination) or ``hard`` (two objects
            in rare combinations, disjoint from every general prompt).
        n: number of distinct prompts.
        seed: which prompts are drawn.
        exclude: prompts to leave out (e.g. the training prompts).
    """
    if name == "general":
        return general_prompts(n, seed, exclude=exclude)
    if name == "hard":
        return hard_prompts(n, seed, exclude=exclude)
    raise PromptError(f"unknown synthetic prompt set {name!r}; expected 'general' or 'hard'")
