"""Builds the network named by a model config (pmfDiT or the toy MLP)."""
from __future__ import annotations

import torch.nn as nn

from .config import DiTConfig, MLPConfig
from .model_dit import PmfDiT
from .model_mlp import ToyMLP


def build_model(cfg) -> nn.Module:
    if isinstance(cfg, DiTConfig):
        return PmfDiT(cfg)
    if isinstance(cfg, MLPConfig):
        return ToyMLP(cfg)
    raise TypeError(f"no model for config {type(cfg).__name__}")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
