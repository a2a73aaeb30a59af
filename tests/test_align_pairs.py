"""On-policy pairs: labels from reward differences, margin filter, weights, the cached files."""

import json

import pytest
import torch
from safetensors.torch import load_file

from align_testdata import save_tiny_generator, tiny_generator
from vidalign.align.data import read_clip_pairs
from vidalign.align.pairs import MakePairsError, ScoredSample, make_pairs, pair_samples
from vidalign.cli.main import main
from vidalign.data import load_pairs
from vidalign.synth.prompts import general_prompts
from vidalign.synth.scorers import OracleScorer
from vidalign.video import read_video


def sample(i, prompt, **scores):
    s = ScoredSample(i, prompt, i, f"videos/{i}.mp4", f"latents/{i}.safetensors", dict(scores))
    s.scores["Overall"] = sum(scores.values())
    return s


def test_labels_follow_score_differences_with_ties_and_margin():
    a = sample(0, "p", VQ=1.0, TA=0.0)  # Overall 1.0
    b = sample(1, "p", VQ=0.0, TA=0.05)  # Overall 0.05
    c = sample(2, "p", VQ=0.0, TA=0.0)  # Overall 0.0
    other = sample(3, "q", VQ=5.0, TA=5.0)  # alone in its prompt: never paired
    pairs = pair_samples([a, b, c, other], dims=["VQ", "TA"], tie_margin=0.1)
    assert len(pairs) == 3
    for p in pairs:
        win = {p.path_a: p.meta["reward_A"], p.path_b: p.meta["reward_B"]}
        ra, rb = float(win[p.path_a]), float(win[p.path_b])
        assert p.labels["Overall"] == (0 if abs(ra - rb) <= 0.1 else (1 if ra > rb else -1))
        if {p.path_a, p.path_b} == {"videos/1.mp4", "videos/2.mp4"}:
            assert p.labels == {"VQ": 0, "TA": 0, "Overall": 0}  # |0.05| within the tie margin
    kept = pair_samples([a, b, c], dims=["VQ", "TA"], margin=0.5)
    assert len(kept) == 2  # (b, c) differs by 0.05 < 0.5
    best = pair_samples([a, b, c], dims=["VQ", "TA"], pairing="best_worst")
    assert len(best) == 1 and {best[0].path_a, best[0].path_b} == {"videos/0.mp4", "videos/2.mp4"}
    sides = [p.labels["Overall"] for p in pair_samples([a, b, c] * 1, dims=["VQ"], seed=3)]
    assert set(sides) <= {1, -1}
    with pytest.raises(MakePairsError, match="pairing"):
        pair_samples([a, b], dims=["VQ"], pairing="nope")


def test_make_pairs_writes_a_pair_file_latents_and_scores(tmp_path):
    gen = tiny_generator()
    prompts = list(general_prompts(3, 1))
    res = make_pairs(gen, OracleScorer(), prompts, tmp_path, samples_per_prompt=3,
                     progress=False, batch_size=4)  # fmt: skip
    assert len(res.samples) == 9 and len(res.pairs) == 9  # 3 prompts × C(3, 2)
    pairs = load_pairs(tmp_path / "pairs.csv", dims=["VQ", "MQ", "TA"], check_files=True)
    assert len(pairs) == 9 and all("Overall" in p.labels for p in pairs)
    scores = {r["video"]: r for r in map(json.loads, (tmp_path / "scores.jsonl").open())}
    assert len(scores) == 9
    for p in pairs:
        sa = scores[p.path_a.split(str(tmp_path) + "/")[1]]
        sb = scores[p.path_b.split(str(tmp_path) + "/")[1]]
        diff = sa["reward"] - sb["reward"]
        assert p.labels["Overall"] == (1 if diff > 0 else -1 if diff < 0 else 0)
        assert sa["prompt"] == sb["prompt"] == p.prompt

    # the cached x0 is the sample that the mp4 shows: of all cached samples, its own decodes
    # closest to the video (H.264 of noisy 16x16 clips is far from lossless)
    def grey(frames):
        return frames.float().mean(1).flatten()

    for row in scores.values():
        x0 = load_file(str(tmp_path / row["latent"]))["x0"]
        assert tuple(x0.shape) == gen.latent_shape()
        video = grey(read_video(tmp_path / row["video"]).frames)
        corr = {
            other["latent"]: float(
                torch.corrcoef(
                    torch.stack(
                        [
                            video,
                            grey(
                                gen.decode(load_file(str(tmp_path / other["latent"]))["x0"][None])[
                                    0
                                ]
                            ),
                        ]
                    )
                )[0, 1]
            )
            for other in scores.values()
        }
        assert corr[row["latent"]] > 0.8
        assert max(corr, key=corr.get) == row["latent"]
    # the trainer reads the latents and rewards back
    clip_pairs = read_clip_pairs(tmp_path / "pairs.csv")
    assert all(c.winner.reward >= c.loser.reward for c in clip_pairs)
    assert all(c.winner.latent.endswith(".safetensors") for c in clip_pairs)
    doc = json.loads((tmp_path / "make_pairs.json").read_text())
    assert doc["weights"] == {"VQ": 1.0, "MQ": 1.0, "TA": 1.0} and doc["num_pairs"] == 9


def test_weights_change_which_sample_wins(tmp_path):
    gen = tiny_generator()
    prompts = list(general_prompts(2, 2))
    kw = dict(samples_per_prompt=3, progress=False)
    ta = make_pairs(gen, OracleScorer(), prompts, tmp_path / "ta",
                    weights={"VQ": 0, "MQ": 0, "TA": 1}, **kw)  # fmt: skip
    for s in ta.samples:
        assert s.reward == pytest.approx(s.scores["TA"])
    for p in ta.pairs:
        assert p.labels["Overall"] == p.labels["TA"]
    # the same samples (same seeds, bit-identical latents) are written again: the same mp4
    # bytes, so the same scores on every dimension (Overall follows the weights)
    same = make_pairs(gen, OracleScorer(), prompts, tmp_path / "all", **kw)
    for s, t in zip(same.samples, ta.samples, strict=True):
        assert s.seed == t.seed
        x_s = load_file(str(tmp_path / "all" / s.latent))["x0"]
        x_t = load_file(str(tmp_path / "ta" / t.latent))["x0"]
        assert torch.equal(x_s, x_t)
        video = (tmp_path / "all" / s.video).read_bytes()
        assert video == (tmp_path / "ta" / t.video).read_bytes()
        assert {d: s.scores[d] for d in ("VQ", "MQ", "TA")} == {
            d: t.scores[d] for d in ("VQ", "MQ", "TA")
        }
        assert s.reward == pytest.approx(s.scores["VQ"] + s.scores["MQ"] + s.scores["TA"])


def test_make_pairs_rejects_bad_settings(tmp_path):
    gen = tiny_generator()
    with pytest.raises(MakePairsError, match="at least 2"):
        make_pairs(gen, OracleScorer(), ["a red circle"], tmp_path, samples_per_prompt=1)
    with pytest.raises(MakePairsError, match="distinct"):
        make_pairs(gen, OracleScorer(), ["a", "a"], tmp_path, samples_per_prompt=2)
    with pytest.raises(MakePairsError, match="no pairs left"):
        make_pairs(gen, OracleScorer(), list(general_prompts(1, 5)), tmp_path,
                   samples_per_prompt=2, margin=1e9, progress=False)  # fmt: skip


class FailsTheFirst(OracleScorer):
    """The oracle, except that in report mode the first video fails as a reward model's would."""

    def score(self, videos, prompts, *, errors="raise", **kw):
        rows = super().score(videos, prompts, **kw)
        rows[0] = {"error": f"{videos[0]}: not a readable video file (Invalid data)"}
        return rows


def test_skipped_samples_are_listed_with_the_reason_once(tmp_path):
    res = make_pairs(tiny_generator(), FailsTheFirst(), list(general_prompts(1, 2)), tmp_path,
                     samples_per_prompt=3, skip_errors=True, progress=False)  # fmt: skip
    assert len(res.samples) == 2 and res.num_skipped == 1
    [row] = [json.loads(x) for x in (tmp_path / "skipped.jsonl").read_text().splitlines()]
    assert row["index"] == 0 and row["video"].startswith("videos/")
    assert row["error"] == "not a readable video file (Invalid data)"


def test_make_pairs_cli_with_a_tiny_reward_model(tmp_path, capsys):
    from vidalign.reward.builder import build_tiny
    from vidalign.reward.processing import SamplingContract
    from vidalign.reward.scorer import RewardScorer
    from vidalign.reward.template import RewardTemplate
    from vidalign.reward.tiny import TinyQwen2VLSpec

    dims = ("VQ", "MQ", "TA")
    prompts = list(general_prompts(2, 3))
    model, rp = build_tiny(
        dims=dims, spec=TinyQwen2VLSpec(), contract=SamplingContract(fps=None, num_frames=4),
        template=RewardTemplate.builtin("default", dims), corpus=prompts,
    )  # fmt: skip
    rm = RewardScorer(model, rp, batch_size=4).save_pretrained(tmp_path / "rm")
    gen = save_tiny_generator(tmp_path / "gen")
    (tmp_path / "prompts.txt").write_text("\n".join(prompts) + "\n")
    out = tmp_path / "pairs"
    argv = ["align", "make-pairs", "--policy", str(gen), "--reward", str(rm), "--prompts",
            str(tmp_path / "prompts.txt"), "--samples-per-prompt", "2", "--out", str(out),
            "--weights", "VQ=0,MQ=0,TA=1", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    assert "wrote 2 pairs from 4 samples" in capsys.readouterr().out
    pairs = load_pairs(out / "pairs.csv", check_files=True)
    assert len(pairs) == 2 and len(list((out / "latents").glob("*.safetensors"))) == 4
    doc = json.loads((out / "make_pairs.json").read_text())
    assert doc["normalized"] is False and doc["weights"]["TA"] == 1.0
    # unscorable reward settings are user errors
    assert main([*argv[:-4], "--weights", "VQ=1", "--device", "cpu"]) == 2
    assert torch.isfinite(torch.tensor([float(p.meta["reward_A"]) for p in pairs])).all()
