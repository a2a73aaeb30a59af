"""Sampling: per-sample seeds independent of batch size, CFG path, mp4 + index.jsonl via the CLI."""

import json

import pytest
import torch

from vidalign.cli.main import main
from vidalign.policy import GeneratorError, SamplingDefaults, save_generator
from vidalign.policy.sampling import initial_noise, sample_latents, sample_seed, sample_videos
from vidalign.policy.tiny import build_pixel_generator, save_tiny_wan_folder
from vidalign.video import read_video

PROMPTS = ["a red circle moves left", "a blue square moves up", "a green star"]


def tiny_generator():
    defaults = SamplingDefaults(num_frames=4, height=16, width=16, fps=8, steps=2, cfg=1.0)
    return build_pixel_generator(
        PROMPTS, defaults, num_layers=1, num_heads=2, head_dim=16, ffn_dim=32, text_dim=16,
        text_layers=1, text_heads=2, max_sequence_length=16,
    )  # fmt: skip


def test_noise_rows_depend_only_on_their_seed():
    a = initial_noise((2, 3), [5, 6, 7])
    b = initial_noise((2, 3), [7])
    assert torch.equal(a[2], b[0]) and not torch.equal(a[0], a[1])
    assert sample_seed(0, 1) != sample_seed(0, 2) != sample_seed(1, 1)


def test_samples_do_not_depend_on_batch_size():
    gen = tiny_generator()
    seeds = [sample_seed(3, i) for i in range(3)]
    one = sample_latents(gen, PROMPTS, seeds, batch_size=1)
    three = sample_latents(gen, PROMPTS, seeds, batch_size=3)
    assert one.shape == (3, 3, 4, 16, 16)
    assert torch.allclose(one, three, atol=1e-5)
    again = sample_latents(gen, PROMPTS, seeds, batch_size=2)
    assert torch.allclose(one, again, atol=1e-5)
    other = sample_latents(gen, PROMPTS, [s + 1 for s in seeds], batch_size=3)
    assert not torch.allclose(one, other)


def test_cfg_and_velocity_wrapper_change_samples_and_compose():
    gen = tiny_generator()
    seeds = [1, 2]
    plain = sample_latents(gen, PROMPTS[:2], seeds)
    guided = sample_latents(gen, PROMPTS[:2], seeds, cfg=3.0)
    assert not torch.allclose(plain, guided)
    calls = []

    def wrapper(model):
        def wrapped(x_t, t, cond):
            calls.append(t.shape)
            return model(x_t, t, cond)

        return wrapped

    same = sample_latents(gen, PROMPTS[:2], seeds, cfg=3.0, velocity_wrapper=wrapper)
    assert torch.equal(same, guided) and calls == [(2,), (2,)]


def test_sample_videos_returns_uint8_clips_and_checks_inputs():
    gen = tiny_generator()
    frames = sample_videos(gen, PROMPTS[:2], [0, 1], steps=2)
    assert frames.dtype == torch.uint8 and frames.shape == (2, 4, 3, 16, 16)
    with pytest.raises(GeneratorError, match="seeds"):
        sample_videos(gen, PROMPTS[:2], [0])


def test_sample_cli_writes_playable_mp4s_and_index(tmp_path):
    save_generator(tiny_generator(), tmp_path / "gen")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS[:2]) + "\n\n")
    out = tmp_path / "out"
    rc = main(["sample", str(tmp_path / "gen"), "--prompts", str(prompts), "--out", str(out),
               "--steps", "2", "--seed", "4", "--batch-size", "2", "--cfg", "2.0"])  # fmt: skip
    assert rc == 0
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == PROMPTS[:2]
    assert [r["seed"] for r in rows] == [sample_seed(4, 0), sample_seed(4, 1)]
    video = read_video(out / rows[1]["path"])
    assert video.frames.shape == (4, 3, 16, 16) and video.fps == 8
    rc = main(["sample", str(tmp_path / "gen"), "--prompt", PROMPTS[1], "--out", str(tmp_path / "o2"),
               "--steps", "2", "--seed", "4", "--cfg", "2.0"])  # fmt: skip
    assert rc == 0  # a single prompt is sample 0 of its run: same seed as row 0 above
    row = json.loads((tmp_path / "o2" / "index.jsonl").read_text())
    assert row["seed"] == rows[0]["seed"]


def test_sample_cli_reports_a_missing_prompt_file(tmp_path, capsys):
    save_generator(tiny_generator(), tmp_path / "gen")
    rc = main(["sample", str(tmp_path / "gen"), "--prompts", str(tmp_path / "none.txt"),
               "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 2 and "none.txt" in capsys.readouterr().err


def test_sample_cli_on_a_tiny_wan_folder_decodes_through_the_vae(tmp_path):
    root = save_tiny_wan_folder(tmp_path / "wan")
    rc = main(["sample", str(root), "--prompt", "a red circle", "--out", str(tmp_path / "o"),
               "--steps", "2", "--cfg", "2", "--num-frames", "5", "--height", "16", "--width", "16"])  # fmt: skip
    assert rc == 0
    video = read_video(tmp_path / "o" / "videos" / "000000.mp4")
    assert video.frames.shape == (5, 3, 16, 16) and video.fps == 16
