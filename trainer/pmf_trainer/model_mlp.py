"""The toy MLP of the paper's Fig. 2: a D-dim point and (t, h) in, a D-dim field out.

ReLU MLP of fixed width. t and h enter as a few sinusoidal features each (frequencies
<= 1 rad per unit time, so the JVP's d/dt term stays tame).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import MLPConfig


class ToyMLP(nn.Module):
    def __init__(self, cfg: MLPConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        half = cfg.time_features // 2
        freqs = torch.exp(-math.log(100.0) * torch.arange(half, dtype=torch.float32) / max(half, 1))
        self.register_buffer("freqs", freqs, persistent=False)
        self.flow = cfg.model_type == "flow-matching"  # t only, no h
        width_in = cfg.dim + (1 if self.flow else 2) * (2 * half)
        layers = []
        for i in range(cfg.layers - 1):
            layers += [nn.Linear(width_in if i == 0 else cfg.hidden, cfg.hidden), nn.ReLU()]
        layers.append(nn.Linear(cfg.hidden, cfg.dim))
        self.net = nn.Sequential(*layers)

    def _features(self, s: torch.Tensor) -> torch.Tensor:
        a = s[:, None] * self.freqs[None]
        return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)

    def forward(self, z, t, h, omega=None, t_min=None, t_max=None, y=None):
        if self.flow:
            return self.net(torch.cat([z, self._features(t)], dim=-1))
        return self.net(torch.cat([z, self._features(t), self._features(h)], dim=-1))
