"""Reward accuracy with and without ties: hand-worked cases and a brute-force property test."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidalign.eval.accuracy import accuracy_with_ties, accuracy_without_ties, tie_accuracy_at


def brute_force(h, m):
    """Try every candidate eps directly (0 and each |m|); the smallest eps wins ties."""
    cands = sorted({0.0, *np.abs(np.asarray(m, dtype=float)).tolist()})
    best = max(cands, key=lambda e: (tie_accuracy_at(h, m, e), -e))
    return tie_accuracy_at(h, m, best), best


def test_without_ties_hand_worked():
    # strict pairs: (1, 0.5) right, (-1, 0.2) wrong, (1, 0.0) model tie = 1/2; the human tie is ignored
    assert accuracy_without_ties([1, -1, 1, 0], [0.5, 0.2, 0.0, 9.0]) == pytest.approx(0.5)
    assert accuracy_without_ties([1, -1], [3.0, -1.0]) == 1.0
    assert accuracy_without_ties([1, -1], [-3.0, 1.0]) == 0.0


def test_with_ties_hand_worked():
    # eps = 0: 2/4 right; eps = 0.5 turns both |m| = 0.5 pairs into ties together: 4/4
    assert accuracy_with_ties([1, 0, -1, 0], [2.0, 0.5, -1.0, -0.5]) == (1.0, 0.5)
    # A tie group that mixes one human tie and one strict pair gains nothing: eps stays 0.
    acc, eps = accuracy_with_ties([0, 1, 1], [0.3, 0.3, 1.0])
    assert (acc, eps) == (pytest.approx(2 / 3), 0.0)


def test_equal_abs_margins_move_together():
    # Partial evaluation of the |m| = 1 group (only the first pair a tie) would give 4/4;
    # moving the whole group gives 3/4, so the honest answer stays 3/4.
    h = [0, 1, -1, 1]
    m = [1.0, 1.0, -2.0, 3.0]
    assert accuracy_with_ties(h, m) == (0.75, 0.0)
    assert brute_force(h, m) == (0.75, 0.0)


def test_edge_cases():
    assert accuracy_with_ties([0, 0, 0], [0.1, -0.2, 0.3]) == (1.0, 0.3)  # all ties
    assert accuracy_with_ties([1, -1], [1.0, -1.0]) == (1.0, 0.0)  # no ties
    assert accuracy_with_ties([1], [-0.5]) == (0.0, 0.0)  # one pair, wrong
    assert accuracy_with_ties([0], [0.0]) == (1.0, 0.0)  # m exactly 0 is a model tie
    assert accuracy_with_ties([1, 0], [0.0, 0.0]) == (0.5, 0.0)
    with pytest.raises(ValueError, match="at least one pair"):
        accuracy_without_ties([0, 0], [1.0, 2.0])
    with pytest.raises(ValueError, match="labels"):
        accuracy_with_ties([2], [1.0])
    with pytest.raises(ValueError, match="finite"):
        accuracy_with_ties([1], [float("nan")])
    with pytest.raises(ValueError, match="empty"):
        accuracy_with_ties([], [])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-1, 0, 1]), st.integers(-4, 4).map(lambda k: k / 2)),
        min_size=1,
        max_size=40,
    )
)
def test_with_ties_matches_brute_force(pairs):
    # Margins on a coarse grid, so repeated |m| values are the rule rather than the exception.
    h = [p[0] for p in pairs]
    m = [p[1] for p in pairs]
    assert accuracy_with_ties(h, m) == brute_force(h, m)
