"""``vidalign reward eval`` end to end on real mp4 clips of the synthetic world."""

import argparse
import json
import shutil

import pytest

from vidalign.cli.reward_eval import add_eval_parser, config_from_args
from vidalign.config import ConfigError, parse_weights
from vidalign.data import PreferencePair, save_pairs
from vidalign.eval.reward_eval_run import RewardEvalConfig, run_reward_eval
from vidalign.eval.score_cache import ScoringError
from vidalign.eval.scorer import EvalError
from vidalign.synth.degrade import render_with_failures
from vidalign.synth.oracle import judge
from vidalign.synth.prompts import general_prompts, parse_prompt
from vidalign.synth.scorers import OracleCeiling, OracleScorer
from vidalign.video import read_video, write_video

# (A, B, labels): each pair differs on one dimension only
PLAN = [
    ("clean", "noise", {"VQ": 1, "MQ": 0, "TA": 0}),
    ("jitter", "clean", {"VQ": 0, "MQ": -1, "TA": 0}),
    ("clean", "wrong_colour", {"VQ": 0, "MQ": 0, "TA": 1}),
]
FAILURES = {
    "clean": {},
    "noise": {"noise": 0.8},
    "jitter": {"jitter": 0.8},
    "wrong_colour": {"wrong_colour": 1.0},
}


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory):
    """6 pairs over 2 prompts, 8 real mp4 clips (64x64, 16 frames, 8 fps), relative paths."""
    root = tmp_path_factory.mktemp("synth")
    (root / "videos").mkdir()
    pairs = []
    for i, prompt in enumerate(general_prompts(2, seed=0)):
        scene = parse_prompt(prompt)
        paths = {}
        for name, sev in FAILURES.items():
            frames = render_with_failures(scene, sev, seed=i)
            paths[name] = str(write_video(root / "videos" / f"p{i}_{name}.mp4", frames, 8.0))
        for a, b, labels in PLAN:
            pairs.append(PreferencePair(prompt, paths[a], paths[b], dict(labels)))
    csv = save_pairs(pairs, root / "test.csv", relative_to=root)
    return root, csv


def test_parse_weights_and_parser():
    assert parse_weights("VQ=1, MQ=0.5,TA=0") == {"VQ": 1.0, "MQ": 0.5, "TA": 0.0}
    for bad in ("VQ", "VQ=x", "=1", ","):
        with pytest.raises(ConfigError, match="weights"):
            parse_weights(bad)
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "eval",
            "runs/rm",
            "--data",
            "d.csv",
            "--video-root",
            "v",
            "--out",
            "o",
            "--weights",
            "VQ=2,MQ=1,TA=0",
            "--no-oracle",
            "--skip-errors",
            "--seed",
            "3",
        ]
    )
    cfg = config_from_args(args)
    assert cfg == RewardEvalConfig(
        model="runs/rm",
        data="d.csv",
        video_root="v",
        out="o",
        weights={"VQ": 2.0, "MQ": 1.0, "TA": 0.0},
        oracle=False,
        skip_errors=True,
        seed=3,
    )


def test_oracle_scorer_on_real_mp4s(synth_data):
    root, _ = synth_data
    clip = str(root / "videos" / "p0_clean.mp4")
    prompt = general_prompts(2, seed=0)[0]
    s = OracleScorer(stats={"VQ": (0.5, 0.25)}).score(
        [clip], [prompt], weights={"VQ": 1.0, "MQ": 2.0, "TA": 0.0}
    )[0]
    raw = judge(read_video(clip), prompt)
    assert s["VQ"] == pytest.approx((raw["VQ"] - 0.5) / 0.25)
    assert s["MQ"] == pytest.approx(raw["MQ"])
    assert s["Overall"] == pytest.approx(s["VQ"] + 2 * s["MQ"])
    assert OracleScorer().score([clip], [prompt], normalize=False)[0]["VQ"] == raw["VQ"]


def test_baselines_end_to_end_and_cached_rerun(synth_data, tmp_path):
    _, csv = synth_data
    cfg = RewardEvalConfig(model="oracle", data=str(csv), out=str(tmp_path / "out"))
    run = run_reward_eval(cfg, oracle=OracleCeiling(), progress=False)
    assert list(run.results) == ["Random", "Oracle (ceiling)"]
    oracle = run.results["Oracle (ceiling)"]
    for d in ("VQ", "MQ", "TA"):  # the noise-free oracle orders every degraded pair
        assert oracle.columns[d].acc_without_ties == 1.0
        assert oracle.columns[d].n_pairs == 6
    assert oracle.overall_labels == "pooled"
    assert run.results["Random"].columns["MQ"].n_ties == 4
    md = run.paths["report"].read_text()
    assert "| Model | Overall | VQ | MQ | TA |" in md
    assert "| Oracle (ceiling) | " in md and "| Random | " in md
    doc = json.loads(run.paths["results"].read_text())
    assert doc["scorers"]["Oracle (ceiling)"]["columns"]["TA"]["acc_without_ties"] == 1.0
    assert run.paths["plot"].stat().st_size > 0
    assert (tmp_path / "out" / "config.yaml").is_file()
    caches = sorted((tmp_path / "out" / "cache").glob("*.jsonl"))
    assert [c.name for c in caches] == ["oracle.jsonl", "random.jsonl"]
    sizes = [len(c.read_text().splitlines()) for c in caches]
    assert sizes == [8, 8]  # 8 unique (video, prompt)
    again = run_reward_eval(
        cfg, oracle=OracleCeiling(), progress=False
    )  # everything from the cache
    assert [len(c.read_text().splitlines()) for c in caches] == sizes
    assert again.results["Oracle (ceiling)"].to_dict() == oracle.to_dict()


def test_without_an_oracle_passed_in_there_is_no_oracle_row(synth_data, tmp_path):
    _, csv = synth_data
    cfg = RewardEvalConfig(model="random", data=str(csv), out=str(tmp_path / "out"))
    run = run_reward_eval(cfg, progress=False)
    assert list(run.results) == ["Random"]
    assert "No oracle row: no oracle was passed in." in run.notes
    cfg = RewardEvalConfig(model="oracle", data=str(csv), out=str(tmp_path / "o"))
    with pytest.raises(EvalError, match="no oracle was passed in"):
        run_reward_eval(cfg, progress=False)


def test_corrupt_video_error_or_skip(synth_data, tmp_path):
    root, _ = synth_data
    data = tmp_path / "data"
    shutil.copytree(root, data)
    (data / "videos" / "broken.mp4").write_bytes(b"\x00not a video" * 10)
    lines = (data / "test.csv").read_text().splitlines()
    lines.append(lines[1].replace("p0_noise.mp4", "broken.mp4", 1))
    (data / "test.csv").write_text("\n".join(lines) + "\n")
    cfg = RewardEvalConfig(model="random", data=str(data / "test.csv"), out=str(tmp_path / "o"))
    with pytest.raises(ScoringError, match=r"broken\.mp4"):
        run_reward_eval(cfg, oracle=OracleCeiling(), progress=False)
    cfg.skip_errors = True
    run = run_reward_eval(cfg, oracle=OracleCeiling(), progress=False)
    assert run.n_skipped_pairs == 1
    # the Random scorer could hash the broken file, but its row drops the pair too
    assert [r.n_pairs for r in run.results.values()] == [6, 6]
    skipped = [json.loads(x) for x in (tmp_path / "o" / "skipped.jsonl").read_text().splitlines()]
    assert [s["scorer"] for s in skipped] == ["Oracle (ceiling)"]
    assert skipped[0]["path"].endswith("broken.mp4") and skipped[0]["reason"]
    assert skipped[0]["reason"].startswith("not a readable video file")  # the path once, as path
    assert "Skipped: 1 pair(s)" in run.paths["report"].read_text()


def test_non_synthetic_data_and_bad_model(tmp_path):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"a")
    (tmp_path / "b.mp4").write_bytes(b"b")
    pairs = [PreferencePair("a cat plays piano", "a.mp4", "b.mp4", {"VQ": 1, "Overall": -1})]
    csv = save_pairs(pairs, tmp_path / "bench.csv")
    run = run_reward_eval(
        RewardEvalConfig(model="random", data=str(csv), out=str(tmp_path / "o")),
        oracle=OracleCeiling(),
        progress=False,
    )
    assert list(run.results) == ["Random"]
    assert run.results["Random"].overall_labels == "Overall"
    assert run.results["Random"].dims == ["VQ"]
    assert any("No oracle row" in n for n in run.notes)
    with pytest.raises(EvalError, match="not from the synthetic grammar"):
        run_reward_eval(
            RewardEvalConfig(model="oracle", data=str(csv), out=str(tmp_path / "o")),
            oracle=OracleCeiling(),
        )
    with pytest.raises(EvalError, match="is not a folder"):
        run_reward_eval(RewardEvalConfig(model=str(tmp_path / "nope"), data=str(csv)))
    with pytest.raises(EvalError, match="missing"):
        run_reward_eval(
            RewardEvalConfig(
                model="random", data=str(csv), out=str(tmp_path / "o"), weights={"TA": 1.0}
            )
        )


@pytest.mark.slow
def test_reward_model_row_through_the_cli(synth_data, tmp_path, capsys):
    from vidalign.cli.main import main
    from vidalign.reward.builder import build_tiny
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.scorer import RewardScorer
    from vidalign.reward.template import RewardTemplate
    from vidalign.reward.tiny import TinyQwen2VLSpec

    root, csv = synth_data
    dims = ("VQ", "MQ", "TA")
    model, rp = build_tiny(
        dims=dims,
        spec=TinyQwen2VLSpec(),
        contract=SamplingContract(fps=None, num_frames=4, max_pixels=56 * 56),
        template=RewardTemplate.builtin("default", dims),
    )
    scorer = RewardScorer(model, rp, batch_size=4)
    videos = sorted(str(p) for p in (root / "videos").glob("*.mp4"))
    prompts = [general_prompts(2, seed=0)[int(p.split("/p")[-1][0])] for p in videos]
    scorer.fit_normalization(videos, prompts)
    folder = scorer.save_pretrained(tmp_path / "tiny-rm")
    out = tmp_path / "out"
    argv = [
        "reward",
        "eval",
        str(folder),
        "--data",
        str(csv),
        "--out",
        str(out),
        "--weights",
        "VQ=1,MQ=1,TA=0",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| tiny-rm | " in printed and "| Oracle (ceiling) | " in printed
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["scorers"]) == ["Random", "Oracle (ceiling)", "tiny-rm"]
    assert doc["scorers"]["tiny-rm"]["weights"] == {"VQ": 1.0, "MQ": 1.0, "TA": 0.0}
    assert len((out / "cache" / "model-tiny-rm.jsonl").read_text().splitlines()) == 8
    # the model's scores in the cache are its normalised rewards
    entry = json.loads((out / "cache" / "model-tiny-rm.jsonl").read_text().splitlines()[0])
    clip = scorer.score([entry["path"]], [entry["prompt"]])[0]
    assert entry["scores"]["VQ"] == pytest.approx(clip["VQ"], abs=1e-5)
    # user errors exit with 2 and no traceback
    assert main(["reward", "eval", str(tmp_path / "nope"), "--data", str(csv)]) == 2
    assert "is not a folder" in capsys.readouterr().err
