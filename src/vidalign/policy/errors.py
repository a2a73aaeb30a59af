"""Errors of the generator side (adapters, folders, LoRA files, sampling inputs)."""

from vidalign.errors import VidalignError


class GeneratorError(VidalignError):
    """A generator folder, prompt, LoRA file or clip does not fit what the adapter expects."""
