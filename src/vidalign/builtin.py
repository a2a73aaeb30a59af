"""Models that ship inside the package, each with a model card.

A shipped model is an ordinary model folder under ``vidalign/builtin/<kind>/<name>/``, of one
of two kinds:

* ``generator``: a generator folder (``vidalign.policy.folder``), the demo's base generator;
* ``vlm``: a base-VLM folder of ``vidalign reward pretrain`` (a Qwen2-VL with its processor,
  tokenizer and chat template), the demo's base for the reward model, plus the pre-training
  heads (``vidalign.synth.base_vlm.HEADS_FILE``) so its held-out metrics can be measured
  again;

with two more files, in one format for both kinds:

* ``card.json``: ``name``, ``kind``, the ``recipe`` (the command and, for a VLM, every
  stage's config and the seed), ``commit``, ``training_data``, held-out ``metrics``,
  ``notes`` and the SHA-256 of every file (``files``). A generator's held-out metrics come
  from ``vidalign policy evaluate``, which takes minutes, so its card adds a ``fingerprint``
  (a few same-seed samples' mean pixel values and attribute reads) that a test recomputes; a
  VLM's are measured by the pre-training's own evaluation in seconds
  (``vidalign.synth.base_vlm``), so a test recomputes them all;
* ``MODEL_CARD.md``: the same, for people.

Pre-training takes minutes to hours on a CPU, so it is done once by the project's recipe and
shipped; the demo starts from it. ``write_card`` packages a trained folder
(``vidalign package KIND``); ``builtin_model`` finds a shipped one and checks its files
against its card.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Literal

import yaml

from vidalign.errors import VidalignError

Kind = Literal["generator", "vlm"]
KINDS: tuple[str, ...] = ("generator", "vlm")
BUILTIN_ROOT = Path(__file__).parent / "builtin"
CARD_FILE = "card.json"
CARD_MD = "MODEL_CARD.md"
FINGERPRINT_PROMPTS = 4
METRIC_TOLERANCE = 0.005
"""Largest difference allowed between a shipped VLM's card metrics and the same metrics
measured again (tests/test_builtin.py)."""


class BuiltinError(VidalignError):
    """A shipped model or a folder to package does not fit its card or its kind."""


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise BuiltinError(f"unknown kind of shipped model {kind!r}; choose one of {KINDS}")


def builtin_names(kind: Kind) -> list[str]:
    """Names of the models of ``kind`` shipped in the package."""
    _check_kind(kind)
    root = BUILTIN_ROOT / kind
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CARD_FILE).is_file())


def builtin_model(kind: Kind, name: str) -> Path:
    """Folder of the shipped ``kind`` model ``name``, after checking its files against its card."""
    _check_kind(kind)
    folder = BUILTIN_ROOT / kind / name
    if not (folder / CARD_FILE).is_file():
        raise BuiltinError(
            f"no shipped {kind} named {name!r}; shipped: {builtin_names(kind) or 'none'}"
        )
    card = verify_folder(folder)
    if card["kind"] != kind:
        raise BuiltinError(f"{folder / CARD_FILE}: the card is of a {card['kind']}, not a {kind}")
    return folder


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` except the card files, by relative path."""
    return {
        str(p.relative_to(root)): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (CARD_FILE, CARD_MD)
    }


def read_card(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / CARD_FILE
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BuiltinError(f"{path}: cannot read the model card ({err})") from None
    for key in ("name", "kind", "recipe", "files", "metrics"):
        if key not in card:
            raise BuiltinError(f"{path}: the model card has no {key!r} field")
    if card["kind"] not in KINDS:
        raise BuiltinError(f"{path}: kind {card['kind']!r} is not one of {KINDS}")
    if card["kind"] == "generator" and "fingerprint" not in card:
        raise BuiltinError(f"{path}: the generator's card has no 'fingerprint' field")
    return card


def verify_folder(folder: str | Path) -> dict[str, Any]:
    """Check every file of a packaged folder against its card; return the card."""
    root = Path(folder)
    card = read_card(root)
    have = folder_hashes(root)
    want = card["files"]
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    if missing or extra or changed:
        raise BuiltinError(
            f"{root}: files do not match {CARD_FILE}: missing {missing}, unlisted {extra}, "
            f"changed {changed}"
        )
    return card


def fingerprint(adapter, prompts: list[str], *, seed: int = 0) -> dict[str, Any]:
    """Same-seed samples of ``prompts`` at a generator's sampling defaults, summarised.

    Returns the prompts, each clip's mean pixel value (0-255) and its attribute reads, which
    a test recomputes from the shipped weights.
    """
    from vidalign.policy.sampling import sample_seed, sample_videos
    from vidalign.synth.attributes import read_attributes

    seeds = [sample_seed(seed, i) for i in range(len(prompts))]
    clips = sample_videos(adapter, prompts, seeds, batch_size=len(prompts))
    reads = []
    for clip in clips:
        got = read_attributes(clip)
        reads.append({"colour": got.colour, "shape": got.shape, "direction": got.direction})
    return {
        "prompts": list(prompts),
        "seed": seed,
        "mean_pixel": [round(float(c.float().mean()), 3) for c in clips],
        "reads": reads,
    }


def write_card(
    kind: Kind,
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    name: str,
    recipe: dict[str, Any],
    commit: str,
    metrics: dict[str, Any] | None = None,
    notes: str = "",
) -> Path:
    """Copy a trained model folder to ``out_dir`` with its ``card.json`` and model card.

    ``recipe`` holds at least ``command`` (what trained it). A generator needs ``metrics``,
    the ``results.json`` of ``vidalign policy evaluate --out``. A VLM is a
    ``pretrain_vlm`` run's ``model`` folder: its stages' configs are read from the run
    folders (``config.yaml``, following ``init_model`` back), its heads from the run's last
    checkpoint, and its metrics are measured here on the last stage's held-out clips.
    """
    _check_kind(kind)
    src, out = Path(model_dir), Path(out_dir)
    if out.exists():
        raise BuiltinError(f"{out}: already exists; remove it first")
    if "command" not in recipe:
        raise BuiltinError("recipe: give the 'command' that trained the model")
    if (kind == "generator") != (metrics is not None):
        raise BuiltinError(
            "a generator's card takes the metrics of `vidalign policy evaluate`"
            if kind == "generator"
            else "a VLM's card measures its metrics itself; give none"
        )
    if not src.is_dir():
        raise BuiltinError(f"{src}: no such model folder")
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(CARD_FILE, CARD_MD))
    try:
        fields = (
            _generator_fields(out, metrics or {}) if kind == "generator" else _vlm_fields(src, out)
        )
    except BaseException:
        shutil.rmtree(out)
        raise
    card = {
        "name": name,
        "kind": kind,
        "recipe": {**recipe, **fields.pop("recipe", {})},
        "commit": commit,
        **fields,
        "notes": notes,
    }
    card["files"] = folder_hashes(out)
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (out / CARD_MD).write_text(card_markdown(card))
    return out


def _generator_fields(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    from vidalign.policy.folder import META_FILE, load_generator
    from vidalign.synth.generator_data import training_prompts
    from vidalign.synth.generator_eval import evaluation_prompts

    meta = json.loads((out / META_FILE).read_text())
    data = meta.get("data")
    trained = training_prompts(data["num_prompts"], data["seed"]) if data else []
    prompts = evaluation_prompts(FINGERPRINT_PROMPTS, "general", 999, trained)
    return {
        "training_data": data,
        "metrics": metrics,
        "fingerprint": fingerprint(load_generator(out), prompts),
    }


_RENDER_KEYS = ("num_clips", "num_prompts", "seed", "size", "num_frames", "defect_rate",
                "min_severity", "text_defect_rate")  # fmt: skip


def _vlm_stages(model_dir: Path) -> list[dict[str, Any]]:
    """``{"run", "config", "metrics"}`` of every pre-training stage that led to ``model_dir``
    (``<run>/model``), first stage first."""
    stages: list[dict[str, Any]] = []
    model: Path | None = model_dir
    while model is not None:
        run = model.parent
        try:
            config = yaml.safe_load((run / "config.yaml").read_text())
            recorded = json.loads((model / "metrics.json").read_text())
        except (OSError, yaml.YAMLError, json.JSONDecodeError) as err:
            raise BuiltinError(f"{model}: not a `vidalign reward pretrain` model ({err})") from None
        stages.insert(0, {"run": str(run), "config": config, "metrics": recorded})
        model = Path(config["init_model"]) if config.get("init_model") else None
    return stages


def _vlm_fields(src: Path, out: Path) -> dict[str, Any]:
    from vidalign.config import config_from_dict
    from vidalign.synth.base_vlm import HEADS_FILE, export_heads, held_out_metrics, held_out_of
    from vidalign.synth.vlm_pretrain import VLMPretrainConfig

    stages = _vlm_stages(src)
    last = stages[-1]["config"]
    checkpoint = Path(stages[-1]["run"]) / "checkpoints" / f"step-{last['steps']}"
    export_heads(src, checkpoint / "model.safetensors", out / HEADS_FILE)
    held = held_out_of(config_from_dict(VLMPretrainConfig, last, where=f"{src.parent}/config.yaml"))
    return {
        "recipe": {
            "seed": last["seed"],
            "stages": [{"run": s["run"], "config": s["config"]} for s in stages],
        },
        "training_data": [
            {"run": s["run"], **{k: s["config"][k] for k in _RENDER_KEYS}} for s in stages
        ],
        "metrics": {
            "held_out": held.to_dict(),
            "measured": held_out_metrics(out, held),
            "recorded": [{"run": s["run"], "metrics": s["metrics"]} for s in stages],
        },
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The model card for people, from ``card.json``."""
    body = _generator_markdown(card) if card["kind"] == "generator" else _vlm_markdown(card)
    if card.get("notes"):
        body += ["", "## Notes", "", card["notes"]]
    body += ["", "Files and their SHA-256 are listed in `card.json`; a test checks them.", ""]
    return "\n".join(body)


def _generator_markdown(card: dict[str, Any]) -> list[str]:
    m = card["metrics"]
    lines = [
        f"# {card['name']}: base generator of the synthetic world",
        "",
        "A pixel-space `WanTransformer3DModel` (8 frames of 32×32 at 8 fps) with a tiny",
        "`T5EncoderModel`, pre-trained by vidalign's own recipe on the synthetic world's",
        "deliberate mix of good and bad clips. It is what the demo's alignment starts from.",
        "",
        "## Recipe",
        "",
        f"- command: `{card['recipe']['command']}`",
        *[f"- {k}: {v}" for k, v in card["recipe"].items() if k != "command"],
        f"- commit: {card['commit']}",
        f"- training data: {card['training_data']}",
        "",
        "## Held-out metrics",
        "",
        f"`vidalign policy evaluate` on {m.get('num_prompts')} {m.get('prompt_set')} prompts, "
        "none of them trained on (oracle means; attribute accuracies on one-object prompts):",
        "",
    ]
    sources = m.get("sources", {})
    if sources:
        first = next(iter(sources.values()))
        dims, attrs = list(first["oracle"]), list(first["accuracy"])
        lines.append("| source | " + " | ".join([*dims, *attrs]) + " |")
        lines.append("|---" * (1 + len(dims) + len(attrs)) + "|")
        for src, s in sources.items():
            cells = [f"{s['oracle'][d]:.3f}" for d in dims]
            cells += [f"{s['accuracy'][a]:.2f}" for a in attrs]
            lines.append(f"| {src} | " + " | ".join(cells) + " |")
        chance = m.get("chance", {})
        lines.append(
            "| chance | " + " | ".join(["" for _ in dims] + [f"{chance.get(a, '')}" for a in attrs])
            + " |"
        )  # fmt: skip
    for st in m.get("steering", []):
        lines.append("")
        lines.append(
            f"Word steering, {st['attribute']}: {st['followed']:.2f} of {st['num_samples']} "
            f"samples read back as asked (chance {st['chance']:.2f})."
        )
    return lines


def _stage_label(run: str) -> str:
    """``…/vlm/run`` → ``vlm``: the demo's stage folder, else the run folder's name."""
    path = Path(run)
    return path.parent.name if path.name == "run" else path.name


_QUIET_KEYS = ("out_dir", "progress", "resume", "stop_at", "threads", "log_every", "keep",
               "output_dir", "keep_checkpoints")  # fmt: skip
"""Run settings a card leaves out of a stage's line; the last two are their names in the
configs of runs made before ``vidalign.training_config`` (the shipped synth-vlm's)."""


def _vlm_markdown(card: dict[str, Any]) -> list[str]:
    recipe, m = card["recipe"], card["metrics"]
    held, measured = m["held_out"], m["measured"]
    lines = [
        f"# {card['name']}: base VLM of the synthetic world",
        "",
        "A tiny Qwen2-VL (`Qwen2VLForConditionalGeneration` with its processor, tokenizer and",
        "chat template) pre-trained by vidalign's own two-stage recipe on freshly rendered",
        "clips of the synthetic world, with no preference labels, annotators or oracle scores:",
        "captions and defect severities, then checking a description against a clip. It is",
        "what the demo's reward model starts from. `pretrain_heads.safetensors` holds the",
        "pre-training's severity and alignment heads (not used by the reward model), kept so",
        "that the metrics below can be measured again.",
        "",
        "## Recipe",
        "",
        f"- command: `{recipe['command']}`",
    ]
    for stage in recipe["stages"]:
        cfg = dict(stage["config"])
        if cfg.get("init_model"):
            cfg.pop("tiny", None)  # unused when a stage starts from a model
            cfg["init_model"] = "the previous stage's model"
        shown = ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in _QUIET_KEYS)
        lines.append(f"- stage `{_stage_label(stage['run'])}` (`{stage['run']}`): {shown}")
    lines += [
        *[f"- {k}: {v}" for k, v in recipe.items() if k not in ("command", "stages")],
        f"- commit: {card['commit']}",
        "- training data: clips rendered afresh by `render_captioned`, clip i showing prompt "
        "i mod num_prompts of `general_prompts(num_prompts, seed)`:",
        *[
            f"  - `{_stage_label(d['run'])}`: "
            + ", ".join(f"{k}={v}" for k, v in d.items() if k != "run")
            for d in card["training_data"]
        ],
        "",
        "## Held-out metrics",
        "",
        f"Measured on this folder by `vidalign.synth.base_vlm.held_out_metrics` (the "
        f"pre-training's own `caption_accuracy`, `severity_correlation` and "
        f"`alignment_correlation`) on the last stage's held-out set: {held['clips']} clips "
        f"rendered with seed {held['seed']} from `general_prompts({held['num_prompts']}, "
        f"{held['prompt_seed']})`, the training prompts (new clips, not new prompts), "
        f"defect_rate {held['defect_rate']}, min_severity {held['min_severity']}: the "
        f"correlations on the clips of that draw with text_defect_rate "
        f"{held['text_defect_rate']}, caption accuracy on the clips it gives without text "
        "failures (the first stage's held-out set). Accuracy is teacher-forced next-token "
        "accuracy; a correlation is Pearson's between predicted and true severity. "
        f"`tests/test_builtin.py` measures them again and fails beyond ±{METRIC_TOLERANCE}.",
        "",
    ]
    recorded = m.get("recorded", [])
    heads = [
        "metric",
        "measured now",
        *(f"recorded by `{_stage_label(r['run'])}`" for r in recorded),
    ]
    lines.append("| " + " | ".join(heads) + " |")
    lines.append("|---" * len(heads) + "|")
    for key, value in measured.items():
        cells = [f"{r['metrics'][key]:.3f}" if key in r["metrics"] else "–" for r in recorded]
        lines.append(f"| {key} | {value:.3f} | " + " | ".join(cells) + " |")
    return lines
