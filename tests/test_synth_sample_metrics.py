"""Oracle metric suite on real synthetic mp4s: clean beats degraded, TA breakdown, diversity."""

import json

import pytest

from eval_sampleset_testdata import PROMPTS, write_sample_set
from vidalign.cli.eval import register
from vidalign.eval.scorer import EvalError
from vidalign.synth.sample_metrics import oracle_metrics


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics")
    return {
        "clean": write_sample_set(root / "clean"),
        "noisy": write_sample_set(root / "noisy", severities={"noise": 0.7, "jitter": 0.8}),
        "wrong": write_sample_set(root / "wrong", severities={"wrong_colour": 1.0}),
    }


def test_clean_scores_higher_than_degraded(sets):
    clean = oracle_metrics(sets["clean"])
    noisy = oracle_metrics(sets["noisy"])
    wrong = oracle_metrics(sets["wrong"])
    assert clean.n_samples == 6 and clean.n_prompts == 3 and clean.n_diversity_prompts == 3
    assert clean.means["VQ"] > noisy.means["VQ"] + 0.3
    assert clean.means["MQ"] > noisy.means["MQ"] + 0.3
    assert clean.means["TA"] > wrong.means["TA"] + 0.2
    # the TA breakdown pins the wrong colour on the colour component
    assert set(clean.ta_parts) == {"presence", "colour", "shape", "size", "motion"}
    assert clean.ta_parts["colour"] > wrong.ta_parts["colour"] + 0.5
    assert abs(clean.ta_parts["shape"] - wrong.ta_parts["shape"]) < 0.1
    flat = clean.as_dict()
    assert flat["TA/colour"] == clean.ta_parts["colour"] and flat["diversity"] > 0.05
    # cached: a second run reads the same scores back
    assert (sets["clean"] / ".scores" / "oracle-details.jsonl").is_file()
    assert oracle_metrics(sets["clean"]).as_dict() == flat


def test_diversity_is_none_with_one_seed_per_prompt(tmp_path):
    one = write_sample_set(tmp_path / "one", prompts=PROMPTS[:2], seeds=(5,))
    m = oracle_metrics(one)
    assert m.diversity is None and m.n_diversity_prompts == 0


def test_cli_metrics_writes_json(sets, tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    out = tmp_path / "m.json"
    args = parser.parse_args(["eval", "metrics", str(sets["clean"]), "--out", str(out)])
    assert args.func(args) == 0
    data = json.loads(out.read_text())
    assert {"VQ", "MQ", "TA", "diversity", "TA/colour", "n_samples"} <= set(data)
    assert "diversity" in capsys.readouterr().out


def test_bad_prompt_is_an_error_not_a_score(tmp_path):
    folder = write_sample_set(tmp_path / "s", prompts=PROMPTS[:1], seeds=(1,))
    idx = folder / "index.jsonl"
    idx.write_text(idx.read_text().replace(PROMPTS[0], "a photo of a cat"))
    with pytest.raises(EvalError, match="a photo of a cat"):
        oracle_metrics(folder)
