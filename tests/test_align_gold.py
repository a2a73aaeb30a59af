"""The gold-reward control: relabelling on-policy samples, the proxy's accuracy on them, the
gap-closed measure, and the null arm (a LoRA that has not moved ties the base model)."""

import json
import math

import pytest

from align_testdata import tiny_generator
from vidalign.align.data import read_clip_pairs
from vidalign.align.pairs import MakePairsError, make_pairs, proxy_accuracy, relabel_pairs
from vidalign.data import load_pairs
from vidalign.synth.prompts import general_prompts
from vidalign.synth.scorers import OracleScorer, oracle_judge


class ReversedOracle(OracleScorer):
    """The oracle with every score negated: a proxy that orders every pair the wrong way."""

    def score(self, videos, prompts, **kwargs):
        rows = super().score(videos, prompts, **kwargs)
        return [{k: (-v if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def test_relabel_keeps_the_sample_pairs_and_sides_and_takes_the_new_labels(tmp_path):
    src, gold = tmp_path / "pairs", tmp_path / "gold"
    prompts = list(general_prompts(2, 3))
    proxy = make_pairs(tiny_generator(), ReversedOracle(), prompts, src, samples_per_prompt=3,
                       progress=False, seed=5)  # fmt: skip
    res = relabel_pairs(src, OracleScorer(), gold, seed=5)
    assert len(res.pairs) == len(proxy.pairs) == 6
    for p, q in zip(proxy.pairs, res.pairs, strict=True):
        assert (q.path_a, q.path_b, q.prompt) == (p.path_a, p.path_b, p.prompt)
        for d in ("VQ", "MQ", "TA", "Overall"):  # the reversed proxy flips every strict label
            assert q.labels[d] == -p.labels[d]
    # the gold pair file loads from its own folder: videos and latents are named absolutely
    assert len(load_pairs(gold / "pairs.csv", check_files=True)) == 6
    assert all(c.winner.latent.startswith(str(src)) for c in read_clip_pairs(gold / "pairs.csv"))
    assert json.loads((gold / "make_pairs.json").read_text())["relabelled_from"] == str(src)

    acc = proxy_accuracy(src, gold)
    for d in ("VQ", "MQ", "TA", "Overall"):
        assert acc[d]["pairs"] == 6
        if acc[d]["strict_pairs"]:
            assert acc[d]["without_ties"] == 0.0  # wrong on every pair the oracle decides
    assert proxy_accuracy(gold, gold)["Overall"]["without_ties"] == 1.0


def _write_scores(folder, rows):
    folder.mkdir()
    lines = [
        json.dumps({"index": i, "prompt": p, "seed": i, "video": f"{i}.mp4",
                    "latent": f"{i}.safetensors", "scores": {"VQ": v}, "reward": v})
        for i, (p, v) in enumerate(rows)
    ]  # fmt: skip
    (folder / "scores.jsonl").write_text("\n".join(lines) + "\n")


def test_proxy_accuracy_by_hand(tmp_path):
    # gold: prompt p has VQ 0.1, 0.5, 0.5 (pairs 01: B better, 02: B better, 12: tie);
    # prompt q has 0.9, 0.2 (A better). Proxy: p 1.0, 2.0, 0.0 ; q 0.0, 0.0.
    _write_scores(tmp_path / "gold", [("p", 0.1), ("p", 0.5), ("p", 0.5), ("q", 0.9), ("q", 0.2)])
    _write_scores(tmp_path / "proxy", [("p", 1.0), ("p", 2.0), ("p", 0.0), ("q", 0.0), ("q", 0.0)])
    acc = proxy_accuracy(tmp_path / "proxy", tmp_path / "gold")["VQ"]
    # strict pairs: 01 (proxy diff -1: right), 02 (+1: wrong), q (0: a proxy tie, half) → 1.5/3
    assert acc["pairs"] == 4 and acc["strict_pairs"] == 3
    assert acc["without_ties"] == pytest.approx(0.5)
    # with ties (labels 01: -1, 02: -1, 12: 0, q: +1; proxy diffs -1, +1, +2, 0): at eps 0
    # only 01 is right (1 of 4); eps in [1, 2) makes 01 and 02 ties, both wrong, and 12 stays
    # wrong (0 of 4); eps >= 2 gets 12 right alone (1 of 4). The best is 1 of 4.
    assert acc["with_ties"] == pytest.approx(0.25)


def test_proxy_accuracy_names_a_sample_the_proxy_did_not_score(tmp_path):
    _write_scores(tmp_path / "gold", [("p", 0.1), ("p", 0.5), ("p", 0.7)])
    _write_scores(tmp_path / "proxy", [("p", 1.0), ("p", 2.0)])
    with pytest.raises(MakePairsError, match=r"samples \[2\]"):
        proxy_accuracy(tmp_path / "proxy", tmp_path / "gold")
    with pytest.raises(MakePairsError, match=r"scores\.jsonl"):
        relabel_pairs(tmp_path / "nowhere", OracleScorer(), tmp_path / "out")


def test_gap_closed_and_the_headline_table():
    from vidalign.demo.report import gap_closed, headline_section

    assert gap_closed(0.6, 0.4, 0.9) == pytest.approx(0.4)  # 0.2 of a 0.5 gap
    assert gap_closed(0.3, 0.4, 0.9) == pytest.approx(-0.2)  # worse than the base
    assert gap_closed(0.5, 0.5, 0.5) is None

    def rate(w, lo, hi):
        return {"win_rate": w, "low": lo, "high": hi}

    results = {
        "winrates": {"general / oracle": {
            "dpo": {"n_samples": 48, "rates": {"Overall": rate(0.6, 0.5, 0.7)}},
            "gold_dpo": {"n_samples": 48, "rates": {"Overall": rate(0.75, 0.65, 0.85)}},
        }},
        "metrics": {
            "base": {"general": {"VQ": 0.4, "MQ": 0.2, "TA": 0.1}},
            "clean": {"general": {"VQ": 0.9, "MQ": 0.7, "TA": 0.6}},
            "dpo": {"general": {"VQ": 0.6, "MQ": 0.2, "TA": 0.0}},
            "gold_dpo": {"general": {"VQ": 0.9, "MQ": 0.45, "TA": 0.35}},
        },
    }  # fmt: skip
    md = headline_section(results)
    assert "| Flow-DPO (constant β) | 60.0 [50.0, 70.0] | +40 | +0 | -20 |" in md
    assert "| Flow-DPO (constant β), oracle labels | 75.0 [65.0, 85.0] | +100 | +50 | +50 |" in md


def test_a_lora_that_has_not_moved_ties_the_base_on_every_prompt(tmp_path):
    from vidalign.eval.winrate_run import run_winrate
    from vidalign.policy.lora import add_lora
    from vidalign.policy.sampling import sample_to_folder

    prompts = list(general_prompts(4, 7))
    base = tiny_generator()
    sample_to_folder(base, prompts, tmp_path / "base", seed=3)
    arm = tiny_generator()
    add_lora(arm.transformer, rank=4)  # B = 0: the adapted model equals the base
    sample_to_folder(arm, prompts, tmp_path / "arm", seed=3)
    res = run_winrate(tmp_path / "base", tmp_path / "arm", oracle_judge(), n_bootstrap=20)
    for r in res.rates.values():
        assert (r.wins, r.losses, r.ties) == (0, 0, len(prompts))
        assert r.win_rate == 0.5 and not math.isnan(r.low)
