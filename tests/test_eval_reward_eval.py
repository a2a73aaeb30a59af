"""evaluate_pairs on a hand-worked pair set with fixed scores."""

import numpy as np
import pytest

from vidalign.data import PreferencePair
from vidalign.eval.reward_eval import evaluate_pairs
from vidalign.eval.scorer import EvalError


def pair(i, labels):
    return PreferencePair(prompt=f"p{i}", path_a=f"a{i}.mp4", path_b=f"b{i}.mp4", labels=labels)


# Four pairs on two dims. Margins m = s_A - s_B:
#   VQ: h = [+1, -1, 0, +1], m = [1, -1, 0.25, -0.5]
#   MQ: h = [ 0, +1, 0, -1], m = [0,  2, 0.5,  -1]
LABELS = [
    {"VQ": 1, "MQ": 0},
    {"VQ": -1, "MQ": 1},
    {"VQ": 0, "MQ": 0},
    {"VQ": 1, "MQ": -1},
]
SA = [
    {"VQ": 2.0, "MQ": 1.0},
    {"VQ": 0.0, "MQ": 3.0},
    {"VQ": 1.0, "MQ": 0.5},
    {"VQ": 0.0, "MQ": 0.0},
]
SB = [
    {"VQ": 1.0, "MQ": 1.0},
    {"VQ": 1.0, "MQ": 1.0},
    {"VQ": 0.75, "MQ": 0.0},
    {"VQ": 0.5, "MQ": 1.0},
]


def scores_for(pairs):
    s = {}
    for i, p in enumerate(pairs):
        s[(p.path_a, p.prompt)] = SA[i]
        s[(p.path_b, p.prompt)] = SB[i]
    return s


def test_per_dimension_hand_worked():
    pairs = [pair(i, lab) for i, lab in enumerate(LABELS)]
    r = evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"])
    vq, mq = r.columns["VQ"], r.columns["MQ"]
    # VQ w/o ties: strict pairs 0, 1, 3 → right, right, wrong = 2/3.
    # With ties: eps = 0 gives 2/4; eps = 0.25 turns pair 2 (a human tie) into a tie: 3/4;
    # eps = 0.5 adds pair 3 (wrong either way); eps = 1 breaks pairs 0 and 1: 1/4.
    assert vq.acc_without_ties == pytest.approx(2 / 3)
    assert (vq.acc_with_ties, vq.epsilon) == (0.75, 0.25)
    assert (vq.n_pairs, vq.n_ties) == (4, 1)
    np.testing.assert_allclose(vq.tie_margins, [0.25])
    np.testing.assert_allclose(vq.strict_margins, [1.0, 1.0, -0.5])  # s_pref - s_other
    # MQ: m = 0 on pair 0 is a model tie already; eps = 0.5 adds pair 2: 4/4.
    assert mq.acc_without_ties == 1.0
    assert (mq.acc_with_ties, mq.epsilon) == (1.0, 0.5)
    assert (mq.n_pairs, mq.n_ties) == (4, 2)
    np.testing.assert_allclose(mq.strict_margins, [2.0, 1.0])


def test_overall_pooled_over_dimension_labels():
    pairs = [pair(i, lab) for i, lab in enumerate(LABELS)]
    r = evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"])
    ov = r.columns["Overall"]
    # Overall margins (weights 1, 1): [1, 1, 0.75, -1.5]; each pair counts once per dim:
    #   h = [1, 0, -1, 1, 0, 0, 1, -1], m = [1, 1, 1, 1, .75, .75, -1.5, -1.5]
    # w/o ties: 3 of 5 strict right. With ties: eps = 0.75 → 5/8 (best).
    assert r.overall_labels == "pooled"
    assert (ov.n_pairs, ov.n_ties) == (8, 3)
    assert ov.acc_without_ties == pytest.approx(0.6)
    assert (ov.acc_with_ties, ov.epsilon) == (0.625, 0.75)
    assert list(r.columns) == ["Overall", "VQ", "MQ"]
    assert r.n_pairs == 4


def test_overall_label_and_weights():
    overall = [1, -1, 0, 1]
    pairs = [pair(i, {**lab, "Overall": o}) for i, (lab, o) in enumerate(zip(LABELS, overall))]
    r = evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"], weights={"VQ": 2.0, "MQ": 0.0})
    ov = r.columns["Overall"]
    # Overall margins = 2·m_VQ = [2, -2, 0.5, -1]: w/o ties 2/3; with ties eps = 0.5 → 3/4.
    assert r.overall_labels == "Overall"
    assert r.weights == {"VQ": 2.0, "MQ": 0.0}
    assert (ov.n_pairs, ov.n_ties) == (4, 1)
    assert ov.acc_without_ties == pytest.approx(2 / 3)
    assert (ov.acc_with_ties, ov.epsilon) == (0.75, 0.5)
    np.testing.assert_allclose(ov.strict_margins, [2.0, 2.0, -1.0])
    # the per-dimension columns do not depend on weights
    assert r.columns["VQ"].acc_with_ties == 0.75


def test_unlabelled_dimension_and_only_overall():
    pairs = [pair(i, {"Overall": o}) for i, o in enumerate([1, -1, 0, 1])]
    r = evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"])
    assert r.columns["VQ"].n_pairs == 0
    assert r.columns["VQ"].acc_with_ties is None and r.columns["VQ"].acc_without_ties is None
    assert r.columns["Overall"].n_pairs == 4
    summary = r.to_dict()
    assert summary["columns"]["VQ"]["margins"]["tie"]["n"] == 0


def test_all_ties_has_no_strict_accuracy():
    pairs = [pair(0, {"VQ": 0, "MQ": 0})]
    r = evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"])
    assert r.columns["VQ"].acc_without_ties is None
    assert r.columns["VQ"].acc_with_ties == 1.0  # |m| = 1 ≤ eps = 1


def test_errors_name_the_problem():
    pairs = [pair(i, lab) for i, lab in enumerate(LABELS)]
    scores = scores_for(pairs)
    del scores[("b2.mp4", "p2")]
    with pytest.raises(EvalError, match=r"pair 2: no score for video b2\.mp4"):
        evaluate_pairs(pairs, scores, ["VQ", "MQ"])
    with pytest.raises(EvalError, match="unknown: \\['XX'\\]"):
        evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"], weights={"VQ": 1, "XX": 1})
    with pytest.raises(EvalError, match="missing: \\['MQ'\\]"):
        evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ"], weights={"VQ": 1})
    mixed = [*pairs[:3], pair(3, {**LABELS[3], "Overall": 1})]
    with pytest.raises(EvalError, match="1 of 4 pairs have an Overall label"):
        evaluate_pairs(mixed, scores_for(mixed), ["VQ", "MQ"])
    with pytest.raises(EvalError, match="no \\['TA'\\]"):
        evaluate_pairs(pairs, scores_for(pairs), ["VQ", "MQ", "TA"])
    with pytest.raises(EvalError, match="no pairs"):
        evaluate_pairs([], {}, ["VQ"])
