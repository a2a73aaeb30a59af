"""Word steering: does changing one word of a prompt change what the samples show?

Attribute accuracy (``vidalign.synth.generator_eval``) says how often a sample shows what its
prompt asks for; it cannot tell a model that ignores a word from one that draws it badly.
Steering holds everything else fixed: every one-object prompt is rewritten with each word of
one attribute's vocabulary (each shape; each ``moves *`` direction; each colour that the
grammar allows on that background), every rewrite is sampled with the *same* seed, and the
attribute is read back from the pixels (``vidalign.synth.attributes``).

``followed`` is the fraction of samples read back as the word they were asked for. A model
whose samples do not depend on the word reads the same value for all rewrites of a prompt,
so at most one rewrite in ``len(words)`` can match: ``followed <= 1 / len(words)`` (chance).
The confusion counts (asked → read, with ``"none"`` for nothing readable) show where it goes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import torch

from vidalign.synth.attributes import read_attributes
from vidalign.synth.prompts import parse_prompt, render_prompt
from vidalign.synth.scenes import COLOURS, DIRECTIONS, MIN_CONTRAST, SHAPES, contrast

Attribute = Literal["colour", "shape", "direction"]
ATTRIBUTES: tuple[str, ...] = get_args(Attribute)
NONE = "none"
"""Confusion column of samples from which the attribute could not be read."""

SampleFn = Callable[[list[str], list[int]], torch.Tensor]
"""``sample(prompts, seeds) -> uint8 clips (N, F, C, H, W)``."""


@dataclass
class SteeringResult:
    """How one attribute's words steer the samples.

    Attributes:
        attribute: "colour", "shape" or "direction".
        words: the vocabulary that was asked for, in order.
        confusion: asked word → read value (a word or ``"none"``) → count.
        followed: fraction of samples read back as the asked word.
        chance: mean over prompts of 1 / (words asked for that prompt).
        num_prompts: one-object prompts rewritten.
        num_samples: samples drawn (prompts × words asked).
    """

    attribute: str
    words: list[str]
    confusion: dict[str, dict[str, int]]
    followed: float
    chance: float
    num_prompts: int
    num_samples: int


def vocabulary(attribute: Attribute) -> list[str]:
    """The words steering asks for: shapes, colours, or the four ``moves *`` directions."""
    if attribute == "shape":
        return list(SHAPES)
    if attribute == "colour":
        return list(COLOURS)
    if attribute == "direction":
        return list(DIRECTIONS)
    raise ValueError(f"unknown attribute {attribute!r}; expected one of {ATTRIBUTES}")


def rewrites(prompt: str, attribute: Attribute) -> list[tuple[str, str]]:
    """(word, prompt with the object's attribute set to word) for each allowed word.

    Only one-object prompts are rewritten (others give ``[]``); a colour too close to the
    background (below ``MIN_CONTRAST``, which the grammar never produces) is skipped.
    """
    scene = parse_prompt(prompt)
    if len(scene.objects) != 1:
        return []
    obj = scene.objects[0]
    slot = "motion" if attribute == "direction" else attribute
    out = []
    for word in vocabulary(attribute):
        if attribute == "colour" and contrast(word, scene.background) < MIN_CONTRAST:
            continue
        new = dataclasses.replace(scene, objects=(dataclasses.replace(obj, **{slot: word}),))
        out.append((word, render_prompt(new)))
    return out


def word_steering(
    sample: SampleFn, prompts: Sequence[str], seeds: Sequence[int], attribute: Attribute
) -> SteeringResult:
    """Rewrite each one-object prompt with every word of ``attribute``; sample; read back.

    Args:
        sample: draws uint8 clips (N, F, C, H, W) for prompts and seeds, e.g. a generator's
            ``sample_videos``.
        prompts: the evaluation prompts; two-object prompts are skipped.
        seeds: one per prompt; all rewrites of a prompt share it.
        attribute: which word to change.
    """
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    words = vocabulary(attribute)
    asked, jobs, job_seeds, chance = [], [], [], []
    for prompt, seed in zip(prompts, seeds):
        rows = rewrites(prompt, attribute)
        if rows:
            chance.append(1 / len(rows))
        for word, rewritten in rows:
            asked.append(word)
            jobs.append(rewritten)
            job_seeds.append(int(seed))
    if not jobs:
        raise ValueError("word steering needs one-object prompts; none were given")
    clips = sample(jobs, job_seeds)
    confusion = {w: {v: 0 for v in [*words, NONE]} for w in words}
    hits = 0
    for word, clip in zip(asked, clips):
        got = getattr(read_attributes(clip), attribute) or NONE
        confusion[word][got] += 1
        hits += got == word
    return SteeringResult(
        attribute=attribute,
        words=words,
        confusion=confusion,
        followed=hits / len(jobs),
        chance=sum(chance) / len(chance),
        num_prompts=len(chance),
        num_samples=len(jobs),
    )


def format_steering(result: SteeringResult) -> str:
    """Plain text: the headline rate, then the confusion table (rows asked, columns read)."""
    head = ["asked \\ read", *result.words, NONE]
    rows = [head]
    for w in result.words:
        rows.append([w, *[str(result.confusion[w][v]) for v in [*result.words, NONE]]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        f"{result.attribute} steering: {result.followed:.2f} of {result.num_samples} samples "
        f"read back as the word asked for (chance {result.chance:.2f}; {result.num_prompts} "
        "one-object prompts, one seed each, one word changed)"
    ]
    lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)
