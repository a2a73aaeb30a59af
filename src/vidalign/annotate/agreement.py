"""Agreement between annotators: raw pairwise agreement and Krippendorff's alpha (nominal).

A *unit* is one pair on one dimension; its values are the labels that different annotators
gave it. Units with fewer than two values carry no information about agreement and are
left out of both measures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import combinations


def pairwise_agreement(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Fraction of annotator pairs, over all units, that gave the same value.

    Example: units ``[[A, A], [A, B], [B, B, B]]`` have 1 + 1 + 3 = 5 annotator pairs of
    which 1 + 0 + 3 = 4 agree, so 0.8.

    Returns:
        The fraction, or None when no unit has two values.
    """
    agree = total = 0
    for values in units:
        for x, y in combinations(values, 2):
            agree += x == y
            total += 1
    return agree / total if total else None


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data.

    With the coincidence matrix o_ck = Σ_u (number of ordered pairs of values (c, k) within
    unit u) / (m_u − 1), n_c = Σ_k o_ck and n = Σ_c n_c:

        alpha = 1 − (n − 1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c · n_k

    Example: units ``[[A, A], [A, B], [B, B, B], [A]]``: the last is unpairable;
    o_AA = 2, o_AB = o_BA = 1, o_BB = 6 / 2 = 3; n_A = 3, n_B = 4, n = 7;
    alpha = 1 − 6 · 2 / (2 · 3 · 4) = 0.5.

    Returns:
        alpha, or None when it is undefined: fewer than two pairable values, or every
        pairable value the same (no expected disagreement).
    """
    disagree = 0.0  # Σ_{c≠k} o_ck
    n_c: Counter[Hashable] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        # ordered pairs (i, j), i ≠ j, with different values: m² − Σ_c count_c²
        disagree += (m * m - sum(c * c for c in counts.values())) / (m - 1)
        for value, c in counts.items():
            n_c[value] += c  # each value pairs with m − 1 others, weighted 1 / (m − 1)
    n = sum(n_c.values())
    expected = n * n - sum(c * c for c in n_c.values())  # Σ_{c≠k} n_c n_k
    if n < 2 or expected == 0:
        return None
    return 1.0 - (n - 1) * disagree / expected
