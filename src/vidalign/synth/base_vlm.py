"""A saved base VLM measured again: its pre-training heads and its held-out metrics.

``pretrain_vlm`` drops its two linear heads (defect severities from the vision tower, text
failures from the language model) when it saves the model, so the correlations of its
``metrics.json`` cannot be recomputed from the model folder alone. A folder that keeps
them in ``pretrain_heads.safetensors`` (a shipped base VLM, ``vidalign.builtin``) can be:
``export_heads`` takes them from the run's last checkpoint, after checking that the
checkpoint's VLM is the folder's, and ``held_out_metrics`` reruns the pre-training's own
evaluation (``caption_accuracy``, ``severity_correlation``, ``alignment_correlation``) on a
fixed set of rendered clips (``HeldOutClips``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from vidalign.synth.prompts import general_prompts
from vidalign.synth.vlm_pretrain import (
    DEFECT_WORDS,
    CaptionBatcher,
    CaptionedClip,
    PretrainSetupError,
    VLMPretrainConfig,
    VLMPretrainModel,
    alignment_correlation,
    caption_accuracy,
    load_base_vlm,
    render_captioned,
    severity_correlation,
)
from vidalign.weights import load_safetensors

HEADS_FILE = "pretrain_heads.safetensors"
"""The pre-training heads kept beside a base VLM: ``head.*`` and, after the alignment
objective, ``align_head.*`` (the parameter names of ``VLMPretrainModel``)."""

_HEAD_PREFIXES = ("head.", "align_head.")


@dataclass(frozen=True)
class HeldOutClips:
    """A fixed set of clips: clip i shows ``general_prompts(num_prompts, prompt_seed)[i %
    num_prompts]``, rendered by ``render_captioned`` with ``seed``. A pre-training run's own
    held-out set is ``held_out_of(cfg)``: new clips of its training prompts."""

    clips: int
    seed: int
    num_prompts: int
    prompt_seed: int
    size: int
    num_frames: int
    defect_rate: float
    min_severity: float
    text_defect_rate: float

    def render(self, *, text_failures: bool) -> list[CaptionedClip]:
        """The clips, with the text failures of ``text_defect_rate`` or without any."""
        return render_captioned(
            list(general_prompts(self.num_prompts, self.prompt_seed)),
            self.clips,
            seed=self.seed,
            size=self.size,
            num_frames=self.num_frames,
            defect_rate=self.defect_rate,
            min_severity=self.min_severity,
            text_defect_rate=self.text_defect_rate if text_failures else 0.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def held_out_of(cfg: VLMPretrainConfig) -> HeldOutClips:
    """The held-out clips of ``pretrain_vlm(cfg)``'s ``metrics.json``."""
    return HeldOutClips(
        clips=cfg.eval_clips, seed=cfg.seed + 1, num_prompts=cfg.num_prompts,
        prompt_seed=cfg.seed, size=cfg.size, num_frames=cfg.num_frames,
        defect_rate=cfg.defect_rate, min_severity=cfg.min_severity,
        text_defect_rate=cfg.text_defect_rate,
    )  # fmt: skip


def export_heads(model_dir: str | Path, checkpoint: str | Path, out_file: str | Path) -> Path:
    """Write the pre-training heads of ``checkpoint`` (a ``model.safetensors`` of
    ``pretrain_vlm``'s checkpoints) to ``out_file``, after checking that every VLM tensor of
    the checkpoint equals the one saved in ``model_dir``."""
    checkpoint = Path(checkpoint)
    state = load_safetensors(checkpoint)
    heads = {k: v.contiguous() for k, v in state.items() if k.startswith(_HEAD_PREFIXES)}
    if "head.weight" not in heads:
        raise PretrainSetupError(f"{checkpoint}: holds no pre-training heads (no head.weight)")
    _, vlm = load_base_vlm(model_dir)
    for key, value in vlm.state_dict().items():
        saved = state.get(f"vlm.{key}")
        if saved is None or not torch.equal(saved, value):
            raise PretrainSetupError(
                f"{checkpoint}: its VLM is not the one saved in {model_dir} ({key} differs); "
                "give the checkpoint of the step the model was saved at"
            )
    save_file(heads, str(out_file))
    return Path(out_file)


def _with_heads(folder: Path, vlm: torch.nn.Module) -> VLMPretrainModel:
    heads = load_safetensors(folder / HEADS_FILE)
    text_modes = heads["align_head.weight"].shape[0] if "align_head.weight" in heads else 0
    net = VLMPretrainModel(vlm, len(DEFECT_WORDS), text_modes)
    try:
        net.head.load_state_dict({k[5:]: v for k, v in heads.items() if k.startswith("head.")})
        if net.align_head is not None:
            net.align_head.load_state_dict(
                {k[11:]: v for k, v in heads.items() if k.startswith("align_head.")}
            )
    except RuntimeError as err:
        raise PretrainSetupError(
            f"{folder / HEADS_FILE}: heads do not fit the VLM ({err})"
        ) from None
    return net


@torch.no_grad()
def held_out_metrics(folder: str | Path, held: HeldOutClips) -> dict[str, float]:
    """The pre-training's held-out metrics of the base VLM in ``folder`` on ``held``.

    Caption accuracy is measured on the clips without text failures (a clip with one does
    not show its caption); the severity correlations, and the text-failure correlations
    when ``folder`` keeps an alignment head, on the clips with them. The correlations need
    ``folder / HEADS_FILE``; without it only caption accuracy is measured.
    """
    folder = Path(folder)
    processor, vlm = load_base_vlm(folder)
    plain = held.render(text_failures=False)
    metrics = caption_accuracy(vlm, CaptionBatcher(processor, plain))
    if not (folder / HEADS_FILE).is_file():
        return metrics
    net = _with_heads(folder, vlm)
    clips = held.render(text_failures=True) if held.text_defect_rate > 0 else plain
    batches = CaptionBatcher(processor, clips)
    metrics.update(severity_correlation(net, batches))
    if net.align_head is not None:
        metrics.update(alignment_correlation(net, batches))
    return metrics
