"""An LPIPS-like perceptual distance from a feature net trained here (no pretrained VGG
is available offline): the evaluation-classifier architecture, trained with another
seed so that the training signal and the evaluation metric do not share a network.

d(a, b) = sum over conv stages of the mean squared difference of channel-normalised
activations (as LPIPS does, without the learned linear heads).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from .evaluate import load_classifier


class FeatureDistance(nn.Module):
    def __init__(self, path: str):
        super().__init__()
        net = load_classifier(path)
        for p in net.parameters():
            p.requires_grad_(False)
        self.stages = self._split(net.conv)

    @staticmethod
    def _split(seq: nn.Sequential) -> nn.ModuleList:
        """Cut the conv stack after each ReLU that precedes a pooling layer (and at the end)."""
        stages, cur = [], []
        mods = list(seq)
        for i, m in enumerate(mods):
            if isinstance(m, (nn.AdaptiveAvgPool2d, nn.Flatten)):
                break
            cur.append(m)
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(m, nn.ReLU) and (isinstance(nxt, (nn.MaxPool2d, nn.AdaptiveAvgPool2d))):
                stages.append(nn.Sequential(*cur))
                cur = []
        if cur:
            stages.append(nn.Sequential(*cur))
        return nn.ModuleList(stages)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.eval()
        d = torch.zeros(a.shape[0], device=a.device, dtype=a.dtype)
        fa, fb = a, b
        for stage in self.stages:
            fa, fb = stage(fa), stage(fb)
            na = fa / (fa.norm(dim=1, keepdim=True) + 1e-8)
            nb = fb / (fb.norm(dim=1, keepdim=True) + 1e-8)
            d = d + ((na - nb) ** 2).sum(1).mean((1, 2))
        return d


def make_perceptual(path: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return FeatureDistance(path)
