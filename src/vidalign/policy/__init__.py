"""Generator side: adapters over diffusers video transformers, text conditioning, LoRA, sampling."""

from vidalign.policy.adapter import Generator, SamplingDefaults, WanAdapter
from vidalign.policy.errors import GeneratorError
from vidalign.policy.folder import load_generator, save_generator
from vidalign.policy.latent import PixelLatent, WanVAELatent

__all__ = [
    "Generator",
    "GeneratorError",
    "PixelLatent",
    "SamplingDefaults",
    "WanAdapter",
    "WanVAELatent",
    "load_generator",
    "save_generator",
]
