"""Summary counts of a list of pairs: label rates per dimension, ties, models."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from vidalign import DEFAULT_DIMS
from vidalign.data.columns import MODEL_A, MODEL_B
from vidalign.data.pair import INT_TO_LABEL, OVERALL, PreferencePair


def pair_stats(pairs: Sequence[PreferencePair]) -> dict[str, Any]:
    """Counts that describe a pair set.

    Returns:
        A dict with
        ``pairs`` (int), ``prompts`` (distinct prompts), ``videos`` (distinct videos),
        ``labels``: {dim: {"A": n, "B": n, "same": n, "total": n, "tie_rate": same / total}}
        for every label (default dimensions first, ``Overall`` last), and, when pairs
        carry ``A_model`` / ``B_model`` meta, ``models``: {model: {"pairs": n,
        "as_A": n, "as_B": n}} sorted by name.

    Example:
        Two pairs with VQ labels +1 and 0: ``labels["VQ"] == {"A": 1, "B": 0,
        "same": 1, "total": 2, "tie_rate": 0.5}``.
    """
    names = list(dict.fromkeys(d for p in pairs for d in p.labels))
    ordered = [d for d in DEFAULT_DIMS if d in names]
    ordered += [d for d in names if d not in ordered and d != OVERALL]
    ordered += [OVERALL] if OVERALL in names else []
    labels: dict[str, dict[str, float]] = {}
    for dim in ordered:
        counts = Counter(INT_TO_LABEL[p.labels[dim]] for p in pairs if dim in p.labels)
        total = sum(counts.values())
        labels[dim] = {k: counts.get(k, 0) for k in ("A", "B", "same")}
        labels[dim] |= {"total": total, "tie_rate": counts.get("same", 0) / total if total else 0.0}
    out: dict[str, Any] = {
        "pairs": len(pairs),
        "prompts": len({p.prompt for p in pairs}),
        "videos": len({v for p in pairs for v in (p.path_a, p.path_b)}),
        "labels": labels,
    }
    as_a = Counter(p.meta[MODEL_A] for p in pairs if MODEL_A in p.meta)
    as_b = Counter(p.meta[MODEL_B] for p in pairs if MODEL_B in p.meta)
    if as_a or as_b:
        out["models"] = {
            m: {"pairs": as_a[m] + as_b[m], "as_A": as_a[m], "as_B": as_b[m]}
            for m in sorted(set(as_a) | set(as_b))
        }
    return out
