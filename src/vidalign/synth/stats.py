"""``vidalign synth stats``: a Table-1-like summary of a synthetic dataset folder.

Pairs per generator and per era, tie rate per dimension, and the annotator ceiling: the
accuracy, with and without ties (REFERENCE.md §3), of the noise-free oracle (the MOS
difference ``MOS_A - MOS_B``) against the simulated annotators' labels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from vidalign import DEFAULT_DIMS
from vidalign.data import OVERALL, PairDataError, PreferencePair, load_pairs
from vidalign.errors import VidalignError
from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties
from vidalign.synth.dataset import SPLITS
from vidalign.synth.profiles import PROFILES


@dataclass
class DatasetStats:
    """Counts and rates of one dataset folder.

    Attributes:
        pairs: split -> number of pairs.
        generators: generator -> (era, pairs it appears in).
        eras: "older-older" / "older-modern" / "modern-modern" -> pairs.
        tie_rates: dimension -> share of tie labels over all splits.
        ceiling: dimension -> (accuracy with ties, accuracy without ties) of the oracle.
    """

    pairs: dict[str, int] = field(default_factory=dict)
    generators: dict[str, tuple[str, int]] = field(default_factory=dict)
    eras: dict[str, int] = field(default_factory=dict)
    tie_rates: dict[str, float] = field(default_factory=dict)
    ceiling: dict[str, tuple[float, float]] = field(default_factory=dict)


def _era(model: str) -> str:
    return PROFILES[model].era if model in PROFILES else "unknown"


def dataset_stats(folder: str | Path) -> DatasetStats:
    """Summarise the ``{train,val,test}.csv`` files of a dataset folder.

    Raises:
        VidalignError: the folder has no split CSV, or a CSV lacks the MOS or model columns.
    """
    folder = Path(folder)
    loaded: dict[str, list[PreferencePair]] = {}
    for split in SPLITS:
        path = folder / f"{split}.csv"
        if path.is_file():
            try:
                loaded[split] = load_pairs(path)
            except PairDataError as err:
                raise VidalignError(f"{path}: {err}") from err
    if not loaded:
        raise VidalignError(
            f"{folder}: no train.csv, val.csv or test.csv; is it a synth dataset folder?"
        )
    pairs = [p for ps in loaded.values() for p in ps]
    stats = DatasetStats(pairs={s: len(ps) for s, ps in loaded.items()})
    appearances: Counter[str] = Counter()
    eras: Counter[str] = Counter()
    for i, p in enumerate(pairs):
        a, b = p.meta.get("A_model"), p.meta.get("B_model")
        if a is None or b is None:
            raise VidalignError(f"{folder}: pair {i} has no A_model / B_model column")
        appearances.update({a, b})
        eras["-".join(sorted((_era(a), _era(b)), key=("older", "modern", "unknown").index))] += 1
    stats.generators = {
        m: (_era(m), appearances[m])
        for m in sorted(
            appearances, key=lambda m: (list(PROFILES).index(m) if m in PROFILES else 99, m)
        )
    }
    stats.eras = dict(sorted(eras.items()))
    dims = [d for d in (*DEFAULT_DIMS, OVERALL) if all(d in p.labels for p in pairs)]
    for dim in dims:
        h = np.array([p.labels[dim] for p in pairs])
        stats.tie_rates[dim] = float((h == 0).mean())
        if dim == OVERALL:
            m = np.array([sum(p.mos_a[d] - p.mos_b[d] for d in DEFAULT_DIMS) for p in pairs])
        elif all(dim in p.mos_a and dim in p.mos_b for p in pairs):
            m = np.array([p.mos_a[dim] - p.mos_b[dim] for p in pairs])
        else:
            continue
        with_ties = accuracy_with_ties(h, m)[0]
        without = accuracy_without_ties(h, m) if (h != 0).any() else float("nan")
        stats.ceiling[dim] = (with_ties, without)
    return stats


def print_stats(stats: DatasetStats, console: Console | None = None, title: str = "") -> None:
    """Print the summary as rich tables."""
    console = console or Console()
    total = sum(stats.pairs.values())
    split = Table(title=f"{title} pairs per split".strip())
    for s in stats.pairs:
        split.add_column(s, justify="right")
    split.add_column("total", justify="right")
    split.add_row(*(str(n) for n in stats.pairs.values()), str(total))
    console.print(split)

    gen = Table(title="pairs per generator (a pair counts for both of its generators)")
    gen.add_column("generator")
    gen.add_column("era")
    gen.add_column("pairs", justify="right")
    gen.add_column("share", justify="right")
    for model, (era, n) in stats.generators.items():
        gen.add_row(model, era, str(n), f"{n / max(total, 1):.1%}")
    console.print(gen)

    era = Table(title="pairs per era")
    era.add_column("eras of A and B")
    era.add_column("pairs", justify="right")
    era.add_column("share", justify="right")
    for name, n in stats.eras.items():
        era.add_row(name, str(n), f"{n / max(total, 1):.1%}")
    console.print(era)

    dims = Table(title="labels and the annotator ceiling (noise-free oracle vs labels)")
    dims.add_column("dimension")
    dims.add_column("tie rate", justify="right")
    dims.add_column("acc. w/ ties", justify="right")
    dims.add_column("acc. w/o ties", justify="right")
    for dim, rate in stats.tie_rates.items():
        w, wo = stats.ceiling.get(dim, (float("nan"), float("nan")))
        dims.add_row(dim, f"{rate:.1%}", f"{w:.1%}", f"{wo:.1%}")
    console.print(dims)
