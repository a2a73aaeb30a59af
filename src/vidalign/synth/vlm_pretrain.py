"""A base VLM for the synthetic world: a tiny Qwen2-VL taught to see clips and their defects.

The paper fine-tunes Qwen2-VL-2B, which web-scale pre-training has already taught to see
colours, shapes, motion, grain and blur. A tiny Qwen2-VL built from scratch sees nothing. This
command is the synthetic world's stand-in for web pre-training: the world renders fresh clips,
each with random visual and motion defects, and the model learns by next-token prediction to
caption them, the scene's prompt and then the defects it shows::

    a large red circle moves left on a black background. grainy, jittery.
    a small blue square bounces on a gray background. clean.

A second objective (``severity_weight``) teaches the vision tower to measure defects
directly, the way vision encoders are pre-trained on image-quality data: a linear head on the
mean of a clip's merged vision tokens regresses the severity of each defect mode (MSE); the
head is dropped when the model is saved. With ``caption_weight: 0`` only the tower and that
head are trained and the language model is not run.

A third objective (``alignment_weight``) teaches the language model to check a description
against a clip, the image-text matching of VLM pre-training: clips are rendered with the
world's text failures too (wrong colour, wrong shape, wrong motion, missing object, each
striking with ``text_defect_rate``), the model reads the clip and then::

    Description: "a large red circle moves left on a black background"
    How closely does the clip depict that description?

and a linear head on the hidden state of that last token regresses each text failure's
severity (MSE; dropped at save). With text failures the prompt is no longer a true caption,
so this objective and captions exclude each other.

Captions and severities only describe what the renderer drew; the stage never sees preference
labels, annotators or oracle scores. It writes an ordinary Qwen2-VL folder (weights,
processor, tokenizer, chat template) that ``vidalign reward train base_model=FOLDER``
fine-tunes like a released checkpoint, or that a next stage starts from (``init_model``).

Held-out clips give teacher-forced token accuracy on the scene words and on the defect words,
and the correlation of predicted and true severity per mode, per text failure for the
alignment objective (``model/metrics.json``, and a ``"split": "val"`` row of the run's
``metrics.jsonl`` beside the training loss): the check that the model learned to see before
it is used. The recipe is two stages, ``configs/reward/synth_vlm.yaml`` (captions and severities)
then ``configs/reward/synth_vlm_align.yaml`` (alignment and severities); their headers and
``configs/reward/synth_small.yaml`` record what each choice measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformers import Qwen2VLForConditionalGeneration, Qwen2VLProcessor

from vidalign.checkpoint import atomic_dir
from vidalign.config import check_config
from vidalign.errors import VidalignError
from vidalign.reward.builder import make_processor
from vidalign.reward.processing import SamplingContract
from vidalign.reward.template import DIM_QUESTIONS
from vidalign.reward.tiny import TinyQwen2VLSpec, build_tiny_backbone, freeze_vision_stem
from vidalign.reward.tokenizer import build_tiny_tokenizer
from vidalign.synth.degrade import FAILURE_MODES, render_with_failures
from vidalign.synth.generator_data import vocabulary_texts
from vidalign.synth.prompts import general_prompts, parse_prompt
from vidalign.training import (
    TrainResult,
    batch_indices,
    build_accelerator,
    due,
    load_checkpoint,
    log_metrics,
    lr_scheduler,
    progress,
    save_checkpoint,
    start_run,
    stop_if_not_finite,
)
from vidalign.training_config import OptimConfig, RunConfig, run_default
from vidalign.weights import check_weights_folder

DEFECT_WORDS: dict[str, str] = {
    "noise": "grainy",
    "blur": "blurry",
    "blocking": "blocky",
    "colour_shift": "tinted",
    "jitter": "jittery",
    "stutter": "stuttering",
    "flicker": "flickering",
    "wobble": "wobbly",
    "speed": "uneven",
}
"""The caption word of each visual (VQ) and motion (MQ) failure mode of the world."""

CLEAN_WORD = "clean"
INSTRUCTION = "Describe the video."
TEXT_FAILURES: tuple[str, ...] = ("wrong_colour", "wrong_shape", "wrong_motion", "missing_object")
"""The world's text-alignment (TA) failure modes, the targets of the alignment objective."""


def alignment_text(prompt: str) -> str:
    """The text the alignment objective reads after the clip; the head reads its last token.

    It is the description line and the TA question of the built-in reward template, so a
    reward model fine-tuned from this base finds the same text before its TA token."""
    return f'Description: "{prompt}"\n{DIM_QUESTIONS["TA"]}'


class PretrainSetupError(VidalignError):
    """A VLM pre-training config that cannot run."""


@dataclass
class VLMPretrainConfig(RunConfig):
    """Pre-train the synthetic world's tiny Qwen2-VL on captioned clips.

    Run settings are ``RunConfig``'s, the optimiser's in ``optim`` (AdamW, warm-up, cosine).
    """

    out_dir: str = run_default("out_dir", "runs/vlm_synth")
    steps: int = run_default("steps", 1500)
    log_every: int = run_default("log_every", 50)
    save_every: int = run_default("save_every", 500)
    tiny: TinyQwen2VLSpec = field(
        default_factory=TinyQwen2VLSpec, metadata={"help": "tiny model sizes"}
    )
    init_model: str | None = field(
        default=None,
        metadata={
            "help": "start from this base VLM folder (an earlier stage's out_dir/model, "
            "with its tokenizer and processor) instead of a fresh model; tiny is then unused"
        },
    )
    num_clips: int = field(default=4096, metadata={"help": "training clips rendered", "ge": 1})
    eval_clips: int = field(
        default=256, metadata={"help": "held-out clips for metrics.json", "ge": 1}
    )
    num_prompts: int = field(
        default=1024, metadata={"help": "distinct prompts of the clips", "ge": 1}
    )
    size: int = field(default=32, metadata={"help": "clip height = width (px)", "ge": 1})
    num_frames: int = field(default=8, metadata={"help": "frames per clip", "ge": 1})
    defect_rate: float = field(
        default=0.25,
        metadata={"help": "chance that each defect mode strikes a clip", "ge": 0, "le": 1},
    )
    min_severity: float = field(
        default=0.2,
        metadata={"help": "severities are drawn uniformly from [min, 1]", "gt": 0, "le": 1},
    )
    caption_weight: float = field(
        default=1.0,
        metadata={
            "help": "weight of the caption loss (0: the language model is not run)",
            "ge": 0,
        },
    )
    severity_weight: float = field(
        default=0.0,
        metadata={"help": "weight of the vision tower's defect-severity regression loss", "ge": 0},
    )
    alignment_weight: float = field(
        default=0.0,
        metadata={
            "help": "weight of the description-vs-clip loss: the language model reads a clip "
            "and its prompt and regresses each text failure's severity (needs "
            "text_defect_rate > 0 and caption_weight 0)",
            "ge": 0,
        },
    )
    text_defect_rate: float = field(
        default=0.0,
        metadata={"help": "chance that each text failure mode strikes a clip", "ge": 0, "le": 1},
    )
    freeze_vision_stem: bool = field(
        default=False,
        metadata={
            "help": "keep the vision tower's patch embedding and first-block MLP as they start "
            "(see vidalign.reward.tiny.freeze_vision_stem)"
        },
    )
    batch_size: int = field(
        default=16, metadata={"help": "clips per step (all processes)", "ge": 1}
    )
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=50, schedule="cosine")
    )
    mixed_precision: str = field(default="no", metadata={"help": "no / fp16 / bf16"})


@dataclass
class CaptionedClip:
    """A rendered clip and its caption. frames: uint8 (F, 3, H, W)."""

    frames: Tensor
    prompt: str
    defects: list[str]
    severities: list[float] = field(default_factory=list)
    """Severity of each mode of ``DEFECT_WORDS``, in its order (0 where it did not strike)."""
    text_severities: list[float] = field(default_factory=list)
    """Severity of each mode of ``TEXT_FAILURES``, in its order (0 where it did not strike)."""

    @property
    def caption(self) -> str:
        return caption(self.prompt, self.defects)


def caption(prompt: str, defects: list[str]) -> str:
    """``"<prompt>. <defect>, <defect>."``, or ``"<prompt>. clean."`` without defects."""
    return f"{prompt}. {', '.join(defects) if defects else CLEAN_WORD}."


def render_captioned(
    prompts: list[str],
    n: int,
    *,
    seed: int,
    size: int,
    num_frames: int,
    defect_rate: float,
    min_severity: float,
    text_defect_rate: float = 0.0,
    progress_bar: bool = False,
) -> list[CaptionedClip]:
    """``n`` clips, clip i of ``prompts[i % len]``, each defect mode striking at random
    (visual and motion modes with ``defect_rate``, text failures with ``text_defect_rate``;
    with the latter 0 no random numbers are drawn for them, so the clips stay the same)."""
    rng = np.random.default_rng([seed, 4242])
    out = []
    for i in tqdm(range(n), desc="render clips", disable=not progress_bar, dynamic_ncols=True):
        sev = {m: 0.0 for m in FAILURE_MODES}
        for mode in DEFECT_WORDS:
            strikes = rng.uniform() < defect_rate
            level = rng.uniform(min_severity, 1.0)
            sev[mode] = float(level) if strikes else 0.0
        if text_defect_rate > 0:
            for mode in TEXT_FAILURES:
                strikes = rng.uniform() < text_defect_rate
                level = rng.uniform(min_severity, 1.0)
                sev[mode] = float(level) if strikes else 0.0
        prompt = prompts[i % len(prompts)]
        frames = render_with_failures(
            parse_prompt(prompt),
            sev,
            seed=int(rng.integers(2**31 - 1)),
            size=size,
            num_frames=num_frames,
        )
        words = [w for m, w in DEFECT_WORDS.items() if sev[m] > 0]
        levels = [sev[m] for m in DEFECT_WORDS]
        text_levels = [sev[m] for m in TEXT_FAILURES]
        out.append(CaptionedClip(torch.as_tensor(frames), prompt, words, levels, text_levels))
    return out


def caption_corpus() -> list[str]:
    """Texts holding every word the captions and the instruction use."""
    return [
        *vocabulary_texts(),
        " ".join(DEFECT_WORDS.values()),
        CLEAN_WORD,
        INSTRUCTION,
        alignment_text(""),
    ]


class CaptionBatcher:
    """Turns captioned clips into Qwen2-VL language-model batches (loss on the caption only).

    Args:
        processor: a ``Qwen2VLProcessor`` with vidalign's chat template.
        clips: the clips; each is run through the video processor once.
    """

    def __init__(self, processor, clips: list[CaptionedClip]) -> None:
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.clips = clips
        vp = processor.video_processor
        self.merge = int(vp.merge_size) ** 2
        self.video_token_id = int(self.tokenizer.convert_tokens_to_ids("<|video_pad|>"))
        self._pixels = []
        for c in clips:
            out = vp(
                videos=[c.frames],
                return_tensors="pt",
                do_sample_frames=False,
                cap_pixels_per_frame=False,
            )
            self._pixels.append((out["pixel_values_videos"], out["video_grid_thw"][0]))
        content = [{"type": "video"}, {"type": "text", "text": INSTRUCTION}]
        messages = [{"role": "user", "content": content}]
        self._head = processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        content = [{"type": "video"}, {"type": "text", "text": "{text}"}]
        user = processor.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=False
        )
        self._user_start = user[: user.index("{text}")]

    def _video_ids(self, text: str, i: int) -> list[int]:
        n_video = self._pixels[i][0].shape[0] // self.merge
        return self.tokenizer(
            text.replace("<|video_pad|>", "<|video_pad|>" * n_video), add_special_tokens=False
        )["input_ids"]

    def _pad(self, rows: list[list[int]]) -> tuple[Tensor, Tensor]:
        ids = torch.full((len(rows), max(map(len, rows))), self.tokenizer.pad_token_id)
        att = torch.zeros_like(ids)
        for j, r in enumerate(rows):
            ids[j, : len(r)] = torch.tensor(r)
            att[j, : len(r)] = 1
        return ids, att

    def _vision_inputs(self, ids: Tensor, idx: list[int]) -> dict[str, Tensor]:
        mm = torch.zeros_like(ids)
        mm[ids == self.video_token_id] = 2
        return {
            "mm_token_type_ids": mm,
            "pixel_values_videos": torch.cat([self._pixels[i][0] for i in idx]),
            "video_grid_thw": torch.stack([self._pixels[i][1] for i in idx]),
        }

    def word_spans(self, i: int) -> tuple[list[int], list[int]]:
        """Caption token ids of clip i split into (scene part, defect part)."""
        c = self.clips[i]
        scene = self.tokenizer(f"{c.prompt}.", add_special_tokens=False)["input_ids"]
        rest = self.tokenizer(
            caption(c.prompt, c.defects)[len(c.prompt) + 1 :] + self.tokenizer.eos_token,
            add_special_tokens=False,
        )["input_ids"]
        return scene, rest

    def batch(self, idx: list[int]) -> tuple[dict[str, Tensor], Tensor]:
        """Model inputs with ``labels`` for clips ``idx``, and a (B, L) mask of defect tokens."""
        rows, labels, defect = [], [], []
        for i in idx:
            head = self._video_ids(self._head, i)
            scene, rest = self.word_spans(i)
            rows.append(head + scene + rest)
            labels.append([-100] * len(head) + scene + rest)
            defect.append([False] * (len(head) + len(scene)) + [True] * len(rest))
        ids, att = self._pad(rows)
        lab = torch.full_like(ids, -100)
        dmask = torch.zeros(ids.shape, dtype=torch.bool)
        for j, (y, d) in enumerate(zip(labels, defect)):
            lab[j, : len(y)] = torch.tensor(y)
            dmask[j, : len(d)] = torch.tensor(d)
        inputs = {"input_ids": ids, "attention_mask": att, "labels": lab}
        return {**inputs, **self._vision_inputs(ids, idx)}, dmask

    def alignment_batch(self, idx: list[int]) -> tuple[dict[str, Tensor], Tensor]:
        """Inputs for clips ``idx``: the clip, then ``alignment_text(prompt)`` (the user turn
        cut after it), and (B,) positions of each row's last token, where the head reads."""
        rows = [
            self._video_ids(self._user_start, i)
            + self.tokenizer(alignment_text(self.clips[i].prompt), add_special_tokens=False)[
                "input_ids"
            ]
            for i in idx
        ]
        ids, att = self._pad(rows)
        last = torch.tensor([len(r) - 1 for r in rows])
        return {"input_ids": ids, "attention_mask": att, **self._vision_inputs(ids, idx)}, last


def _eval_batches(
    model: torch.nn.Module, batcher: CaptionBatcher, batch_size: int, *, alignment: bool = False
):
    """``(clip indices, inputs on the model's device, extra)`` over all of the batcher's
    clips, with the model in eval mode meanwhile; ``extra`` is the defect mask of caption
    batches, or the read-out positions of alignment batches."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    make = batcher.alignment_batch if alignment else batcher.batch
    try:
        for start in range(0, len(batcher.clips), batch_size):
            idx = list(range(start, min(start + batch_size, len(batcher.clips))))
            inputs, extra = make(idx)
            yield idx, {k: v.to(device) for k, v in inputs.items()}, extra
    finally:
        model.train(was_training)


@torch.no_grad()
def caption_accuracy(model, batcher: CaptionBatcher, batch_size: int = 32) -> dict[str, float]:
    """Teacher-forced next-token accuracy on the scene words and on the defect words."""
    hits = {"scene": [0, 0], "defects": [0, 0]}
    for _, inputs, dmask in _eval_batches(model, batcher, batch_size):
        device = inputs["input_ids"].device
        labels = inputs.pop("labels")
        logits = model(**inputs, use_cache=False).logits
        pred = logits[:, :-1].argmax(-1)
        target, dm = labels[:, 1:], dmask[:, 1:].to(device)
        valid = target != -100
        right = (pred == target) & valid
        for key, mask in (("scene", valid & ~dm), ("defects", valid & dm)):
            hits[key][0] += int(right[mask].sum())
            hits[key][1] += int(mask.sum())
    return {f"accuracy/{k}": h / max(n, 1) for k, (h, n) in hits.items()}


class VLMPretrainModel(torch.nn.Module):
    """The pre-training model: a Qwen2-VL (``vlm``, saved at the end) and two linear heads
    (dropped): ``head`` predicts each defect mode's severity from the mean of a clip's merged
    vision tokens, so the tower is taught to measure defects directly; ``align_head`` predicts
    each text failure's severity from the language model's last hidden state."""

    def __init__(self, vlm: torch.nn.Module, n_modes: int, n_text_modes: int = 0) -> None:
        super().__init__()
        self.vlm = vlm
        self.head = torch.nn.Linear(vlm.model.visual.merger.mlp[-1].out_features, n_modes)
        self.merge = int(vlm.config.vision_config.spatial_merge_size) ** 2
        self.align_head = (
            torch.nn.Linear(vlm.config.text_config.hidden_size, n_text_modes)
            if n_text_modes
            else None
        )

    def severities(self, merged: Tensor, grid_thw: Tensor) -> Tensor:
        """(B, modes) predictions from the tower's merged tokens of B clips."""
        counts = (grid_thw.prod(-1) // self.merge).tolist()
        return self.head(torch.stack([t.mean(0) for t in torch.split(merged, counts)]))

    def forward(
        self, inputs: dict[str, Tensor], *, caption_weight: float, last: Tensor | None = None
    ) -> tuple[Tensor | None, Tensor, Tensor | None]:
        """One pass over a batch of clips; what runs depends on the inputs:

        * caption inputs (with ``labels``) and ``caption_weight`` > 0: the language model;
          returns its caption loss;
        * alignment inputs and ``last`` (B,) positions: the language model without its LM
          head; returns ``align_head`` on the hidden states at ``last``;
        * otherwise only the vision tower runs.

        Returns:
            (caption loss or None, defect severity predictions (B, modes), text failure
            predictions (B, text modes) or None).
        """
        merged: list[Tensor] = []
        visual = self.vlm.model.visual

        def keep(_module, _args, out) -> None:
            merged.append(out.pooler_output if hasattr(out, "pooler_output") else out)

        grid = inputs["video_grid_thw"]
        loss = aligned = None
        handle = visual.register_forward_hook(keep)
        try:
            if last is not None:
                if self.align_head is None:
                    raise ValueError("this model was built without an alignment head")
                hidden = self.vlm.model(**inputs, use_cache=False).last_hidden_state
                rows = torch.arange(hidden.shape[0], device=hidden.device)
                aligned = self.align_head(hidden[rows, last.to(hidden.device)])
            elif caption_weight > 0:
                loss = self.vlm(**inputs, use_cache=False).loss
            else:
                visual(inputs["pixel_values_videos"], grid_thw=grid)
        finally:
            handle.remove()
        return loss, self.severities(merged[0], grid), aligned


@torch.no_grad()
def severity_correlation(
    net: VLMPretrainModel, batcher: CaptionBatcher, batch_size: int = 32
) -> dict[str, float]:
    """Held-out Pearson correlation of predicted and true severity, per defect mode."""
    preds, truth = [], []
    for idx, inputs, _ in _eval_batches(net, batcher, batch_size):
        preds.append(net(inputs, caption_weight=0.0)[1].cpu())
        truth.append(torch.tensor([batcher.clips[i].severities for i in idx]))
    return _correlations("severity_corr", DEFECT_WORDS, torch.cat(preds), torch.cat(truth))


@torch.no_grad()
def alignment_correlation(
    net: VLMPretrainModel, batcher: CaptionBatcher, batch_size: int = 32
) -> dict[str, float]:
    """Held-out Pearson correlation of predicted and true severity, per text failure mode."""
    preds, truth = [], []
    for idx, inputs, last in _eval_batches(net, batcher, batch_size, alignment=True):
        preds.append(net(inputs, caption_weight=0.0, last=last)[2].cpu())
        truth.append(torch.tensor([batcher.clips[i].text_severities for i in idx]))
    return _correlations("alignment_corr", TEXT_FAILURES, torch.cat(preds), torch.cat(truth))


def _correlations(prefix: str, modes, p: Tensor, t: Tensor) -> dict[str, float]:
    out = {}
    for j, mode in enumerate(modes):
        pc, tc = p[:, j] - p[:, j].mean(), t[:, j] - t[:, j].mean()
        denom = float(pc.norm() * tc.norm())
        out[f"{prefix}/{mode}"] = float(pc @ tc) / denom if denom > 0 else 0.0
    return out


def _check(cfg: VLMPretrainConfig) -> None:
    if cfg.num_clips < cfg.batch_size:
        raise PretrainSetupError(
            f"num_clips ({cfg.num_clips}) must be at least batch_size ({cfg.batch_size})"
        )
    weights = {
        "caption_weight": cfg.caption_weight,
        "severity_weight": cfg.severity_weight,
        "alignment_weight": cfg.alignment_weight,
    }
    if max(weights.values()) == 0:
        raise PretrainSetupError(f"loss weights must be >= 0 and not all 0, got {weights}")
    if cfg.alignment_weight > 0 and cfg.text_defect_rate == 0:
        raise PretrainSetupError(
            "alignment_weight > 0 needs text_defect_rate > 0: without text failures every "
            "target is 0"
        )
    if cfg.text_defect_rate > 0 and cfg.caption_weight > 0:
        raise PretrainSetupError(
            "caption_weight must be 0 when text_defect_rate > 0: a clip with a text failure "
            "does not show its prompt, so the prompt is no longer its caption"
        )


def load_base_vlm(path: str | Path):
    """(processor, Qwen2-VL) of a base VLM folder written by an earlier run (safetensors only)."""
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise PretrainSetupError(f"{folder}: not a base VLM folder (no config.json)")
    check_weights_folder(folder)
    processor = Qwen2VLProcessor.from_pretrained(str(folder), local_files_only=True)
    vlm = Qwen2VLForConditionalGeneration.from_pretrained(
        str(folder), local_files_only=True, use_safetensors=True
    )
    return processor, vlm


def pretrain_vlm(cfg: VLMPretrainConfig) -> TrainResult:
    """Pre-train per ``cfg`` (module docstring); the model lands in ``out_dir/model``, the
    held-out metrics in ``TrainResult.final_metrics`` and ``model/metrics.json``. With
    ``stop_at`` the call ends after that step with a checkpoint and no model."""
    check_config(cfg)
    _check(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    latest = start_run(cfg, run_dir, resume=cfg.resume, error=PretrainSetupError)
    accelerator = build_accelerator(
        mixed_precision=cfg.mixed_precision, log_dir=run_dir / "logs", seed=cfg.seed
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if cfg.batch_size % world:
        raise PretrainSetupError(f"batch_size {cfg.batch_size} must divide by {world} processes")

    prompts = list(general_prompts(cfg.num_prompts, cfg.seed))
    render = dict(
        size=cfg.size, num_frames=cfg.num_frames, defect_rate=cfg.defect_rate,
        min_severity=cfg.min_severity, text_defect_rate=cfg.text_defect_rate,
    )  # fmt: skip
    show = cfg.progress and accelerator.is_main_process
    train = render_captioned(prompts, cfg.num_clips, seed=cfg.seed, progress_bar=show, **render)
    held = render_captioned(prompts, cfg.eval_clips, seed=cfg.seed + 1, **render)

    if cfg.init_model:
        processor, vlm = load_base_vlm(cfg.init_model)
    else:
        tokenizer = build_tiny_tokenizer(caption_corpus())
        contract = SamplingContract(None, cfg.num_frames, None, None)
        processor = make_processor(tokenizer, cfg.tiny, contract)
        vlm = build_tiny_backbone(tokenizer, cfg.tiny, seed=cfg.seed)
    align = cfg.alignment_weight > 0
    model = VLMPretrainModel(vlm, len(DEFECT_WORDS), len(TEXT_FAILURES) if align else 0)
    if cfg.caption_weight == 0:  # parts no loss reaches stay fixed (and DDP sees no unused ones)
        for name, p in model.vlm.named_parameters():
            p.requires_grad_(
                name.startswith("model.visual.") or (align and not name.startswith("lm_head."))
            )
    if cfg.freeze_vision_stem:
        freeze_vision_stem(model.vlm.model.visual)
    batcher = CaptionBatcher(processor, train)

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = lr_scheduler(optimizer, cfg.optim, cfg.steps)
    start = 0
    if latest is not None:
        start, _ = load_checkpoint(latest, model=model, optimizer=optimizer, scheduler=scheduler)
        accelerator.print(f"vidalign: resumed from {latest} at step {start}")
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    history: list[dict[str, float]] = []
    end = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
    bar = progress(cfg.steps, initial=start, desc="vlm pretrain") if cfg.progress else None
    for step in range(start, end):
        idx = batch_indices(
            len(train), cfg.batch_size, seed=cfg.seed, step=step, rank=rank, world_size=world
        )
        last = None
        if align:
            inputs, last = batcher.alignment_batch(list(idx))
        else:
            inputs, _ = batcher.batch(list(idx))
        inputs = {k: v.to(accelerator.device) for k, v in inputs.items()}
        target = torch.tensor([train[i].severities for i in idx], device=accelerator.device)
        caption_loss, predicted, aligned = model(
            inputs, caption_weight=cfg.caption_weight, last=last
        )
        loss = cfg.severity_weight * torch.nn.functional.mse_loss(predicted, target)
        if caption_loss is not None:
            loss = loss + cfg.caption_weight * caption_loss
        if aligned is not None:
            text_target = torch.tensor(
                [train[i].text_severities for i in idx], device=accelerator.device
            )
            mse = torch.nn.functional.mse_loss(aligned, text_target)
            loss = loss + cfg.alignment_weight * mse
        stop_if_not_finite(loss, step=step, run_dir=run_dir, model=model, optimizer=optimizer,
                           scheduler=scheduler)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(trainable, cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        done = step + 1
        value = accelerator.reduce(loss.detach(), reduction="mean").item()
        history.append({"loss": value})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}")
        if due(done, cfg.log_every, end):
            log_metrics(accelerator, run_dir, done, {"loss": value}, lr=scheduler.get_last_lr()[0])
        if due(done, cfg.save_every, end):
            save_checkpoint(
                run_dir, done, model=model, optimizer=optimizer, scheduler=scheduler,
                keep=cfg.keep, trainable_only=False,
            )  # fmt: skip
    if bar is not None:
        bar.close()

    if end < cfg.steps:
        accelerator.end_training()
        return TrainResult(run_dir, None, max(start, end), history)
    model_dir = run_dir / "model"
    metrics: dict[str, float] = {}
    if accelerator.is_main_process:
        net = accelerator.unwrap_model(model)
        final = net.vlm
        held_batches = CaptionBatcher(processor, held)
        if cfg.caption_weight > 0:
            metrics.update(caption_accuracy(final, held_batches))
        if cfg.severity_weight > 0:
            metrics.update(severity_correlation(net, held_batches))
        if align:
            metrics.update(alignment_correlation(net, held_batches))
        log_metrics(accelerator, run_dir, cfg.steps, metrics, split="val")
        metrics["steps"] = cfg.steps
        with atomic_dir(model_dir) as tmp:
            final.save_pretrained(tmp, safe_serialization=True)
            processor.save_pretrained(tmp)
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if k != "steps")
        print(f"vlm: {model_dir} (held out: {shown})")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(run_dir, model_dir, cfg.steps, history, metrics)
