"""The flow-matching objective (JiT's recipe): a network of (z, t) only, its x or v output
turned into v, the loss in v-space (docs/checkpoint-format.md, section 3a).

    t ~ logit-normal(P_mean, P_std);  e = randn * noise_scale;  z = (1 - t) x + t e
    v_theta = (z - net(z, t)) / max(t, t_eps)     x-prediction (JiT)
            = net(z, t)                           v-prediction
    v_t     = (z - x) / max(t, t_eps)  (x-prediction, consistent with the clamp)  or  e - x
    loss    = w(L) * L,  L = ||v_theta - sg(v_target)||^2,  w(L) = 1 / sg(L + eps)^p
              (p = 0: JiT's plain L2)

Labels are dropped to the null class with probability class_dropout_prob, so a
class-conditional model also learns the unconditional v that two-pass CFG needs at sampling.
With CFG inputs (cfg_inputs, pMF's Algorithm 2 at r = t) omega ~ omega^-beta on
[1, 1 + cfg_max] and [t_min, t_max] ~ U[0, .5] x U[.5, 1] are inputs for every sample (there
are no r < t samples to learn the interval from otherwise), and inside the interval the target
is the guided v_g = v_t + (1 - 1/omega) (v_cond - v_uncond), with v_cond the network's own
output and v_uncond its v for the null class at omega 1 (both without gradient).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch

from .config import LossConfig
from .fields import bcast, u_from_raw
from .loss import Conditioning, adaptive_weight, sample_omega


def sample_t(n: int, cfg: LossConfig, gen: torch.Generator, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Logit-normal t (JiT and pMF use the same family)."""
    return torch.sigmoid(torch.randn(n, generator=gen, device=device, dtype=dtype) * cfg.P_std + cfg.P_mean)


def flow_matching_loss(net: torch.nn.Module, x: torch.Tensor, y: Optional[torch.Tensor], cfg: LossConfig,
                       prediction: str, num_classes: int, cfg_inputs: bool, gen: torch.Generator,
                       return_terms: bool = False) -> Dict[str, torch.Tensor]:
    """One batch of the flow-matching objective. Returns {'loss', 'loss_v'} (and with return_terms
    the batch's t, z, e, v, v_target and drop, for tests)."""
    n, dev, dt = x.shape[0], x.device, x.dtype
    t = sample_t(n, cfg, gen, dev, dt)
    e = torch.randn(x.shape, generator=gen, device=dev, dtype=dt) * cfg.noise_scale
    tb = bcast(t, x)
    z = (1 - tb) * x + tb * e
    v_t = (z - x) / bcast(torch.clamp(t, min=cfg.t_eps), x) if prediction == "x" else e - x

    def v_fn(c: Conditioning):
        return u_from_raw(net(z, t, None, *c.args()), z, t, prediction, cfg.t_eps)

    drop = torch.zeros(n, dtype=torch.bool, device=dev)
    if y is not None and cfg.class_dropout_prob > 0:
        drop = torch.rand(n, generator=gen, device=dev) < cfg.class_dropout_prob
    y_in = None if y is None else torch.where(drop, torch.full_like(y, num_classes), y)
    v_target = v_t
    if cfg_inputs:
        ones = torch.ones_like(t)
        omega = sample_omega(n, cfg, gen, dev, dt)
        t_min = torch.rand(n, generator=gen, device=dev, dtype=dt) * 0.5
        t_max = 0.5 + torch.rand(n, generator=gen, device=dev, dtype=dt) * 0.5
        w_eff = torch.where((t >= t_min) & (t <= t_max), omega, ones)
        v = v_fn(Conditioning(omega, t_min, t_max, y_in))
        with torch.no_grad():
            v_u = v_fn(Conditioning(ones, torch.zeros_like(t), ones, torch.full_like(y, num_classes)))
        guided = v_t + bcast(1 - 1 / w_eff, x) * (v.detach() - v_u)
        v_target = torch.where(bcast(drop, x), v_t, guided)
    else:
        v = v_fn(Conditioning(y=y_in))

    dims = tuple(range(1, x.dim()))
    L = ((v - v_target.detach()) ** 2).sum(dim=dims)
    out = {"loss": adaptive_weight(L, cfg.norm_eps, cfg.norm_p).mean(), "loss_v": L.mean().detach() / x[0].numel()}
    if return_terms:
        out.update(t=t, z=z, e=e, v=v.detach(), v_target=v_target.detach(), drop=drop)
    return out
