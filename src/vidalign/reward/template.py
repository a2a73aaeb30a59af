"""Prompt templates: where the caption and the reward tokens sit in the user turn.

A template is plain text with placeholders:

* ``{prompt}`` — the caption, exactly once;
* ``{VQ}``, ``{MQ}``, ``{TA}``, … — one per dimension, exactly once each, replaced by that
  dimension's reward token (``separate`` token mode);
* ``{reward}`` — exactly once, the single shared reward token (``shared`` token mode).

Any other ``{name}`` is an error, so a typo never silently drops a token. A template file
holds exactly this text (a final newline is dropped). The video comes first in the user
turn; the template is the text that follows it.

Attention is causal, so a reward token only sees what precedes it. The default template
puts the prompt-blind dimensions (VQ, MQ) before the caption and the caption-aware ones
(TA) after it (REFERENCE.md §2, the paper's fix for prompt bias); ``prompt_first`` puts
the caption before every token, for the ablation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vidalign.errors import VidalignError
from vidalign.reward.tokenizer import BASE_SPECIAL_TOKENS, SHARED_REWARD_TOKEN, reward_token

TokenMode = Literal["separate", "shared"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")

DIM_QUESTIONS: dict[str, str] = {
    "VQ": "How clean and detailed do the frames look?",
    "MQ": "How smooth and physically believable is the movement?",
    "TA": "How closely does the clip depict that description?",
}
PROMPT_AWARE_DIMS: tuple[str, ...] = ("TA",)


class TemplateError(VidalignError):
    """A template does not have the placeholders its dimensions and token mode need."""


def _question(dim: str) -> str:
    return DIM_QUESTIONS.get(dim, f"Rating for {dim}:")


@dataclass(frozen=True)
class RewardTemplate:
    """Validated template text for a fixed list of dimensions and a token mode."""

    text: str
    dims: tuple[str, ...]
    token_mode: TokenMode = "separate"
    source: str = "<inline>"

    def __post_init__(self) -> None:
        found = _PLACEHOLDER.findall(self.text)
        needed = ["prompt"] + (list(self.dims) if self.token_mode == "separate" else ["reward"])
        where = f"template {self.source}"
        unknown = sorted(set(found) - set(needed))
        if unknown:
            raise TemplateError(
                f"{where}: unknown placeholder(s) {['{' + u + '}' for u in unknown]}; "
                f"expected exactly {['{' + n + '}' for n in needed]}"
            )
        for name in needed:
            count = found.count(name)
            if count != 1:
                raise TemplateError(
                    f"{where}: placeholder {{{name}}} appears {count} times, expected exactly once"
                )
        for tok in BASE_SPECIAL_TOKENS:
            if tok in self.text:
                raise TemplateError(f"{where}: must not contain the marker {tok}")

    @property
    def tokens(self) -> tuple[str, ...]:
        """The reward tokens this template places, in reading order of the head rows."""
        if self.token_mode == "shared":
            return (SHARED_REWARD_TOKEN,)
        return tuple(reward_token(d) for d in self.dims)

    def render(self, prompt: str) -> str:
        """The instruction text for ``prompt``, with reward tokens in place.

        Raises:
            TemplateError: ``prompt`` is not text or contains a marker or reward token.
        """
        if not isinstance(prompt, str):
            raise TemplateError(f"prompt must be text, got {type(prompt).__name__}: {prompt!r}")
        for tok in (*BASE_SPECIAL_TOKENS, *self.tokens):
            if tok in prompt:
                raise TemplateError(f"prompt {prompt[:60]!r} contains the reserved token {tok}")

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "prompt":
                return prompt
            if name == "reward":
                return SHARED_REWARD_TOKEN
            return reward_token(name)

        return _PLACEHOLDER.sub(fill, self.text)

    @classmethod
    def builtin(
        cls,
        name: Literal["default", "prompt_first"],
        dims: Sequence[str],
        token_mode: TokenMode = "separate",
        prompt_dims: Sequence[str] = PROMPT_AWARE_DIMS,
    ) -> RewardTemplate:
        """vidalign's own wording, for any list of dimensions.

        ``default``: prompt-blind dimensions, then the caption, then ``prompt_dims``.
        ``prompt_first``: the caption, then every dimension.
        """
        dims = tuple(dims)
        caption = 'Description: "{prompt}"'
        if token_mode == "shared":
            lines = ["Rate the clip above.", caption, "Scores: {reward}"]
            return cls("\n".join(lines), dims, token_mode, source=f"builtin:{name}")
        blind = [d for d in dims if name == "default" and d not in prompt_dims]
        aware = [d for d in dims if d not in blind]
        lines = ["Rate the clip above."]
        lines += [f"{_question(d)} {{{d}}}" for d in blind]
        lines += [caption]
        lines += [f"{_question(d)} {{{d}}}" for d in aware]
        if name not in ("default", "prompt_first"):
            raise TemplateError(f"unknown built-in template {name!r}; use default or prompt_first")
        return cls("\n".join(lines), dims, token_mode, source=f"builtin:{name}")

    @classmethod
    def from_file(
        cls, path: str | Path, dims: Sequence[str], token_mode: TokenMode = "separate"
    ) -> RewardTemplate:
        """Read and validate a template file (see the module docstring for its format)."""
        path = Path(path)
        if not path.is_file():
            raise TemplateError(f"{path}: template file not found")
        text = path.read_text(encoding="utf-8")
        if text.endswith("\n"):
            text = text[:-1]
        return cls(text, tuple(dims), token_mode, source=str(path))

    @classmethod
    def resolve(
        cls, spec: str, dims: Sequence[str], token_mode: TokenMode = "separate"
    ) -> RewardTemplate:
        """``default`` / ``prompt_first`` for a built-in, anything else is a file path."""
        if spec in ("default", "prompt_first"):
            return cls.builtin(spec, dims, token_mode)  # type: ignore[arg-type]
        return cls.from_file(spec, dims, token_mode)
