"""A small byte-level BPE tokenizer for tiny Qwen2-VL models, built locally.

Real models bring their own tokenizer; tests and the demo train one on the synthetic
world's vocabulary with the ``tokenizers`` library, so nothing is downloaded. It carries
the Qwen2-VL chat and vision markers and a chat template of vidalign's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
VIDEO_PAD = "<|video_pad|>"
IMAGE_PAD = "<|image_pad|>"
BASE_SPECIAL_TOKENS: tuple[str, ...] = (
    PAD_TOKEN,
    IM_START,
    IM_END,
    VISION_START,
    VISION_END,
    VIDEO_PAD,
    IMAGE_PAD,
)

SHARED_REWARD_TOKEN = "<|reward|>"


def reward_token(dim: str) -> str:
    """The special token read for dimension ``dim``: ``<|VQ_reward|>`` for ``VQ``."""
    return f"<|{dim}_reward|>"


# Qwen-style turns: "<|im_start|>role\n...<|im_end|>\n"; a video part becomes the
# vision markers around one <|video_pad|>, which the processor expands per clip.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'video' -%}{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- else -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}"
)

# Words of the synthetic world's prompt grammar and of vidalign's templates; the trainer
# adds the dataset's own prompts, and byte-level BPE covers anything else.
BASE_CORPUS: tuple[str, ...] = (
    "a red green blue yellow orange purple white black pink cyan magenta gray grey brown",
    "dark light bright pale small large big tiny medium circle square triangle star ring",
    "moves left right up down bounces grows shrinks stands still spins on background",
    "and with the of while next to beside in front behind above below two one",
    "user assistant system rate score judge watch clip video frame frames caption",
    "picture visual quality motion smoothness over time how well match shows text",
)


def build_tiny_tokenizer(
    corpus: Iterable[str] = (), *, vocab_size: int = 600, padding_side: str = "right"
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with the Qwen2-VL markers and a chat template.

    Args:
        corpus: extra text (e.g. the training prompts) merged with ``BASE_CORPUS``.
        vocab_size: target vocabulary size, markers included.
        padding_side: ``"right"`` or ``"left"``; reward positions are exact with either.

    Returns:
        A transformers fast tokenizer; reward tokens are added by ``add_reward_tokens``.
    """
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(BASE_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = list(BASE_CORPUS) + [str(t) for t in corpus]
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        padding_side=padding_side,
        chat_template=CHAT_TEMPLATE,
    )
    return fast


def add_reward_tokens(tokenizer: PreTrainedTokenizerFast, tokens: Sequence[str]) -> list[int]:
    """Add ``tokens`` as special tokens (if missing) and return their ids, in order."""
    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    return [int(tokenizer.convert_tokens_to_ids(t)) for t in tokens]
