"""``report.md`` and ``report.html`` of ``vidalign demo``.

The report leads with its answer: the findings, sentences computed from the win rates
(``vidalign.demo.findings``), then the chart of every arm's win rates under both judges
(``vidalign.demo.chart``; inline SVG in the HTML page, ``report_winrates.svg`` beside the
Markdown). Then the tables, built once as Markdown rows for both files: what every arm does
to the base model by the oracle (Overall win rate and the share of the base-to-clean-renderer
gap it closes), the data set (Table 1 analogue), reward accuracy (Table 2), the training
curves' summary, win rates against the base model under both judges (Table 4), oracle
metrics, the latent reward model's accuracy by noise level, each stage's time, the
reward-hacking plots, and, in the HTML page, a grid of same-seed videos. Findings are stated
as measured; where the miniature does not show what the paper found, the report says so.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

from vidalign.demo.arms import align_arms, method_label
from vidalign.demo.chart import winrate_svg
from vidalign.demo.config import DemoConfig
from vidalign.demo.findings import RULE, findings, pct
from vidalign.demo.stages import MARKER, RUN_LOG, fmt_duration, stage_summary

DIMS_ORDER = ("VQ", "MQ", "TA", "Overall")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def dataset_section(summary: dict[str, Any]) -> str:
    rows = [[g, era, str(n)] for g, (era, n) in sorted(summary["generators"].items())]
    gens = _md_table(["generator", "era", "pairs it is in"], rows)
    splits = ", ".join(f"{k} {v}" for k, v in summary["pairs"].items())
    ties = _md_table(
        ["", *summary["tie_rates"]],
        [
            ["tie rate", *(pct(v) for v in summary["tie_rates"].values())],
            *(
                [
                    [
                        "oracle ceiling (w/ ties / w/o ties)",
                        *(f"{pct(a)} / {pct(b)}" for a, b in summary["ceiling"].values()),
                    ]
                ]
                if summary.get("ceiling")
                else []
            ),
        ],
    )
    return f"Pairs per split: {splits}.\n\n{gens}\n\n{ties}"


def winrate_section(winrates: dict[str, dict[str, Any]]) -> str:
    parts = []
    for key, by_method in winrates.items():
        rows = []
        for m, res in by_method.items():
            cells = []
            for d in DIMS_ORDER:
                r = res["rates"].get(d)
                cells.append(
                    "–" if r is None
                    else f"{pct(r['win_rate'])} [{pct(r['low'])}, {pct(r['high'])}]"
                )  # fmt: skip
            rows.append([method_label(m), *cells])
        n = next(iter(by_method.values()))["n_samples"] if by_method else 0
        parts.append(
            f"**{key}** ({n} same-seed pairs; win rate % against the base model, ties count "
            f"half, 95% prompt-bootstrap interval)\n\n" + _md_table(["method", *DIMS_ORDER], rows)
        )
    return "\n\n".join(parts)


DIVERSITY_HINT = (
    "Diversity needs several samples of a prompt; this run drew one per prompt. Set "
    "`evaluation.samples_per_prompt: 2` (or more) in the recipe to measure it."
)


def metrics_section(metrics: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Oracle means per method and prompt set; the diversity column only when some method
    has a diversity (it needs two or more samples per prompt), else a line saying how."""
    has_div = any(v.get("diversity") is not None for by in metrics.values() for v in by.values())
    keys = ["VQ", "MQ", "TA", *(["diversity"] if has_div else [])]
    rows = []
    for m, by_set in metrics.items():
        for s, vals in by_set.items():
            cells = ["–" if vals.get(k) is None else f"{vals[k]:.3f}" for k in keys]
            rows.append([method_label(m), s, *cells])
    table = _md_table(["method", "prompts", *keys], rows)
    return table if has_div else f"{table}\n\n{DIVERSITY_HINT}"


def alignment_training_section(out: Path, arms: list[str]) -> str:
    rows = []
    for m in arms:
        s = stage_summary(out, f"align_{m}")

        def f(x: float | None) -> str:
            return "–" if x is None else f"{x:.3f}"

        rows.append(
            [method_label(m), str(s["steps"]), f"{f(s['loss_first'])} → {f(s['loss_last'])}",
             f"{f(s['acc_first'])} → {f(s['acc_last'])}",
             f"{f(s.get('reward_first'))} → {f(s.get('reward_last'))}"]
        )  # fmt: skip
    return _md_table(
        [
            "method",
            "steps",
            "loss (first → last fifth)",
            "implicit accuracy (DPO)",
            "reward (GRPO, first → last fifth)",
        ],
        rows,
    )


GUIDANCE_POINTER = (
    "Guidance weights and the noised-against-clean latent reward model (Table 6 and 7 "
    "analogues): `vidalign guidance ablate --config configs/guidance/synth_ablate.yaml "
    "generator=MODEL`, MODEL being this run's base generator (`model_dir` in "
    "`policy/STAGE.json`)."
)


LATENT_RM_DATA = {
    "dataset": "Trained on the preference data's train split (the annotators' labels). ",
    "pairs": "Trained on the base model's on-policy pairs labelled by the reward model. ",
}


def latent_rm_section(summary: dict[str, Any]) -> str:
    """Held-out accuracy (with / without ties, %) per noise bin, then the ablation's pointer."""
    rows = summary.get("accuracy") or []
    if not rows:
        return f"No held-out pairs were given to the latent reward model.\n\n{GUIDANCE_POINTER}"
    dims = list(rows[0]["with_ties"])
    header = ["t", "pairs", *dims]
    body = [
        [
            f"{r['t_lo']:.1f}" if r["t_lo"] == r["t_hi"] else f"{r['t_lo']:.1f}-{r['t_hi']:.1f}",
            str(r["count"]),
            *(f"{pct(r['with_ties'].get(d))} / {pct(r['without_ties'].get(d))}" for d in dims),
        ]
        for r in rows
    ]
    source = LATENT_RM_DATA.get(summary.get("data", "pairs"), "")
    return (
        f"{source}Accuracy in %, with ties / without ties, on held-out pairs noised to t.\n\n"
        + _md_table(header, body)
        + f"\n\n{GUIDANCE_POINTER}"
    )


GAP_DIMS = ("VQ", "MQ", "TA")


def gap_closed(arm: float, base: float, clean: float) -> float | None:
    """(arm − base) / (clean − base): 0 is the base model, 1 the clean renderer; None when
    the base model already matches the renderer (no gap to close)."""
    gap = clean - base
    return None if abs(gap) < 1e-9 else (arm - base) / gap


def headline_section(results: dict[str, Any], set_name: str = "general") -> str:
    """Per arm: the oracle's Overall win rate and the share of the gap to the clean renderer
    closed on the oracle's mean VQ, MQ and TA."""
    metrics = results["metrics"]
    wr = results["winrates"].get(f"{set_name} / oracle", {})
    base, clean = metrics["base"][set_name], metrics.get("clean", {}).get(set_name)
    rows = []
    for m, res in wr.items():
        r = res["rates"].get("Overall")
        cells = ["–" if r is None else f"{pct(r['win_rate'])} [{pct(r['low'])}, {pct(r['high'])}]"]
        for d in GAP_DIMS:
            g = None if clean is None else gap_closed(metrics[m][set_name][d], base[d], clean[d])
            cells.append("–" if g is None else f"{round(100 * g):+d}")
        rows.append([method_label(m), *cells])
    if clean is not None:
        ref = ", ".join(f"{d} {base[d]:.3f} → {clean[d]:.3f}" for d in GAP_DIMS)
        note = f"Oracle means, base model → clean renderer: {ref}."
    else:
        note = "No clean-renderer clips were scored, so no gap is given."
    n = next(iter(wr.values()))["n_samples"] if wr else 0
    return (
        f"{set_name.capitalize()} prompts, judged by the oracle ({n} same-seed pairs). Win rate % "
        "against the base model (ties count half, 95% prompt-bootstrap interval); gap closed: "
        "(arm − base) / (clean renderer − base) of the oracle's mean score, in %: 0 is the base "
        "model, 100 the clean renderer, below 0 worse than the base. Rows marked *oracle labels* "
        "are the gold-reward control: the same samples and recipe, labelled by the oracle "
        f"instead of the learned reward model.\n\n{note}\n\n"
        + _md_table(["method", "Overall win %", *(f"{d} gap closed %" for d in GAP_DIMS)], rows)
    )


def proxy_accuracy_section(summary: dict[str, Any]) -> str:
    """The learned reward model's accuracy on the on-policy pairs, against the oracle."""
    acc = summary.get("proxy_accuracy") or {}
    if not acc:
        return "The recipe trains no gold-label arm, so no on-policy accuracy was measured."
    dims = list(acc)
    first = acc[dims[0]]
    rows = [
        ["with ties", *(pct(acc[d]["with_ties"]) for d in dims)],
        ["without ties", *(pct(acc[d]["without_ties"]) for d in dims)],
        ["strict pairs (oracle)", *(str(acc[d]["strict_pairs"]) for d in dims)],
    ]
    return (
        f"The {first['pairs']} within-prompt pairs of the base model's on-policy samples, "
        "ordered by the learned reward model and labelled by the oracle: the proxy's accuracy "
        "where alignment uses it, in %.\n\n" + _md_table(["accuracy", *dims], rows)
    )


def setting_section(cfg: DemoConfig, out: Path) -> str:
    """The seed, where each base model came from (shipped in the package or pre-trained by
    this run), and where the full recipe is."""
    card = "its `MODEL_CARD.md` under `vidalign/builtin/`"
    vlm = (
        f"the base VLM is `{cfg.base_vlm}`, shipped in the package ({card})"
        if cfg.base_vlm
        else "the base VLM was pre-trained by this run's `vlm` stages"
        if cfg.vlm
        else "the reward model starts from a fresh tiny Qwen2-VL (no base VLM)"
    )
    generator = (
        f"the base generator is `{cfg.base_generator}`, shipped in the package ({card})"
        if cfg.base_generator
        else "the base generator was pre-trained by this run's `policy` stage"
    )
    rest = "everything else below" if cfg.base_vlm or cfg.base_generator else "everything below"
    weights = cfg.nrg.get("weights") or {}
    guided = [d for d, w in weights.items() if w] if weights else ["every dimension"]
    nrg = (
        f"Flow-NRG guides {', '.join(guided)} at w {cfg.nrg.get('scale', 0)}, with a latent "
        f"reward model trained on {LATENT_RM_DATA_SHORT[cfg.latent_rm_data]}."
    )
    return (
        f"Seed {cfg.seed}. {vlm[0].upper()}{vlm[1:]}; {generator}; {rest} was produced by "
        f"this run. {nrg} `{out / 'demo_config.json'}` holds the full recipe."
    )


LATENT_RM_DATA_SHORT = {
    "dataset": "the preference data's train split",
    "pairs": "the on-policy pairs labelled by the reward model",
}


def stage_times_section(out: Path, names: list[str], running: dict[str, float]) -> str:
    """Each stage's seconds from its ``STAGE.json`` with the total; whether this run ran or
    reused it, from ``stages_run.json`` when the run kept one. ``running``: stage → seconds
    so far, for a stage still at work (the evaluate stage writes the report)."""
    log_file = out / RUN_LOG
    log = json.loads(log_file.read_text())["stages"] if log_file.is_file() else None
    rows, total, ran = [], 0.0, 0.0
    for name in names:
        marker = out / name / MARKER
        saved = json.loads(marker.read_text()) if marker.is_file() else {}
        seconds = saved.get("seconds")
        status = (log or {}).get(name, "")
        if seconds is not None:
            cell = fmt_duration(seconds)
            note = (
                "reused from an earlier run (the time it took then)"
                if status == "reused"
                else "ran"
                if status
                else ""
            )
            shipped = saved.get("summary", {}).get("builtin")
            if shipped:  # a shipped model's stage trains nothing
                note = "; ".join(filter(None, [note, f"the shipped `{shipped}`, not trained"]))
        elif name in running:
            seconds, status = running[name], "running"
            cell, note = f"{fmt_duration(seconds)} so far", "running: it writes this report"
        else:
            rows.append([name, "–", "not finished"])
            continue
        total += seconds
        ran += seconds if status in ("ran", "running") else 0.0
        rows.append([name, cell, note])
    rows.append(["**total**", f"**{fmt_duration(total)}**", f"{fmt_duration(ran)} ran in this run"])
    if log is None:  # no record of what was reused: the third column would be empty
        rows = [r[:2] for r in rows]
        note = (
            f"This folder holds no `{RUN_LOG}`, so which stages this run reused is not known; "
            "each time is the one its stage took when it ran, in this run or an earlier one."
        )
    else:
        note = "A reused stage shows the time it took in the run that made it."
    return _md_table(["stage", "time", "this run"][: len(rows[0])], rows) + f"\n\n{note}"


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


CHART_FILE = "report_winrates.svg"
CHART_SET = "general"


def chart_caption(results: dict[str, Any], set_name: str = CHART_SET) -> str:
    n = results.get("prompts", {}).get(set_name)
    return (
        f"Every arm against the base model on the {n or 'evaluation'} {set_name} prompts, "
        "per dimension: the dark bar is the oracle's win rate, the light one the reward "
        "model's (the judge the arms optimised), the whisker its 95% interval; the dashed "
        "line is 50%, a tie with the base model, and a pale bar's interval crosses it. Each "
        "gold-reward control sits under its learned-reward twin."
    )


def write_report(
    cfg: DemoConfig,
    out: Path,
    folder: Path,
    results: dict[str, Any],
    stage_names: list[str],
    running: dict[str, float] | None = None,
) -> dict:
    """Write ``out/report.md``, ``out/report.html`` and the chart ``out/report_winrates.svg``;
    returns their paths. ``stage_names``: the run's stages in order, for the time table;
    ``running``: stage → seconds so far, for the stage writing it. A pure function of what
    the stages recorded under ``out`` and of ``results``."""
    ds = stage_summary(out, "dataset")
    rew = stage_summary(out, "reward_eval")
    hacking = sorted(out.glob("align_*/run/hacking.png"))
    svg = winrate_svg(results["winrates"], CHART_SET)
    svg_path = out / CHART_FILE
    svg_path.write_text(svg)
    sections: list[tuple[str, str]] = [
        ("Findings", "\n".join([RULE, "", *(f"- {f}" for f in findings(results, CHART_SET))])),
        (
            "Win rates at a glance",
            f"{chart_caption(results)}\n\n![Win rates against the base model]({CHART_FILE})",
        ),
        ("Setting", setting_section(cfg, out)),
        ("What each arm does to the base model, by the oracle", headline_section(results)),
        ("Preference data (Table 1 analogue)", dataset_section(ds)),
        ("Reward accuracy on the test split (Table 2 analogue)", rew["table"]),
        *(
            [
                (
                    "Reward accuracy on the on-policy pairs",
                    proxy_accuracy_section(stage_summary(out, "pairs_gold")),
                )
            ]
            if cfg.gold
            else []
        ),
        ("Alignment training", alignment_training_section(out, align_arms(cfg))),
        (
            "Win rates against the base model (Table 4 analogue)",
            winrate_section(results["winrates"]),
        ),
        ("Oracle metrics (VBench analogue)", metrics_section(results["metrics"])),
        (
            "Latent reward model for Flow-NRG: held-out accuracy by noise level",
            latent_rm_section(stage_summary(out, "latent_rm")),
        ),
        ("Time per stage", stage_times_section(out, stage_names, running or {})),
    ]
    md = ["# vidalign demo report", ""]
    for title, body in sections:
        md += [f"## {title}", "", body, ""]
    md += ["## Reward-hacking monitor", ""]
    md += [f"![{p.parent.parent.name}]({_rel(p, out)})" for p in hacking] or [
        "The alignment runs recorded no monitor plots."
    ]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n")
    html_path = out / "report.html"
    html_path.write_text(_html(sections, hacking, results, out, cfg, {CHART_FILE: svg}))
    (folder / "report_sections.json").write_text(json.dumps(dict(sections), indent=2))
    return {"md": md_path, "html": html_path, "chart": svg_path}


def _md_to_html(body: str, inline: dict[str, str] | None = None) -> str:
    """The few Markdown forms the sections use: tables, bullets, paragraphs, bold, and
    images on a line of their own; an image whose source is a key of ``inline`` is replaced
    by that markup (the chart's SVG)."""
    out, table, items = [], [], []

    def inline_text(text: str) -> str:
        text = html.escape(text)
        parts = text.split("**")
        return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))

    def flush() -> None:
        if table:
            rows = [r for r in table if not set(r) <= {"|", "-", ":", " "}]  # drop separators
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            out.append("<table><tr>" + "".join(f"<th>{inline_text(c)}</th>" for c in cells[0])
                       + "</tr>" + "".join("<tr>" + "".join(f"<td>{inline_text(c)}</td>" for c in r)
                                           + "</tr>" for r in cells[1:]) + "</table>")  # fmt: skip
            table.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline_text(t)}</li>" for t in items) + "</ul>")
            items.clear()

    for line in body.splitlines():
        if line.startswith("|"):
            if items:
                flush()
            table.append(line)
            continue
        if line.startswith("- "):
            if table:
                flush()
            items.append(line[2:])
            continue
        flush()
        image = re.fullmatch(r"!\[(.*)\]\((.+)\)", line.strip())
        if image:
            alt, src = image.groups()
            out.append((inline or {}).get(src) or
                       f"<img src='{html.escape(src)}' alt='{html.escape(alt)}'>")  # fmt: skip
        elif line.strip():
            out.append(f"<p>{inline_text(line)}</p>")
    flush()
    return "\n".join(out)


def _html(sections, hacking, results, out: Path, cfg: DemoConfig, inline: dict[str, str]) -> str:
    body = ["<h1>vidalign demo report</h1>"]
    for title, text in sections:
        body += [f"<h2>{html.escape(title)}</h2>", _md_to_html(text, inline)]
    body.append("<h2>Reward-hacking monitor</h2>")
    body += [
        f"<figure><img src='{_rel(p, out)}' width='720'><figcaption>"
        f"{html.escape(p.parent.parent.name)}</figcaption></figure>"
        for p in hacking
    ] or ["<p>The alignment runs recorded no monitor plots.</p>"]
    body.append("<h2>Same seed, side by side</h2>")
    body.append(_video_grid(results, out, cfg.evaluation.grid_prompts))
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        "video{width:128px;height:128px;image-rendering:pixelated}"
        "svg.winrates{max-width:100%;height:auto}li{margin:.3em 0}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>vidalign demo</title>"
        f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def _video_grid(results: dict[str, Any], out: Path, n: int) -> str:
    rows = []
    methods = list(results["samples"])
    head = "<tr><th>prompt</th>" + "".join(
        f"<th>{html.escape(method_label(m))}</th>" for m in methods
    ) + "</tr>"  # fmt: skip
    by_method = {}
    for m in methods:
        index = Path(results["samples"][m]["general"]) / "index.jsonl"
        by_method[m] = [json.loads(line) for line in index.read_text().splitlines() if line]
    for i, row in enumerate(by_method["base"][:n]):
        cells = [f"<td>{html.escape(row['prompt'])}</td>"]
        for m in methods:
            path = Path(results["samples"][m]["general"]) / by_method[m][i]["path"]
            cells.append(
                f"<td><video src='{_rel(path, out)}' autoplay loop muted playsinline></video></td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + head + "".join(rows) + "</table>"
