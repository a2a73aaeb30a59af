"""Reward-accuracy reports: ``results.json``, ``report.md`` and ``tie_separation.png``.

The Markdown table is shaped like the paper's Table 2 (REFERENCE.md §3): one row per
scorer (Random, the oracle ceiling when there is one, then the reward models), one column
for Overall and each dimension, cells "with ties / without ties" in percent. A reward
model is always shown beside the baselines scored on the same pairs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vidalign.eval.reward_eval import DimResult, RewardEvalResult
from vidalign.eval.scorer import OVERALL


def _columns(results: Mapping[str, RewardEvalResult]) -> list[str]:
    cols: list[str] = [OVERALL]
    for r in results.values():
        cols += [d for d in r.dims if d not in cols]
    return cols


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def _cell(c: DimResult | None) -> str:
    if c is None or c.n_pairs == 0:
        return "n/a"
    return f"{_pct(c.acc_with_ties)} / {_pct(c.acc_without_ties)}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def accuracy_table(results: Mapping[str, RewardEvalResult]) -> str:
    """Markdown table: rows = scorers, columns = Overall + dims, cells "w/ ties / w/o ties" %."""
    cols = _columns(results)
    lines = [_row(["Model", *cols]), _row(["---"] * (len(cols) + 1))]
    for name, r in results.items():
        lines.append(_row([name, *(_cell(r.columns.get(c)) for c in cols)]))
    return "\n".join(lines)


def _label_table(results: Mapping[str, RewardEvalResult]) -> str:
    cols = _columns(results)
    first = next(iter(results.values()))
    lines = [_row(["", *cols]), _row(["---"] * (len(cols) + 1))]
    n, t = [], []
    for c in cols:
        d = first.columns.get(c)
        n.append(str(d.n_pairs) if d else "0")
        t.append(f"{d.n_ties} ({_pct(d.n_ties / d.n_pairs)}%)" if d and d.n_pairs else "n/a")
    lines += [_row(["labelled comparisons", *n]), _row(["human ties", *t])]
    return "\n".join(lines)


def _margin_table(results: Mapping[str, RewardEvalResult]) -> str:
    cols = _columns(results)
    lines = [
        _row(
            ["Model", "Column", "ε", "mean abs(Δ) on ties", "mean Δ on strict (s_pref − s_other)"]
        ),
        _row(["---"] * 5),
    ]
    for name, r in results.items():
        for c in cols:
            d = r.columns.get(c)
            if d is None or d.n_pairs == 0:
                continue
            s = d.summary()["margins"]
            tie = s["tie"]["mean_abs"]
            strict = s["strict"]["mean"]
            lines.append(
                _row(
                    [
                        name,
                        c,
                        f"{d.epsilon:.4g}",
                        "n/a" if tie is None else f"{tie:.4g}",
                        "n/a" if strict is None else f"{strict:.4g}",
                    ]
                )
            )
    return "\n".join(lines)


def render_markdown(results: Mapping[str, RewardEvalResult], meta: Mapping[str, Any]) -> str:
    """The text of ``report.md``; ``meta`` may hold data, n_pairs, n_skipped, notes."""
    first = next(iter(results.values()))
    weights = ", ".join(f"{d}={w:g}" for d, w in first.weights.items())
    if first.overall_labels == "Overall":
        against = "the human Overall label"
    else:
        against = (
            "pooled dimension labels (the data has no Overall label: each pair counts once "
            "per labelled dimension, with that dimension's label)"
        )
    out = ["# Reward accuracy", ""]
    if "data" in meta:
        out.append(f"Data: `{meta['data']}`, {first.n_pairs} pairs evaluated.")
    if meta.get("n_skipped"):
        out.append(
            f"Skipped: {meta['n_skipped']} pair(s) whose videos failed to score "
            f"(see `{meta.get('skipped_file', 'skipped.jsonl')}`); every row uses the same pairs."
        )
    out += [
        f"Overall: weighted sum of normalised rewards ({weights}), scored against {against}.",
        "",
        "Accuracy in %, **with ties / without ties** (REFERENCE.md §3; with ties = "
        "tie-calibrated accuracy, Deutsch et al. 2023, maximised over the threshold ε).",
        "",
        accuracy_table(results),
        "",
        "## Labels",
        "",
        _label_table(results),
        "",
        "## Tie threshold and margins",
        "",
        "Δ = s_A − s_B on human ties; s_preferred − s_other on strict pairs. "
        "See `tie_separation.png`.",
        "",
        _margin_table(results),
        "",
    ]
    notes = list(meta.get("notes", []))
    if notes:
        out += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    return "\n".join(out)


def plot_tie_separation(results: Mapping[str, RewardEvalResult], path: str | Path) -> Path:
    """Densities of reward differences, tie pairs vs strict pairs, per scorer and column.

    Strict pairs are oriented by the human label (s_preferred − s_other), so a good
    scorer puts them right of 0 and the ties in a narrow band around 0.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = _columns(results)
    rows = list(results)
    fig = Figure(figsize=(3.2 * len(cols), 2.4 * len(rows)))
    FigureCanvasAgg(fig)  # Agg canvas, no pyplot state: safe in scripts and notebooks
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    for i, name in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i][j]
            d = results[name].columns.get(c)
            ax.set_title(f"{name}: {c}", fontsize=9)
            if d is None or d.n_pairs == 0:
                ax.text(0.5, 0.5, "no labels", ha="center", va="center", transform=ax.transAxes)
                continue
            both = np.concatenate([d.tie_margins, d.strict_margins])
            lo, hi = float(both.min()), float(both.max())
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            bins = np.linspace(lo, hi, 41)
            if d.strict_margins.size:
                ax.hist(
                    d.strict_margins,
                    bins=bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.5,
                    label="strict",
                )
            if d.tie_margins.size:
                ax.hist(
                    d.tie_margins,
                    bins=bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.5,
                    label="tie",
                )
            ax.axvline(0.0, color="k", lw=0.6)
            ax.tick_params(labelsize=7)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.supxlabel("reward difference (strict: s_preferred − s_other; tie: s_A − s_B)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def write_report(
    out_dir: str | Path,
    results: Mapping[str, RewardEvalResult],
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` and ``tie_separation.png`` under ``out_dir``.

    Args:
        out_dir: created if missing.
        results: row name → result, in table order (Random, Oracle, models).
        meta: run facts kept in results.json and quoted in the report (data, n_skipped,
            skipped_file, notes, ...); must be JSON-serialisable.

    Returns:
        {"results": path, "report": path, "plot": path}.
    """
    if not results:
        raise ValueError("write_report needs at least one scorer's results")
    meta = dict(meta or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": out / "results.json",
        "report": out / "report.md",
        "plot": out / "tie_separation.png",
    }
    doc = {"meta": meta, "scorers": {k: r.to_dict() for k, r in results.items()}}
    paths["results"].write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    paths["report"].write_text(render_markdown(results, meta), encoding="utf-8")
    plot_tie_separation(results, paths["plot"])
    return paths
