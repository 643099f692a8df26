"""pMF sampling (paper Sec. 4): z_r = z_t - (t - r) u(z_t, r, t) on linspace(1, 0, N + 1)."""
from __future__ import annotations

from typing import Optional

import torch

from .fields import u_from_raw
from .loss import Conditioning


def conditioning(n: int, y: Optional[torch.Tensor], cfg_inputs: bool, omega: float, t_min: float,
                 t_max: float, device="cpu") -> Conditioning:
    if not cfg_inputs:
        return Conditioning(y=y)
    full = lambda v: torch.full((n,), float(v), device=device)  # noqa: E731
    return Conditioning(full(omega), full(t_min), full(t_max), y)


@torch.no_grad()
def sample(net, z1: torch.Tensor, *, prediction: str, steps: int = 1, y: Optional[torch.Tensor] = None,
           cfg_inputs: bool = False, omega: float = 1.0, t_min: float = 0.0, t_max: float = 1.0,
           t_eps: float = 0.05) -> torch.Tensor:
    """Run the N-step sampler from z_1 (noise already scaled by noise_scale)."""
    n = z1.shape[0]
    cond = conditioning(n, y, cfg_inputs, omega, t_min, t_max, z1.device)
    t_steps = torch.linspace(1.0, 0.0, steps + 1)
    z = z1
    for i in range(steps):
        t = torch.full((n,), float(t_steps[i]), device=z.device)
        r = torch.full((n,), float(t_steps[i + 1]), device=z.device)
        u = u_from_raw(net(z, t, t - r, *cond.args()), z, t, prediction, t_eps)
        z = z - (t - r).reshape(-1, *([1] * (z.dim() - 1))) * u
    return z
