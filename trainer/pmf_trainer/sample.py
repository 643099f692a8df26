"""pMF sampling (paper Sec. 4): z_r = z_t - (t - r) u(z_t, r, t) on linspace(1, 0, N + 1);
flow-matching models: an Euler or Heun solve of the v-ODE (flow_sample)."""
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


@torch.no_grad()
def flow_sample(net, z1: torch.Tensor, *, prediction: str, steps: int, solver: str = "euler",
                y: Optional[torch.Tensor] = None, num_classes: int = 0, cfg_inputs: bool = False,
                two_pass: bool = False, omega: float = 1.0, t_min: float = 0.0, t_max: float = 1.0,
                t_eps: float = 0.05) -> torch.Tensor:
    """A flow-matching model's N-step Euler or Heun solve of dz/dt = v(z_t, t) from t = 1 to 0, as the
    runtime does it (src/core/flowSampler.ts; Heun's step to t = 0 is Euler's). CFG by the network's
    inputs (cfg_inputs) or by two passes: v = v_uncond + omega (v_cond - v_uncond) in [t_min, t_max]."""
    if solver not in ("euler", "heun"):
        raise ValueError(f"solver must be 'euler' or 'heun', got {solver!r}")
    n = z1.shape[0]
    cond = conditioning(n, y, cfg_inputs, omega, t_min, t_max, z1.device)

    def v_of(z, t: float):
        ts = torch.full((n,), t, device=z.device)
        v = u_from_raw(net(z, ts, None, *cond.args()), z, ts, prediction, t_eps)
        if two_pass and omega != 1.0 and t_min <= t <= t_max and y is not None:
            null = Conditioning(y=torch.full_like(y, num_classes))
            v_u = u_from_raw(net(z, ts, None, *null.args()), z, ts, prediction, t_eps)
            v = v_u + omega * (v - v_u)
        return v

    t_steps = [1.0 - i / steps for i in range(steps)] + [0.0]
    z = z1
    for i in range(steps):
        t, r = t_steps[i], t_steps[i + 1]
        v1 = v_of(z, t)
        euler = z - (t - r) * v1
        z = euler if solver == "euler" or r == 0.0 else z - (t - r) * 0.5 * (v1 + v_of(euler, r))
    return z
