"""Perception ceilings: a hand-worked logistic fit, readers that see the deciding mode or not,
and loud errors for bad dataset folders."""

import csv
import math

import numpy as np
import pytest

from vidalign.cli.main import main
from vidalign.errors import VidalignError
from vidalign.synth.degrade import FAILURE_MODES
from vidalign.synth.perception import (
    RIDGE,
    fit_reader,
    load_severity_pairs,
    load_train_test,
    perception_ceiling,
    perception_table,
)

DECIDES = {"VQ": "noise", "MQ": "jitter", "TA": "wrong_colour"}
"""In the hand-made folder each dimension's label follows one mode: the lower severity wins."""


def make_folder(root, *, clips=40, pairs=(120, 60), seed=0):
    rng = np.random.default_rng(seed)
    sev = rng.uniform(size=(clips, len(FAILURE_MODES)))
    with (root / "clips.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "prompt", "model", *FAILURE_MODES])
        for i in range(clips):
            w.writerow([f"videos/{i}.mp4", "p", "m", *(f"{s:.4f}" for s in sev[i])])
    for split, n in zip(("train", "test"), pairs):
        with (root / f"{split}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path_A", "path_B", "prompt", *DECIDES])
            for j in range(n):
                a, b = rng.choice(clips, size=2, replace=False)
                labels = []
                for mode in DECIDES.values():
                    k = FAILURE_MODES.index(mode)
                    labels.append("A" if sev[a, k] < sev[b, k] else "B")
                w.writerow([f"videos/{a}.mp4", f"videos/{b}.mp4", f"prompt {j}", *labels])
    return root


def test_fit_reader_matches_the_hand_worked_optimum():
    # x = (1, -1, 1), y = (1, 0, 0): mean log loss -(2 log σ(w) + log σ(-w))/3 is least where
    # 2(1 - σ(w)) = σ(w), i.e. σ(w) = 2/3, w = log 2. The ridge adds RIDGE·w to the gradient;
    # the curvature there is mean σ(1 - σ)x² = 2/9, so it pulls w in by RIDGE·log 2 / (2/9).
    w = fit_reader(np.array([[1.0], [-1.0], [1.0]]), np.array([1.0, 0.0, 0.0]))
    assert w[0] == pytest.approx(math.log(2) * (1 - RIDGE * 9 / 2), abs=2e-5)
    balanced = fit_reader(np.array([[1.0], [-1.0], [1.0], [-1.0]]), np.array([1, 0, 0, 1.0]))
    assert balanced[0] == pytest.approx(0.0, abs=1e-12)


def test_a_reader_is_perfect_with_the_deciding_mode_and_near_chance_without(tmp_path):
    folder = make_folder(tmp_path)
    train, test = load_train_test(folder)
    alone = perception_ceiling(train, test, "MQ", ("jitter",))
    assert alone.accuracy == 1.0 and alone.num_pairs == 60
    assert alone.weights["jitter"] < 0  # more jitter in A: B preferred
    blind = perception_ceiling(train, test, "MQ", ("stutter", "flicker", "wobble", "speed"))
    assert 0.25 < blind.accuracy < 0.75
    rows = {(r.dim, r.modes): r.accuracy for r in perception_table(folder)}
    assert len(rows) == 9 + 11 + 9  # per dimension: all modes, each left out, each alone
    assert rows[("TA", ("wrong_colour",))] == 1.0 and rows[("VQ", ("noise",))] == 1.0
    assert rows[("VQ", ("blur", "blocking", "colour_shift"))] < 0.75


def test_cli_prints_the_table_and_one_reader(tmp_path, capsys):
    folder = make_folder(tmp_path)
    assert main(["synth", "perception", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "all 5 MQ modes" in out and "all but jitter" in out
    assert main(["synth", "perception", str(folder), "--dim", "TA", "--modes", "wrong_colour"]) == 0
    assert "100.0%" in capsys.readouterr().out


def test_bad_folders_are_named_with_row_and_field(tmp_path):
    with pytest.raises(VidalignError, match=r"clips\.csv: not found"):
        load_severity_pairs(tmp_path, "train")
    folder = make_folder(tmp_path)
    text = (folder / "clips.csv").read_text().splitlines()
    cells = text[3].split(",")
    cells[3 + FAILURE_MODES.index("blur")] = "n/a"
    (folder / "clips.csv").write_text("\n".join([*text[:3], ",".join(cells), *text[4:]]) + "\n")
    with pytest.raises(VidalignError, match=r"row 3, field 'blur': 'n/a' is not a number"):
        load_severity_pairs(folder, "train")
    make_folder(folder)
    with (folder / "test.csv").open("a") as f:
        f.write("videos/0.mp4,videos/999.mp4,new prompt,A,A,A\n")
    with pytest.raises(VidalignError, match=r"test.csv: row 61, field 'path_B'"):
        load_severity_pairs(folder, "test")
    with pytest.raises(VidalignError, match="modes must be some of"):
        train = load_severity_pairs(folder, "train")
        perception_ceiling(train, train, "MQ", ("judder",))
