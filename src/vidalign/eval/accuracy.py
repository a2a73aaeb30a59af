"""Pairwise reward accuracy, with and without ties (REFERENCE.md §3).

``h`` holds human labels in {+1, 0, -1} (+1: A preferred, -1: B preferred, 0: tie) and
``m`` the model margins ``s_A - s_B``, one per pair.

* Without ties: over the pairs humans did not tie, the share where ``sign(m) == h``.
  A model tie (``m == 0``) on a strict pair counts half, so a constant scorer gets 0.5.
* With ties: the tie calibration of Deutsch et al. 2023 ("Ties Matter", Algorithm 1).
  The model calls a tie when ``|m| <= eps``; accuracy(eps) is the share of pairs where the
  model's call (A, B or tie) equals the human's, and the reported value is its maximum
  over eps. The candidate eps are 0 and the distinct ``|m|`` values: all pairs with the
  same ``|m|`` switch to "tie" together, so no partial group is ever scored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _check(h: ArrayLike, m: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    h = np.asarray(h)
    m = np.asarray(m, dtype=np.float64)
    if h.ndim != 1 or m.ndim != 1 or h.shape != m.shape:
        raise ValueError(f"h and m must be 1-D and of equal length, got {h.shape} and {m.shape}")
    if h.size == 0:
        raise ValueError("accuracy of an empty set of pairs is undefined")
    if not np.isin(h, (-1, 0, 1)).all():
        bad = h[~np.isin(h, (-1, 0, 1))][:5]
        raise ValueError(f"human labels must be in {{+1, 0, -1}}, got {bad.tolist()}")
    if not np.isfinite(m).all():
        raise ValueError(f"model margins must be finite; {int((~np.isfinite(m)).sum())} are not")
    return h.astype(np.int64), m


def accuracy_without_ties(h: ArrayLike, m: ArrayLike) -> float:
    """Share of human-strict pairs whose margin has the human's sign (model ties count 1/2).

    Example: h = [1, -1, 1, 0], m = [0.5, 0.2, 0.0, 9.0] → strict pairs 0, 1, 2 score
    1, 0, 0.5 → 0.5.
    """
    h, m = _check(h, m)
    strict = h != 0
    if not strict.any():
        raise ValueError("accuracy without ties needs at least one pair that humans did not tie")
    hs, ms = h[strict], np.sign(m[strict])
    return float(((ms == hs) + 0.5 * (ms == 0)).mean())


def accuracy_with_ties(h: ArrayLike, m: ArrayLike) -> tuple[float, float]:
    """Tie-calibrated accuracy and the threshold that reaches it, in O(N log N).

    Returns ``(accuracy, epsilon)``; ties in accuracy pick the smallest epsilon.

    Example: h = [1, 0, -1, 0], m = [2.0, 0.5, -1.0, -0.5]. At eps = 0 the model calls
    no tie: 2 of 4 right. At eps = 0.5 both |m| = 0.5 pairs become ties together: 4 of 4.
    → (1.0, 0.5).
    """
    h, m = _check(h, m)
    n = h.size
    pred = np.sign(m).astype(np.int64)  # m == 0 is a model tie at every eps >= 0
    correct = int((pred == h).sum())
    best_correct, best_eps = correct, 0.0
    a = np.abs(m)
    order = np.argsort(a, kind="stable")
    a_sorted = a[order]
    # Change in the number correct when a pair turns into a model tie.
    delta = ((h == 0).astype(np.int64) - (pred == h).astype(np.int64))[order]
    # Sweep whole groups of equal |m|: the last index of each group is where eps lands.
    group_end = np.flatnonzero(np.append(a_sorted[1:] != a_sorted[:-1], True))
    totals = correct + np.cumsum(delta)[group_end]
    i = int(np.argmax(totals))  # first maximum: the smallest eps among equals
    if totals[i] > best_correct:
        best_correct, best_eps = int(totals[i]), float(a_sorted[group_end[i]])
    return best_correct / n, best_eps


def tie_accuracy_at(h: ArrayLike, m: ArrayLike, epsilon: float) -> float:
    """Accuracy when the model calls a tie for ``|m| <= epsilon`` (a fixed threshold)."""
    h, m = _check(h, m)
    pred = np.where(np.abs(m) <= epsilon, 0, np.sign(m)).astype(np.int64)
    return float((pred == h).mean())
