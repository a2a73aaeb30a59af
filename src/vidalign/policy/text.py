"""Text conditioning: prompt → padded embedding sequence, with a cache.

Real generators (Wan2.1: UMT5-XXL) have text encoders far larger than the LoRA being trained,
so embeddings are computed once, cached (in memory, optionally on disk as safetensors) and the
encoder can be released; training then never holds it. The synthetic world uses a tiny
``T5EncoderModel`` and a word-level tokenizer built locally with ``tokenizers``.

Embeddings follow the Wan pipeline's contract: the encoder's last hidden state for the real
tokens (including the end-of-sequence token), zero rows beyond them, padded to
``max_sequence_length``. The empty prompt's embedding is kept for classifier-free guidance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor

from vidalign.policy.errors import GeneratorError
from vidalign.weights import check_weights_folder, load_safetensors, safetensors_metadata

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
_WORD_RE = re.compile(r"\w+|[^\w\s]")


def clean_prompt(prompt: str) -> str:
    """Collapse whitespace (the Wan pipeline's cleaning, without ftfy)."""
    return re.sub(r"\s+", " ", prompt).strip()


def check_prompts(prompts: Sequence[object], *, where: str = "prompts") -> list[str]:
    """Return the prompts as ``list[str]``; raise ``GeneratorError`` naming the first non-text."""
    if isinstance(prompts, str):
        raise GeneratorError(f"{where}: expected a list of prompts, got one string")
    out = []
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise GeneratorError(f"{where}[{i}]: a prompt must be text, got {type(p).__name__}")
        out.append(p)
    return out


def build_word_tokenizer(texts: Iterable[str]):
    """A lower-cased word-level tokenizer over the words of ``texts``, as a transformers tokenizer.

    Ids: ``<pad>`` 0, ``</s>`` 1 (appended to every sequence, as in T5), ``<unk>`` 2, then
    the words in sorted order, so the same texts always give the same ids.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in _WORD_RE.findall(text.lower())})
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def tiny_t5_encoder(
    vocab_size: int, *, d_model: int = 64, num_layers: int = 2, num_heads: int = 4, seed: int = 0
):
    """A small randomly initialised ``T5EncoderModel`` (d_ff = 2·d_model, gated GELU)."""
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_model // num_heads,
        d_ff=2 * d_model,
        num_layers=num_layers,
        num_heads=num_heads,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = T5EncoderModel(config)
    return model.eval().requires_grad_(False)


def load_text_encoder(path: str | Path, *, dtype: torch.dtype = torch.float32):
    """Load a T5 or UMT5 encoder from a local folder (``config.json`` + safetensors)."""
    from transformers import AutoConfig, T5EncoderModel, UMT5EncoderModel

    path = Path(path)
    if not (path / "config.json").is_file():
        raise GeneratorError(f"{path}: no text encoder here (config.json missing)")
    kind = AutoConfig.from_pretrained(path).model_type
    classes = {"t5": T5EncoderModel, "umt5": UMT5EncoderModel}
    if kind not in classes:
        raise GeneratorError(f"{path}: text encoder type {kind!r}; expected one of {list(classes)}")
    check_weights_folder(path)
    model = classes[kind].from_pretrained(path, torch_dtype=dtype, use_safetensors=True)
    return model.eval().requires_grad_(False)


class TextEmbedder:
    """Prompts → (B, L, D) embeddings, zero-padded to ``max_sequence_length`` = L.

    Args:
        tokenizer: a transformers tokenizer (padding side right).
        encoder: a T5-family encoder, or None when every prompt used is in the cache.
        max_sequence_length: L; longer prompts are truncated.
        dim: D, the encoder's hidden size (read from ``encoder`` when given).
    """

    def __init__(
        self,
        tokenizer,
        encoder=None,
        *,
        max_sequence_length: int,
        dim: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.max_sequence_length = max_sequence_length
        self.dim = int(dim if dim is not None else encoder.config.d_model)
        self.device = torch.device(device)
        self._cache: dict[str, Tensor] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def to(self, device: torch.device | str) -> TextEmbedder:
        self.device = torch.device(device)
        if self.encoder is not None:
            self.encoder.to(self.device)
        return self

    def release_encoder(self) -> None:
        """Drop the encoder; from now on only cached prompts can be embedded."""
        self.encoder = None

    @torch.no_grad()
    def _encode_uncached(self, prompts: list[str], batch_size: int) -> None:
        if self.encoder is None:
            raise GeneratorError(
                f"prompt {prompts[0]!r} is not in the text-embedding cache and the text "
                "encoder was released; precompute every prompt before releasing it"
            )
        enc_device = next(self.encoder.parameters()).device
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            toks = self.tokenizer(
                chunk,
                padding="max_length",
                max_length=self.max_sequence_length,
                truncation=True,
                return_tensors="pt",
            )
            mask = toks.attention_mask.to(enc_device)
            hidden = self.encoder(toks.input_ids.to(enc_device), mask).last_hidden_state
            for p, h, n in zip(chunk, hidden, mask.sum(dim=1).tolist()):
                self._cache[p] = h[:n].float().cpu()

    def precompute(self, prompts: Iterable[str], *, batch_size: int = 32) -> None:
        """Embed and cache every prompt not cached yet."""
        todo = sorted({clean_prompt(p) for p in check_prompts(list(prompts))} - set(self._cache))
        if todo:
            self._encode_uncached(todo, batch_size)

    def __call__(self, prompts: Sequence[str], *, batch_size: int = 32) -> Tensor:
        """Embeddings (B, L, D), float32 on ``self.device``; zero beyond each prompt's tokens."""
        cleaned = [clean_prompt(p) for p in check_prompts(prompts)]
        self.precompute(cleaned, batch_size=batch_size)
        out = torch.zeros(len(cleaned), self.max_sequence_length, self.dim)
        for i, p in enumerate(cleaned):
            h = self._cache[p]
            out[i, : h.shape[0]] = h
        return out.to(self.device)

    @property
    def empty(self) -> Tensor:
        """The empty prompt's embedding (1, L, D), the unconditional input of CFG."""
        return self([""])

    def save_cache(self, path: str | Path) -> None:
        """Write the cache as safetensors (one tensor per prompt, the prompt in metadata)."""
        tensors = {f"p{i}": h.contiguous() for i, h in enumerate(self._cache.values())}
        meta = {f"p{i}": p for i, p in enumerate(self._cache)}
        meta["max_sequence_length"] = str(self.max_sequence_length)
        save_file(tensors, str(path), metadata=meta)

    def load_cache(self, path: str | Path) -> None:
        """Add the entries of a cache written by ``save_cache`` (its L and D must match)."""
        meta = safetensors_metadata(path)
        if int(meta.get("max_sequence_length", -1)) != self.max_sequence_length:
            raise GeneratorError(
                f"{path}: cache made with max_sequence_length "
                f"{meta.get('max_sequence_length')}, embedder uses {self.max_sequence_length}"
            )
        for key, h in load_safetensors(path).items():
            if h.shape[-1] != self.dim:
                raise GeneratorError(f"{path}: {key} has width {h.shape[-1]}, expected {self.dim}")
            self._cache[meta[key]] = h
