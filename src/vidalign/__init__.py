"""vidalign: post-training text-to-video generators with human feedback."""

__version__ = "0.1.0"

DEFAULT_DIMS: tuple[str, ...] = ("VQ", "MQ", "TA")
"""The paper's three preference dimensions: visual quality, motion quality, text alignment."""
