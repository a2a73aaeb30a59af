"""Report files: results.json numbers, the Table-2-shaped Markdown, the tie-separation plot."""

import json
from types import SimpleNamespace

from vidalign.eval.reward_eval import evaluate_pairs
from vidalign.eval.reward_report import accuracy_table, write_report

LABELS = [{"VQ": 1, "MQ": 0}, {"VQ": -1, "MQ": 1}, {"VQ": 0, "MQ": 0}, {"VQ": 1, "MQ": -1}]
PAIRS = [
    SimpleNamespace(prompt=f"p{i}", path_a=f"a{i}", path_b=f"b{i}", labels=lab)
    for i, lab in enumerate(LABELS)
]


def scores(sa, sb):
    out = {}
    for p, a, b in zip(PAIRS, sa, sb):
        out[(p.path_a, p.prompt)] = a
        out[(p.path_b, p.prompt)] = b
    return out


# "model": margins VQ [1, -1, 0.25, -0.5], MQ [0, 2, 0.5, -1] (see test_eval_reward_eval.py)
MODEL = scores(
    [{"VQ": 2, "MQ": 1}, {"VQ": 0, "MQ": 3}, {"VQ": 1, "MQ": 0.5}, {"VQ": 0, "MQ": 0}],
    [{"VQ": 1, "MQ": 1}, {"VQ": 1, "MQ": 1}, {"VQ": 0.75, "MQ": 0}, {"VQ": 0.5, "MQ": 1}],
)
# "constant": every margin 0 → every model call is a tie
CONSTANT = scores([{"VQ": 0, "MQ": 0}] * 4, [{"VQ": 0, "MQ": 0}] * 4)


def results():
    return {
        "Random": evaluate_pairs(PAIRS, CONSTANT, ["VQ", "MQ"]),
        "tiny-rm": evaluate_pairs(PAIRS, MODEL, ["VQ", "MQ"]),
    }


def test_markdown_table_cells():
    table = accuracy_table(results()).splitlines()
    assert table[0] == "| Model | Overall | VQ | MQ |"
    # constant: with ties = share of human ties (Overall 3/8, VQ 1/4, MQ 2/4); w/o ties = 1/2
    assert table[2] == "| Random | 37.50 / 50.00 | 25.00 / 50.00 | 50.00 / 50.00 |"
    assert table[3] == "| tiny-rm | 62.50 / 60.00 | 75.00 / 66.67 | 100.00 / 100.00 |"


def test_report_files(tmp_path):
    paths = write_report(
        tmp_path / "out", results(), {"data": "pairs.csv", "n_skipped": 2, "notes": ["hello"]}
    )
    doc = json.loads(paths["results"].read_text())
    assert list(doc["scorers"]) == ["Random", "tiny-rm"]
    vq = doc["scorers"]["tiny-rm"]["columns"]["VQ"]
    assert vq["acc_with_ties"] == 0.75 and vq["epsilon"] == 0.25
    assert vq["margins"]["strict"]["mean"] == 0.5  # (1 + 1 - 0.5) / 3
    assert doc["scorers"]["tiny-rm"]["overall_labels"] == "pooled"
    assert doc["meta"]["n_skipped"] == 2
    md = paths["report"].read_text()
    assert "| tiny-rm | 62.50 / 60.00 | 75.00 / 66.67 | 100.00 / 100.00 |" in md
    assert "pooled dimension labels" in md
    assert "Skipped: 2 pair(s)" in md
    assert "| human ties | 3 (37.50%) | 1 (25.00%) | 2 (50.00%) |" in md
    assert "- hello" in md
    png = paths["plot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
