"""Reading colour, shape and direction back from clips: near-perfect on the clean renderer."""

import pytest
import torch

from vidalign.synth.attributes import read_attributes
from vidalign.synth.prompts import general_prompts, parse_prompt
from vidalign.synth.render import render_clean
from vidalign.synth.scenes import DIRECTIONS


@pytest.mark.parametrize("noise_std", [0.0, 6.0])
def test_clean_clips_are_read_correctly(noise_std):
    # Faint pixel noise (std 6 of 255) is barely visible; summed over the frame it once
    # added a small object's area to the soft mask and halved the shape accuracy.
    prompts = [p for p in general_prompts(200, 3) if len(parse_prompt(p).objects) == 1][:60]
    noise = torch.Generator().manual_seed(0)
    colour = shape = direction = moving = 0
    for i, prompt in enumerate(prompts):
        obj = parse_prompt(prompt).objects[0]
        clip = torch.as_tensor(render_clean(parse_prompt(prompt), size=32, num_frames=8, seed=i))
        clip = clip.float() + noise_std * torch.randn(clip.shape, generator=noise)
        got = read_attributes(clip.round().clamp(0, 255).to(torch.uint8))
        colour += got.colour == obj.colour
        shape += got.shape == obj.shape
        if obj.motion in DIRECTIONS:
            moving += 1
            direction += got.direction == obj.motion
    assert colour / len(prompts) >= 0.9  # chance 1/8
    assert shape / len(prompts) >= 0.9  # chance 1/4
    assert moving >= 10 and direction / moving >= 0.9  # chance 1/4


def test_a_blank_or_still_clip_reads_nothing():
    blank = torch.full((8, 3, 32, 32), 40, dtype=torch.uint8)
    got = read_attributes(blank)
    assert got.colour is None and got.shape is None and got.direction is None
    still = render_clean(parse_prompt("a large red square stays still on a black background"),
                         size=32, num_frames=8)  # fmt: skip
    got = read_attributes(still)
    assert got.colour == "red" and got.shape == "square" and got.direction is None
