"""Pixel post-processing failures (visual quality) on float frames ``(F, H, W, 3)`` in [0, 1].

Each function takes a severity ``s`` in [0, 1] and a generator whose draws do not depend on
``s``, so that, for a fixed seed, the damage grows monotonically with ``s``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

BLOCK = 8
"""Side of the JPEG-like blocks (px)."""


def colour_shift(frames: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """A colour cast of norm ``0.2 s`` in a random RGB direction plus a saturation loss of ``0.15 s``."""
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    grey = frames.mean(axis=-1, keepdims=True)
    out = grey + (1 - 0.15 * s) * (frames - grey) + 0.2 * s * direction
    return np.clip(out, 0.0, 1.0)


def gaussian_blur(frames: np.ndarray, s: float) -> np.ndarray:
    """Separable Gaussian blur with ``sigma = 0.04 s`` times the shorter side (px)."""
    sigma = 0.04 * s * min(frames.shape[1:3])
    if sigma < 1e-3:
        return frames
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(torch.float32)
    x = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2)  # (F, 3, H, W)
    n, c, h, w = x.shape
    x = x.reshape(n * c, 1, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w).permute(0, 2, 3, 1).numpy().astype(frames.dtype)


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, shape (n, n): ``coeffs = D @ x``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


def blocking(frames: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """JPEG-like 8x8 damage: AC coefficients quantised with step ``0.05 s`` and a fixed
    per-block brightness error of standard deviation ``0.04 s``, clipped at two standard
    deviations (the visible block edges)."""
    f, h, w, _ = frames.shape
    hb, wb = -(-h // BLOCK), -(-w // BLOCK)
    dc_error = np.clip(rng.normal(size=(hb, wb)), -2.0, 2.0) * 0.04 * s
    if s <= 0:
        return frames
    padded = np.pad(frames, ((0, 0), (0, hb * BLOCK - h), (0, wb * BLOCK - w), (0, 0)), mode="edge")
    blocks = padded.reshape(f, hb, BLOCK, wb, BLOCK, 3)
    d = _dct_matrix(BLOCK)
    coeffs = np.einsum("ai,fhiwjc,bj->fhawbc", d, blocks, d)
    step = 0.05 * s
    dc = coeffs[:, :, 0, :, 0, :].copy()
    coeffs = np.round(coeffs / step) * step
    coeffs[:, :, 0, :, 0, :] = dc + BLOCK * dc_error[None, :, :, None]
    blocks = np.einsum("ai,fhawbc,bj->fhiwjc", d, coeffs, d)
    out = blocks.reshape(f, hb * BLOCK, wb * BLOCK, 3)[:, :h, :w]
    return np.clip(out, 0.0, 1.0)


def gaussian_noise(frames: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise of standard deviation ``0.1 s`` on every pixel and channel."""
    z = rng.standard_normal(size=frames.shape)
    return np.clip(frames + 0.1 * s * z, 0.0, 1.0)


def brightness_offsets(frames: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Add one brightness offset per frame (flicker); ``offsets`` has shape (F,)."""
    return np.clip(frames + offsets[:, None, None, None], 0.0, 1.0)
