"""The pMF fields and their conversions (paper Eqs. 8 and 11).

    x = z_t - t * u          u = (z_t - x) / max(t, t_eps)          v(z_t, t) = u(z_t, t, t)

An x-prediction network outputs x; a u-prediction network outputs u; a flow-matching
v-prediction network outputs v, which converts as u at r = t. The same
conversions are implemented in the extension's runtime (src/core/fields.ts).
"""
from __future__ import annotations

import torch

T_EPS = 0.05


def bcast(s: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[N] -> [N, 1, ..., 1] matching like's rank."""
    return s.reshape(-1, *([1] * (like.dim() - 1)))


def u_from_raw(raw: torch.Tensor, z: torch.Tensor, t: torch.Tensor, prediction: str,
               t_eps: float = T_EPS) -> torch.Tensor:
    if prediction == "x":
        return (z - raw) / bcast(torch.clamp(t, min=t_eps), z)
    if prediction in ("u", "v"):  # a flow-matching v output is u at r = t
        return raw
    raise ValueError(f"unknown prediction {prediction!r}")


def x_from_raw(raw: torch.Tensor, z: torch.Tensor, t: torch.Tensor, prediction: str) -> torch.Tensor:
    if prediction == "x":
        return raw
    if prediction in ("u", "v"):
        return z - bcast(t, z) * raw
    raise ValueError(f"unknown prediction {prediction!r}")
