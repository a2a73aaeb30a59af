"""The reward-hacking monitor runs inside the alignment trainer on the current policy."""

import json
from typing import ClassVar

import pytest
import torch

from align_testdata import save_tiny_generator, write_pair_folder
from vidalign.align.config import AlignConfig
from vidalign.align.trainer import train_align
from vidalign.config import load_config
from vidalign.eval.judges import Judge


class MeanPixel:
    """A stand-in judge: the mean pixel value of each clip, on every dimension."""

    dims: ClassVar[list[str]] = ["VQ", "MQ", "TA"]

    def __init__(self):
        self.calls = 0

    def score(self, videos, prompts, *, normalize=True, weights=None):
        self.calls += 1
        out = []
        for v in videos:
            m = float(torch.as_tensor(v).float().mean()) / 255
            out.append({"VQ": m, "MQ": m, "TA": m, "Overall": 3 * m})
        return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    return save_tiny_generator(root / "gen"), write_pair_folder(root / "pairs", 4)


def test_monitor_samples_the_policy_every_n_steps(data, tmp_path):
    proxy, gold = MeanPixel(), MeanPixel()
    named = {"proxy": Judge(proxy, "proxy", "proxy"), "gold": Judge(gold, "gold", "gold")}
    gen, pairs = data
    cfg = load_config(AlignConfig, None, [
        f"policy={gen}", f"pairs={pairs}", f"out_dir={tmp_path / 'run'}", "steps=4",
        "batch_size=4", "lora.rank=4", "optim.lr=1e-2", "monitor.every=2",
        "monitor.proxy=proxy", "monitor.gold=gold", "monitor.num_prompts=2",
    ])  # fmt: skip
    train_align(cfg, named_judges=named)
    records = [json.loads(line) for line in (tmp_path / "run" / "hacking.jsonl").open()]
    assert [r["step"] for r in records] == [0, 2, 4]
    assert proxy.calls == gold.calls == 3
    # the LoRA changes the policy, so the samples (and so the scores) move between evaluations
    assert records[0]["proxy"] != records[-1]["proxy"]
    assert (tmp_path / "run" / "hacking.png").is_file()
