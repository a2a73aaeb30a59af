"""The demo report's answer: sentences computed from the win rates against the base model.

Each arm's win rate against the base model comes with a 95 % prompt-bootstrap interval. An
arm *beats* the base model when the whole interval lies above 50 %, *loses* when the whole
interval lies below, and is *inside the noise* otherwise. Two arms are told apart only when
their intervals do not overlap; two overlapping intervals are reported as such, never as a
difference.

``results["winrates"]`` maps ``"<prompt set> / <judge>"`` to method → ``WinRateResult``
as a dict: ``{"n_samples", "rates": {dim: {"win_rate", "low", "high", ...}}}``.
"""

from __future__ import annotations

from typing import Any, Literal

from vidalign.demo.arms import GOLD_PREFIX, method_label

Verdict = Literal["beats", "loses", "noise"]
Order = Literal["ahead", "behind", "overlap"]
JUDGES = ("oracle", "reward model")
"""The oracle first: it is the truth of the synthetic world, which no arm optimised."""


def pct(x: float | None) -> str:
    """A rate in % with one decimal; "–" for None or NaN (nothing was scored)."""
    return "–" if x is None or x != x else f"{100 * x:.1f}"


def ci(rate: dict[str, float]) -> str:
    """``"52.7% [44.5, 61.3]"``: the win rate and its 95 % interval."""
    return f"{pct(rate['win_rate'])}% [{pct(rate['low'])}, {pct(rate['high'])}]"


def verdict(rate: dict[str, float]) -> Verdict:
    """Where the 95 % interval lies against 50 % (a tie with the base model)."""
    if rate["low"] > 0.5:
        return "beats"
    if rate["high"] < 0.5:
        return "loses"
    return "noise"


def compare(a: dict[str, float], b: dict[str, float]) -> Order:
    """``a`` against ``b``: ahead or behind when the intervals are apart, else overlap."""
    if a["low"] > b["high"]:
        return "ahead"
    if a["high"] < b["low"]:
        return "behind"
    return "overlap"


def gold_twins(methods: list[str]) -> list[tuple[str, str]]:
    """``(learned arm, its gold-reward control)`` for every ``gold_<m>`` whose ``m`` ran."""
    return [(m[len(GOLD_PREFIX) :], m) for m in methods
            if m.startswith(GOLD_PREFIX) and m[len(GOLD_PREFIX) :] in methods]  # fmt: skip


def _rate(by_method: dict[str, Any], method: str, dim: str) -> dict[str, float] | None:
    return by_method.get(method, {}).get("rates", {}).get(dim)


def verdict_sentence(set_name: str, judge: str, by_method: dict[str, Any], dim: str) -> str:
    """Which arms beat the base model, which lose, which are inside the noise (arm labels
    hold commas, so the items are separated by semicolons)."""
    groups: dict[Verdict, list[str]] = {"beats": [], "loses": [], "noise": []}
    for m in by_method:
        r = _rate(by_method, m, dim)
        if r is not None:
            v = verdict(r)
            groups[v].append(method_label(m) if v == "noise" else f"{method_label(m)} {ci(r)}")
    n = next(iter(by_method.values()))["n_samples"] if by_method else 0
    what = "" if dim == "Overall" else f", {dim}"
    return (
        f"**{set_name.capitalize()} prompts ({n} pairs), by the {judge}{what}.** "
        f"Beat the base model: {'; '.join(groups['beats']) or 'none'}. "
        f"Lose: {'; '.join(groups['loses']) or 'none'}. "
        f"Inside the noise: {'; '.join(groups['noise']) or 'none'}."
    )


_APART = "the intervals overlap, so this run cannot tell them apart"


def gold_sentence(
    winrates: dict[str, dict[str, Any]], set_name: str, learned: str, gold: str, dim: str
) -> str | None:
    """A gold-reward control against its learned-reward twin, under each judge."""
    words = {"ahead": "the gold control ahead, the intervals apart",
             "behind": "the gold control behind, the intervals apart",
             "overlap": "the intervals overlap"}  # fmt: skip
    parts = []
    for judge in JUDGES:
        by_method = winrates.get(f"{set_name} / {judge}", {})
        a, b = _rate(by_method, gold, dim), _rate(by_method, learned, dim)
        if a is not None and b is not None:
            parts.append(f"by the {judge} {ci(a)} against {ci(b)}, {words[compare(a, b)]}")
    if not parts:
        return None
    name = method_label(learned)
    what = method_label(gold)[len(name) + 2 :]  # "oracle labels" or "oracle reward"
    return (
        f"**{name}, {what} vs learned reward** ({dim} win rate, {set_name} "
        "prompts): " + "; ".join(parts) + "."
    )


def beta_sentence(by_method: dict[str, Any], set_name: str) -> str | None:
    """The paper's constant-β against β_t comparison on text alignment, by the oracle."""
    dpo, dpo_t = _rate(by_method, "dpo", "TA"), _rate(by_method, "dpo_beta_t", "TA")
    if dpo is None or dpo_t is None:
        return None
    words = {
        "ahead": "constant β keeps text alignment better, as in the paper",
        "behind": "β_t keeps text alignment better, unlike the paper",
        "overlap": _APART,
    }
    return (
        f"**Constant β against β_t** (TA win rate, {set_name} prompts, by the oracle): "
        f"{ci(dpo)} against {ci(dpo_t)}, {words[compare(dpo, dpo_t)]}."
    )


def hacking_sentences(winrates: dict[str, dict[str, Any]], set_name: str, dim: str) -> list[str]:
    """Arms the reward model says beat the base model while the oracle says they lose."""
    rm, oracle = (
        winrates.get(f"{set_name} / reward model", {}),
        winrates.get(f"{set_name} / oracle", {}),
    )
    out = []
    for m in rm:
        a, b = _rate(rm, m, dim), _rate(oracle, m, dim)
        if a is not None and b is not None and verdict(a) == "beats" and verdict(b) == "loses":
            out.append(
                f"{method_label(m)} wins by the reward model ({ci(a)}) but loses by the oracle "
                f"({ci(b)}): reward hacking."
            )
    return out


def prompt_sets(winrates: dict[str, Any]) -> list[str]:
    """Prompt-set names in the order the results hold them (``"general / oracle"`` → general)."""
    return list(dict.fromkeys(k.split(" / ")[0] for k in winrates))


RULE = (
    "An arm beats the base model when its whole 95% interval lies above 50%, loses when the "
    "whole interval lies below, and is inside the noise otherwise; two arms are told apart "
    "only when their intervals do not overlap."
)
"""The reading rule the findings follow, stated once above them."""


def findings(results: dict[str, Any], main_set: str = "general", dim: str = "Overall") -> list[str]:
    """The report's lead: on ``main_set``, every judge's verdicts, each gold control against
    its twin, β against β_t and any reward hacking; on every other prompt set, the verdicts."""
    wr = results["winrates"]
    sets = prompt_sets(wr)
    out = []
    for s in [main_set, *(x for x in sets if x != main_set)] if main_set in sets else sets:
        for judge in JUDGES:
            if f"{s} / {judge}" in wr:
                out.append(verdict_sentence(s, judge, wr[f"{s} / {judge}"], dim))
        if s != main_set:
            continue
        methods = list(next((wr[f"{s} / {j}"] for j in JUDGES if f"{s} / {j}" in wr), {}))
        for learned, gold in gold_twins(methods):
            sentence = gold_sentence(wr, s, learned, gold, dim)
            if sentence:
                out.append(sentence)
        beta = beta_sentence(wr.get(f"{s} / oracle", {}), s)
        out += [beta] if beta else []
        out += hacking_sentences(wr, s, dim)
    return out
