"""Win rates: hand-worked values with ties counting half, the prompt-level bootstrap,
matching sample sets, and ``vidalign eval winrate`` end to end on real mp4s."""

import json

import numpy as np
import pytest

from eval_sampleset_testdata import PROMPTS, write_sample_set
from vidalign.cli.main import main
from vidalign.eval.judges import load_judge
from vidalign.eval.sample_set import Sample, match_sample_sets, read_sample_set
from vidalign.eval.scorer import EvalError
from vidalign.eval.winrate import cluster_bootstrap, outcomes, win_rates
from vidalign.eval.winrate_run import run_winrate
from vidalign.synth.scorers import named_judges

BASE = [
    {"VQ": 1.0, "TA": 0.0},
    {"VQ": 2.0, "TA": 0.0},
    {"VQ": 3.0, "TA": 0.0},
    {"VQ": 4.0, "TA": 0.0},
]
CAND = [
    {"VQ": 2.0, "TA": 1.0},
    {"VQ": 2.0, "TA": -1.0},
    {"VQ": 1.0, "TA": 0.0},
    {"VQ": 5.0, "TA": 0.0},
]


def test_hand_worked_win_rates_with_ties_counting_half():
    r = win_rates(BASE, CAND, ["VQ", "TA"], weights={"VQ": 1, "TA": 2}, n_bootstrap=0)
    # VQ: win, tie, loss, win -> (2 + 0.5) / 4
    assert r.rates["VQ"].win_rate == pytest.approx(0.625)
    assert (r.rates["VQ"].wins, r.rates["VQ"].ties, r.rates["VQ"].losses) == (2, 1, 1)
    # TA: win, loss, tie, tie -> (1 + 1) / 4
    assert r.rates["TA"].win_rate == pytest.approx(0.5)
    # Overall = VQ + 2 TA: base 1,2,3,4; candidate 4,0,1,5 -> win, loss, loss, win
    assert r.rates["Overall"].win_rate == pytest.approx(0.5)
    assert list(r.rates) == ["VQ", "TA", "Overall"]
    assert r.rates["VQ"].low == r.rates["VQ"].high == r.rates["VQ"].win_rate
    assert "| VQ | 62.5 |" in r.table()


def test_tie_epsilon_widens_ties():
    # VQ differences 1, 0, -2, 1; with eps = 1 three are ties -> 1.5 / 4
    r = win_rates(BASE, CAND, ["VQ"], tie_eps=1.0, n_bootstrap=0)
    assert r.rates["VQ"].win_rate == pytest.approx(0.375)
    assert r.rates["VQ"].ties == 3
    np.testing.assert_array_equal(outcomes([0, 0, 0], [0.1, -0.1, 0.0]), [1.0, 0.0, 0.5])


def test_identical_sets_score_one_half():
    r = win_rates(BASE, BASE, ["VQ", "TA"], n_bootstrap=200)
    for rate in r.rates.values():
        assert rate.win_rate == rate.low == rate.high == 0.5


def _random_scores(n_prompts, n_seeds, rng):
    prompts = [f"p{i}" for i in range(n_prompts) for _ in range(n_seeds)]
    base = [{"VQ": float(x)} for x in rng.normal(size=len(prompts))]
    cand = [{"VQ": float(x)} for x in rng.normal(0.3, 1.0, size=len(prompts))]
    return base, cand, prompts


def test_bootstrap_contains_estimate_is_seeded_and_shrinks_with_more_prompts():
    rng = np.random.default_rng(0)
    small = _random_scores(12, 2, rng)
    large = _random_scores(300, 2, rng)
    r1 = win_rates(*small[:2], ["VQ"], prompts=small[2], n_bootstrap=500, seed=3)
    r2 = win_rates(*small[:2], ["VQ"], prompts=small[2], n_bootstrap=500, seed=3)
    r3 = win_rates(*small[:2], ["VQ"], prompts=small[2], n_bootstrap=500, seed=4)
    assert r1.rates == r2.rates
    assert r1.rates["VQ"].low != r3.rates["VQ"].low or r1.rates["VQ"].high != r3.rates["VQ"].high
    big = win_rates(*large[:2], ["VQ"], prompts=large[2], n_bootstrap=500, seed=3)
    for r in (r1, big):
        v = r.rates["VQ"]
        assert v.low <= v.win_rate <= v.high
    width = lambda r: r.rates["VQ"].high - r.rates["VQ"].low  # noqa: E731
    assert width(big) < 0.5 * width(r1)


def test_bootstrap_resamples_prompts_not_samples():
    # 10 prompts x 10 seeds; every seed of a prompt has the same outcome, so the
    # evidence is 10 clusters, not 100 independent samples.
    values = np.repeat(np.array([1.0, 0.0] * 5), 10)[:, None]
    clusters = np.repeat(np.arange(10), 10)
    low_c, high_c = cluster_bootstrap(values, clusters, n_bootstrap=2000, seed=0)
    low_i, high_i = cluster_bootstrap(values, np.arange(100), n_bootstrap=2000, seed=0)
    assert (high_c - low_c)[0] > 2 * (high_i - low_i)[0]


def test_bad_inputs_are_named():
    with pytest.raises(EvalError, match="4 base scores but 3"):
        win_rates(BASE, CAND[:3], ["VQ"])
    with pytest.raises(EvalError, match="no 'MQ'"):
        win_rates(BASE, CAND, ["MQ"])
    with pytest.raises(EvalError, match="non-finite"):
        win_rates(BASE, [{"VQ": float("nan"), "TA": 0}, *CAND[1:]], ["VQ"])
    with pytest.raises(EvalError, match="missing"):
        win_rates(BASE, CAND, ["VQ", "TA"], weights={"VQ": 1})
    with pytest.raises(EvalError, match="tie_eps"):
        win_rates(BASE, CAND, ["VQ"], tie_eps=-1)


def test_mismatched_sets_list_what_is_missing():
    base = [Sample("a", 1, "x"), Sample("a", 2, "y"), Sample("b", 1, "z")]
    cand = [Sample("a", 1, "x2"), Sample("b", 1, "z2"), Sample("c", 7, "w")]
    with pytest.raises(EvalError) as err:
        match_sample_sets(base, cand)
    msg = str(err.value)
    assert "1 missing from the candidate set: 'a' seed 2" in msg
    assert "1 missing from the base set: 'c' seed 7" in msg
    pairs = match_sample_sets([base[2], base[0]], cand[:2])  # candidate order differs
    assert [(p.path, q.path) for p, q in pairs] == [("z", "z2"), ("x", "x2")]


def test_read_sample_set_errors_name_line(tmp_path):
    with pytest.raises(EvalError, match=r"no index\.jsonl"):
        read_sample_set(tmp_path)
    (tmp_path / "v.mp4").write_bytes(b"x")
    idx = tmp_path / "index.jsonl"
    idx.write_text('{"prompt": "p", "seed": 1, "path": "v.mp4"}\n{"prompt": "p", "seed": "2"}\n')
    with pytest.raises(EvalError, match=r"index.jsonl:2: 'seed' must be an integer"):
        read_sample_set(tmp_path)
    idx.write_text(
        '{"prompt": "p", "seed": 1, "path": "v.mp4"}\n{"prompt": "p", "seed": 1, "path": "v.mp4"}\n'
    )
    with pytest.raises(EvalError, match="repeats line 1"):
        read_sample_set(tmp_path)
    idx.write_text('{"prompt": "p", "seed": 1, "path": "gone.mp4"}\n')
    with pytest.raises(EvalError, match=r"gone\.mp4 not found"):
        read_sample_set(tmp_path)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("winrate")
    clean = write_sample_set(root / "clean")
    noisy = write_sample_set(root / "noisy", severities={"noise": 0.8})
    return clean, noisy


def test_run_winrate_oracle_prefers_clean_samples(sets, tmp_path):
    clean, noisy = sets
    judge = load_judge("oracle", named=named_judges())
    r = run_winrate(noisy, clean, judge, n_bootstrap=200, cache_dir=tmp_path)
    assert r.n_samples == 6 and r.n_prompts == 3
    assert r.rates["VQ"].win_rate == 1.0  # every clean clip beats its noisy twin on VQ
    assert r.rates["Overall"].win_rate > 0.5
    assert (tmp_path / "base-oracle.jsonl").is_file()
    again = run_winrate(noisy, clean, judge, n_bootstrap=200, cache_dir=tmp_path)
    assert again.rates == r.rates  # read back from the cache


def test_cli_winrate_writes_json_and_reports_mismatch(sets, tmp_path, capsys):
    clean, noisy = sets
    out = tmp_path / "wr.json"
    rc = main([
        "eval", "winrate", "--base", str(noisy), "--candidate", str(clean), "--judge", "oracle",
        "--weights", "VQ=1,MQ=1,TA=0", "--bootstrap", "100", "--seed", "1", "--out", str(out),
        "--cache-dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["rates"]["VQ"]["win_rate"] == 1.0
    assert data["weights"] == {"VQ": 1.0, "MQ": 1.0, "TA": 0.0}
    assert "| Overall |" in capsys.readouterr().out

    short = write_sample_set(tmp_path / "short", prompts=PROMPTS[:2], seeds=(1,))
    rc = main(["eval", "winrate", "--base", str(clean), "--candidate", str(short),
               "--judge", "oracle", "--bootstrap", "0"])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert "4 missing from the candidate set" in err and "seed 2" in err
    assert main(["eval", "winrate", "--base", str(clean), "--candidate", str(clean),
                 "--judge", str(tmp_path / "nope")]) == 2  # fmt: skip
    assert "neither 'oracle' nor a reward model folder" in capsys.readouterr().err
