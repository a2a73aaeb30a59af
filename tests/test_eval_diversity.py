"""Diversity of a sample set: hand-worked RMS distances, 0 for identical clips."""

import pytest
import torch

from vidalign.eval.diversity import diversity, rms_distance
from vidalign.eval.scorer import EvalError


def test_diversity_hand_worked_and_zero_for_identical_clips():
    a = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    b = torch.full((4, 3, 32, 32), 255, dtype=torch.uint8)
    c = torch.full((4, 3, 32, 32), 51, dtype=torch.uint8)  # 0.2
    assert rms_distance(a.float(), a.float()) == 0
    d = diversity({"p": [a, b, c], "q": [a, a], "single": [b]})
    # pairs of p: |0-1| = 1, |0-0.2| = 0.2, |1-0.2| = 0.8 -> mean 2/3
    assert d["p"] == pytest.approx(2 / 3, abs=1e-6)
    assert d["q"] == 0 and "single" not in d
    with pytest.raises(EvalError, match="different frame counts"):
        diversity({"p": [a, a[:2]]})
