"""Perception ceilings: what a reward model could reach if it saw only some failure modes.

The synthetic world knows the severity of every failure mode in every clip (``clips.csv`` of a
dataset folder). A *perceiving reader* of a set of modes sees those severities exactly and
nothing else: it scores a pair by ``w · (s_A - s_B)`` over the modes it perceives, with the
weights ``w`` of a logistic regression (no intercept: swapping A and B flips the score) fitted
on the strict (non-tie) pairs of ``train.csv``. Its accuracy without ties on the strict pairs
of ``test.csv`` bounds what a model blind to the other modes can reach on that dimension
(up to the weights being linear). Comparing a trained reward model with these ceilings says
which defects it does not see: e.g. a model at the ceiling of "every MQ mode but jitter"
most likely does not perceive jitter.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidalign.data import PairDataError, load_pairs
from vidalign.errors import VidalignError
from vidalign.eval.accuracy import accuracy_without_ties
from vidalign.synth.degrade import FAILURE_DIMS, FAILURE_MODES

RIDGE = 1e-3
"""L2 penalty of the logistic fit (keeps the weights finite when a mode separates the pairs)."""


@dataclass
class SeverityPairs:
    """The pairs of one split as severity differences, with their labels (ties included).

    Attributes:
        diffs: (N, len(FAILURE_MODES)) severity of A minus severity of B, per mode.
        labels: dimension → (N,) +1 (A preferred), -1 (B preferred) or 0 (tie).
    """

    diffs: np.ndarray
    labels: dict[str, np.ndarray]


@dataclass
class PerceptionCeiling:
    """The accuracy of a reader that perceives ``modes`` exactly.

    Attributes:
        dim: the dimension judged.
        modes: the failure modes the reader sees.
        accuracy: accuracy without ties on the strict test pairs of ``dim`` (score 0 counts half).
        num_pairs: strict test pairs of ``dim``.
        weights: mode → fitted weight (a larger severity of A pushes towards B: negative).
    """

    dim: str
    modes: tuple[str, ...]
    accuracy: float
    num_pairs: int
    weights: dict[str, float]


def read_severities(folder: str | Path) -> dict[Path, np.ndarray]:
    """Clip path (resolved) → severities in ``FAILURE_MODES`` order, from ``clips.csv``.

    Raises:
        VidalignError: no ``clips.csv``, a missing column, or a value that is not a number,
            naming the file, row and field.
    """
    folder = Path(folder)
    path = folder / "clips.csv"
    if not path.is_file():
        raise VidalignError(f"{path}: not found; is {folder} a `vidalign synth dataset` folder?")
    out: dict[Path, np.ndarray] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("path", *FAILURE_MODES) if c not in (reader.fieldnames or [])]
        if missing:
            raise VidalignError(f"{path}: missing columns {missing}")
        for row_no, row in enumerate(reader, start=1):
            values = []
            for mode in FAILURE_MODES:
                try:
                    values.append(float(row[mode]))
                except (TypeError, ValueError):
                    raise VidalignError(
                        f"{path}: row {row_no}, field {mode!r}: {row[mode]!r} is not a number"
                    ) from None
            out[(folder / row["path"]).resolve()] = np.array(values)
    return out


def load_train_test(folder: str | Path) -> tuple[SeverityPairs, SeverityPairs]:
    """The train and test splits of a dataset folder, reading ``clips.csv`` once."""
    severities = read_severities(folder)
    train = load_severity_pairs(folder, "train", severities)
    return train, load_severity_pairs(folder, "test", severities)


def load_severity_pairs(
    folder: str | Path, split: str, severities: dict[Path, np.ndarray] | None = None
) -> SeverityPairs:
    """The pairs of ``{split}.csv`` as severity differences (see ``SeverityPairs``).

    Args:
        severities: ``read_severities(folder)`` when the caller has it already.

    Raises:
        VidalignError: the split file is missing or invalid, or names a clip that
            ``clips.csv`` does not list (file, row and field named).
    """
    folder = Path(folder)
    if severities is None:
        severities = read_severities(folder)
    path = folder / f"{split}.csv"
    if not path.is_file():
        raise VidalignError(f"{path}: not found")
    try:
        pairs = load_pairs(path)
    except PairDataError as err:
        raise VidalignError(f"{path}: {err}") from err
    diffs = []
    for row_no, pair in enumerate(pairs, start=1):
        sides = []
        for name, clip in (("path_A", pair.path_a), ("path_B", pair.path_b)):
            key = Path(clip).resolve()
            if key not in severities:
                raise VidalignError(
                    f"{path}: row {row_no}, field {name!r}: {clip} is not in clips.csv"
                )
            sides.append(severities[key])
        diffs.append(sides[0] - sides[1])
    dims = sorted({d for p in pairs for d in p.labels})
    labels = {d: np.array([p.labels.get(d, 0) for p in pairs]) for d in dims}
    return SeverityPairs(
        diffs=np.array(diffs).reshape(len(pairs), len(FAILURE_MODES)), labels=labels
    )


def fit_reader(x: np.ndarray, y: np.ndarray, *, iterations: int = 50) -> np.ndarray:
    """Weights of a logistic regression without intercept, by Newton's method.

    Args:
        x: (N, K) features. y: (N,) targets in {0, 1}.

    Returns:
        (K,) weights minimising the mean log loss plus ``RIDGE/2·‖w‖²``.
    """
    n, k = x.shape
    w = np.zeros(k)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) / n + RIDGE * w
        hess = (x * (p * (1 - p))[:, None]).T @ x / n + RIDGE * np.eye(k)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def perception_ceiling(
    train: SeverityPairs, test: SeverityPairs, dim: str, modes: tuple[str, ...]
) -> PerceptionCeiling:
    """Fit the reader of ``modes`` on the strict train pairs of ``dim``; score the test pairs."""
    unknown = [m for m in modes if m not in FAILURE_MODES]
    if unknown or not modes:
        raise VidalignError(f"modes must be some of {list(FAILURE_MODES)}; got {list(modes)}")
    for name, split in (("train", train), ("test", test)):
        if dim not in split.labels or not (split.labels[dim] != 0).any():
            raise VidalignError(f"{name} split has no strict {dim} pairs")
    cols = [FAILURE_MODES.index(m) for m in modes]
    strict = train.labels[dim] != 0
    w = fit_reader(train.diffs[strict][:, cols], (train.labels[dim][strict] > 0).astype(float))
    h = test.labels[dim]
    return PerceptionCeiling(
        dim=dim,
        modes=tuple(modes),
        accuracy=accuracy_without_ties(h, test.diffs[:, cols] @ w),
        num_pairs=int((h != 0).sum()),
        weights=dict(zip(modes, (float(v) for v in w))),
    )


def dimension_modes(dim: str) -> tuple[str, ...]:
    """The failure modes that damage ``dim`` (``FAILURE_DIMS``)."""
    return tuple(m for m in FAILURE_MODES if FAILURE_DIMS[m] == dim)


def perception_table(folder: str | Path) -> list[PerceptionCeiling]:
    """Per dimension with failure modes: all its modes, each one left out, each one alone."""
    train, test = load_train_test(folder)
    rows = []
    for dim in dict.fromkeys(FAILURE_DIMS.values()):
        modes = dimension_modes(dim)
        if dim not in test.labels:
            continue
        subsets = [modes, *(tuple(x for x in modes if x != m) for m in modes)]
        subsets += [(m,) for m in modes]
        rows += [perception_ceiling(train, test, dim, s) for s in subsets]
    return rows


def format_table(rows: list[PerceptionCeiling]) -> str:
    """Plain text: dimension, what the reader perceives, accuracy without ties, pairs."""

    def what(row: PerceptionCeiling) -> str:
        every = dimension_modes(row.dim)
        if set(row.modes) == set(every):
            return f"all {len(every)} {row.dim} modes"
        if len(row.modes) == len(every) - 1 and set(row.modes) <= set(every):
            return f"all but {next(m for m in every if m not in row.modes)}"
        return " + ".join(row.modes)

    lines = ["strict test pairs; reader fitted on the strict train pairs (logistic, no intercept)"]
    body = [(r.dim, what(r), f"{r.accuracy:.1%}", str(r.num_pairs)) for r in rows]
    head = ("dim", "perceives", "acc. w/o ties", "pairs")
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(4)]
    for cells in [head, *body]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    return "\n".join(lines)
