"""Simulated annotators: tie rates near their targets (MQ highest), votes follow the oracle."""

import numpy as np
import pytest

from vidalign.eval.accuracy import accuracy_without_ties
from vidalign.synth.annotators import AnnotatorConfig, annotate, majority


def test_majority_rule_by_hand():
    votes = np.array([[1, 1, -1], [1, 0, 0], [1, -1, 0], [-1, -1, -1], [0, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(majority(votes), [1, 0, 0, -1, 0, 1])


def test_tie_rates_and_agreement():
    rng = np.random.default_rng(0)
    n = 2000
    diffs = {d: rng.normal(scale=0.2, size=n) for d in ("VQ", "MQ", "TA")}
    out = annotate(diffs, seed=1)
    targets = AnnotatorConfig().tie_rates
    rates = {d: float((a.labels == 0).mean()) for d, a in out.items()}
    for d, rate in rates.items():
        assert rate == pytest.approx(targets[d], abs=0.04), rates
    assert rates["MQ"] > max(rates["VQ"], rates["TA"])
    for d, a in out.items():
        # the vote agrees with the noise-free oracle far above chance (0.5) ...
        assert accuracy_without_ties(a.labels, diffs[d]) > 0.8
        # ... and each single rater less often than the vote
        single = accuracy_without_ties(a.votes[:, 0], diffs[d]) if (a.votes[:, 0] != 0).any() else 0
        assert single < accuracy_without_ties(a.labels, diffs[d])
        assert a.votes.shape == (n, 3) and a.log_theta > 0


def test_tunable_and_seeded():
    rng = np.random.default_rng(2)
    diffs = {"VQ": rng.normal(size=1000)}
    config = AnnotatorConfig(tie_rates={"VQ": 0.6})
    a = annotate(diffs, seed=0, config=config)
    assert (a["VQ"].labels == 0).mean() == pytest.approx(0.6, abs=0.05)
    np.testing.assert_array_equal(
        a["VQ"].labels, annotate(diffs, seed=0, config=config)["VQ"].labels
    )
    with pytest.raises(ValueError, match="no target tie rate"):
        annotate({"XX": np.zeros(3)}, seed=0)


def test_equal_clips_mostly_tie_at_default_rates():
    # As in the world's datasets, many pairs have equal oracle scores (both clips flawless).
    # At the default (paper) tie rates, the annotators call most of those a tie instead of
    # forcing coin-flip labels on them.
    rng = np.random.default_rng(3)
    n = 2000
    diff = np.where(rng.uniform(size=n) < 0.4, 0.0, rng.normal(scale=0.3, size=n))
    labels = annotate({"VQ": diff}, seed=0)["VQ"].labels
    assert (labels[diff == 0] == 0).mean() > 0.65
    assert (labels[diff != 0] == 0).mean() < 0.4
