"""Dataset builder: real mp4 files, VideoAlign CSVs, deterministic bytes, prompt-disjoint splits."""

import numpy as np

from vidalign.cli.main import main
from vidalign.data import load_pairs
from vidalign.synth.dataset import build_dataset
from vidalign.synth.prompts import is_hard, parse_prompt
from vidalign.synth.stats import dataset_stats
from vidalign.video import read_video


def _build(out):
    return build_dataset(
        out,
        num_prompts=6,
        pairs_per_prompt=2,
        seed=11,
        size=32,
        num_frames=8,
        eval_prompts=5,
        hard_prompts=4,
        progress=False,
    )


def test_dataset_is_deterministic_and_split_by_prompt(tmp_path, capsys):
    import torch

    a, b = tmp_path / "a", tmp_path / "b"
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        summary = _build(a)  # in-process: must leave the caller's thread count alone
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    _build(b)
    for name in ("train.csv", "val.csv", "test.csv", "train.jsonl", "clips.csv", "world.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert summary.pairs == {"train": 8, "val": 2, "test": 2}

    prompts = {}
    for split in ("train", "val", "test"):
        pairs = load_pairs(a / f"{split}.csv", check_files=True)
        assert len(pairs) == summary.pairs[split]
        prompts[split] = {p.prompt for p in pairs}
        for p in pairs:
            assert p.meta["A_model"] != p.meta["B_model"]
            assert set(p.labels) == {"VQ", "MQ", "TA", "Overall"}
            assert p.fps_a == 8.0 and p.num_frames_a == 8
            assert all(1.0 <= v <= 5.0 for v in p.mos_a.values())
    assert not prompts["train"] & prompts["val"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["val"] & prompts["test"]
    used = set().union(*prompts.values())
    general = set((a / "prompts" / "general.txt").read_text().splitlines())
    hard = (a / "prompts" / "hard.txt").read_text().splitlines()
    assert len(general) == 5 and not general & used
    assert len(hard) == 4 and all(is_hard(parse_prompt(h)) for h in hard)

    video = read_video(pairs[0].path_a)
    assert tuple(video.frames.shape) == (8, 3, 32, 32)

    stats = dataset_stats(a)
    assert sum(n for _, n in stats.generators.values()) == 2 * 12
    assert set(stats.tie_rates) == {"VQ", "MQ", "TA", "Overall"}
    assert all(0.0 <= w <= 1.0 for w, _ in stats.ceiling.values())
    assert main(["synth", "stats", str(a)]) == 0
    assert "annotator ceiling" in capsys.readouterr().out


def test_stats_of_a_folder_without_data(tmp_path, capsys):
    assert main(["synth", "stats", str(tmp_path)]) == 2
    assert "no train.csv" in capsys.readouterr().err


def test_ceiling_above_chance_on_a_real_build(tmp_path):
    build_dataset(
        tmp_path,
        num_prompts=12,
        pairs_per_prompt=4,
        seed=2,
        size=32,
        num_frames=8,
        eval_prompts=0,
        hard_prompts=0,
        progress=False,
    )
    stats = dataset_stats(tmp_path)
    accs = np.array([wo for _, wo in stats.ceiling.values()])
    assert (accs > 0.6).all(), stats.ceiling


def test_held_out_prompts_avoid_the_excluded_ones(tmp_path):
    from vidalign.eval.prompt_sets import read_prompt_set
    from vidalign.synth.prompts import general_prompts

    base_training = general_prompts(40, 12)  # the held-out draw is general_prompts(5, 11 + 1)
    kwargs = dict(num_prompts=2, pairs_per_prompt=1, seed=11, size=16, num_frames=4,
                  eval_prompts=5, hard_prompts=1, progress=False)  # fmt: skip
    build_dataset(tmp_path / "a", **kwargs)
    build_dataset(tmp_path / "b", exclude_eval=base_training, **kwargs)
    plain = read_prompt_set(tmp_path / "a" / "prompts" / "general.txt")
    held = read_prompt_set(tmp_path / "b" / "prompts" / "general.txt")
    assert set(plain) <= set(base_training)  # without the exclusion they would overlap
    assert len(held) == 5 and not set(held) & set(base_training)
