"""Base generators that ship inside the package, each with a model card.

A shipped generator is an ordinary generator folder (``vidalign.policy.folder``) under
``vidalign/policy/builtin/<name>/`` with two more files:

* ``card.json``: the recipe (the exact command and config), seed, commit, training time, the
  held-out metrics of ``vidalign policy evaluate`` and a fingerprint (a few same-seed samples'
  mean pixel values and attribute reads) that a test recomputes, plus the SHA-256 of every
  file of the folder;
* ``MODEL_CARD.md``: the same, for people.

Pre-training a base generator that reads its world back takes hours on a CPU, so it is done
once by the project's recipe and shipped; the demo starts from it. ``write_card`` packages a
trained folder (``vidalign policy package``); ``builtin_generator`` finds a shipped one and
checks its files against its card.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from vidalign.policy.errors import GeneratorError

BUILTIN_ROOT = Path(__file__).parent / "builtin"
CARD_FILE = "card.json"
CARD_MD = "MODEL_CARD.md"
FINGERPRINT_PROMPTS = 4


def builtin_names() -> list[str]:
    """Names of the generators shipped in the package."""
    if not BUILTIN_ROOT.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_ROOT.iterdir() if (p / CARD_FILE).is_file())


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
        raise GeneratorError(f"{path}: cannot read the model card ({err})") from None
    for key in ("name", "recipe", "files", "metrics", "fingerprint"):
        if key not in card:
            raise GeneratorError(f"{path}: the model card has no {key!r} field")
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
        raise GeneratorError(
            f"{root}: files do not match {CARD_FILE}: missing {missing}, unlisted {extra}, "
            f"changed {changed}"
        )
    return card


def builtin_generator(name: str = "synth-base") -> Path:
    """Folder of the shipped generator ``name``, after checking its files against its card."""
    folder = BUILTIN_ROOT / name
    if not (folder / CARD_FILE).is_file():
        raise GeneratorError(
            f"no shipped generator named {name!r}; shipped: {builtin_names() or 'none'}"
        )
    verify_folder(folder)
    return folder


def fingerprint(adapter, prompts: list[str], *, seed: int = 0) -> dict[str, Any]:
    """Same-seed samples of ``prompts`` at the folder's sampling defaults, summarised.

    Returns the prompts, each clip's mean pixel value (0-255) and its attribute reads, which
    a test recomputes from the shipped weights.
    """
    from vidalign.policy.attributes import read_attributes
    from vidalign.policy.sampling import sample_seed, sample_videos

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
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    name: str,
    recipe: dict[str, Any],
    metrics: dict[str, Any],
    commit: str,
    notes: str = "",
) -> Path:
    """Copy a trained generator folder to ``out_dir`` with its ``card.json`` and model card.

    ``recipe`` holds at least ``command`` (what trained it); ``metrics`` is the
    ``results.json`` of ``vidalign policy evaluate --out``.
    """
    from vidalign.policy.evaluate import evaluation_prompts
    from vidalign.policy.folder import META_FILE, load_generator

    src, out = Path(model_dir), Path(out_dir)
    if out.exists():
        raise GeneratorError(f"{out}: already exists; remove it first")
    if "command" not in recipe:
        raise GeneratorError("recipe: give the 'command' that trained the model")
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(CARD_FILE, CARD_MD))
    meta = json.loads((out / META_FILE).read_text())
    adapter = load_generator(out)
    prompts = evaluation_prompts(FINGERPRINT_PROMPTS, "general", 999, _training(meta))
    card = {
        "name": name,
        "recipe": recipe,
        "commit": commit,
        "training_data": meta.get("data"),
        "metrics": metrics,
        "fingerprint": fingerprint(adapter, prompts),
        "notes": notes,
        "files": folder_hashes(out),
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (out / CARD_MD).write_text(card_markdown(card))
    return out


def _training(meta: dict[str, Any]) -> list[str]:
    from vidalign.policy.synth_data import training_prompts

    data = meta.get("data")
    return training_prompts(data["num_prompts"], data["seed"]) if data else []


def card_markdown(card: dict[str, Any]) -> str:
    """The model card for people, from ``card.json``."""
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
    if card.get("notes"):
        lines += ["", "## Notes", "", card["notes"]]
    lines += ["", "Files and their SHA-256 are listed in `card.json`; a test checks them.", ""]
    return "\n".join(lines)
