"""Exact Jacobian-vector products with forward-mode AD.

`torch.autograd.forward_ad` exists in PyTorch 1.13 (Debian, CPU) and 2.x (CUDA), so
one code path serves both; `torch.func.jvp` is the same mechanism under a newer
name. The primal output keeps its autograd graph, so a loss built on it can be
back-propagated as usual; the tangent is meant to be detached (stop-gradient).
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import torch
import torch.autograd.forward_ad as fwAD


def jvp(fn: Callable[..., torch.Tensor], primals: Sequence[torch.Tensor],
        tangents: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return (fn(*primals), J_fn(primals) @ tangents)."""
    if len(primals) != len(tangents):
        raise ValueError("primals and tangents differ in length")
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, tg.to(p.dtype)) for p, tg in zip(primals, tangents)]
        out = fn(*duals)
        primal, tangent = fwAD.unpack_dual(out)
        if tangent is None:  # fn does not depend on the primals
            tangent = torch.zeros_like(primal)
        # The primal keeps its autograd graph; the tangent is returned detached.
        return primal, tangent.detach()
