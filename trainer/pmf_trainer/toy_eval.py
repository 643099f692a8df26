"""How far a toy model's 1-NFE samples land from the Swiss roll.

Samples x in R^D are split into the data plane (P^T x, with P the D x 2 embedding) and
the rest (x - P P^T x). Reported: the mean distance of the in-plane part to the roll
curve, the mean off-plane norm, and the share of samples within 0.1 of the roll
(data units, the roll spans about [-1.9, 1.9]).
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import torch

from .data import swiss_roll_curve


def roll_distance(points2d: np.ndarray, curve: np.ndarray = None) -> np.ndarray:
    """Distance from each 2D point to the nearest segment of the roll polyline."""
    curve = swiss_roll_curve() if curve is None else curve
    a, b = curve[:-1], curve[1:]
    ab = b - a
    best = np.full(points2d.shape[0], np.inf)
    for i in range(0, points2d.shape[0], 256):
        p = points2d[i:i + 256, None, :]                      # [n, 1, 2]
        s = np.clip(((p - a) * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
        proj = a + s[..., None] * ab
        best[i:i + 256] = np.sqrt(((p - proj) ** 2).sum(-1)).min(1)
    return best


def toy_sample_stats(samples: np.ndarray, P: np.ndarray) -> Dict[str, float]:
    samples = np.asarray(samples, dtype=np.float64)
    in_plane = samples @ P                                     # [n, 2]
    off = samples - in_plane @ P.T
    dist = roll_distance(in_plane)
    return {
        "mean_roll_distance": float(dist.mean()),
        "median_roll_distance": float(np.median(dist)),
        "within_0.1": float((dist < 0.1).mean()),
        "mean_off_plane_norm": float(np.linalg.norm(off, axis=1).mean()),
        "num_samples": int(samples.shape[0]),
    }


@torch.no_grad()
def toy_samples(net, prediction: str, dim: int, n: int = 4000, seed: int = 0, noise_scale: float = 1.0,
                steps: int = 1) -> np.ndarray:
    """n samples [n, D] of a toy model from seeded noise."""
    from .sample import sample

    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, dim, generator=g) * noise_scale
    return sample(net, z1, prediction=prediction, steps=steps).numpy()
