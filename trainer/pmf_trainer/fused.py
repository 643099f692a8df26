"""Export-time fused forms of the pmfDiT blocks, for onnxruntime.

`torch.onnx.export` writes the reference model op by op: RMSNorm as six elementwise nodes,
attention as transposes, two MatMuls and a Softmax, RoPE as Gathers of the even and odd
channels. onnxruntime spends most of its time in MatMul, and the rest in those small nodes.
`fuse_for_onnx(net)` swaps, in place, modules that compute the same function in forms
onnxruntime runs as single kernels (the weights are shared, not copied):

- RMSNorm -> the pattern that onnxruntime fuses into `SimplifiedLayerNormalization` at load;
- attention -> `com.microsoft.MultiHeadAttention` on q, k, v in [B, S, H * D] (no transposes);
- RoPE -> one multiply-add against full-sequence cos/sin tables (prefix tokens: cos 1, sin 0)
  and a pair swap written as a Reshape and a Concat of two Slices (no Gathers).

In eager PyTorch each fused module computes exactly what it replaces (tests check the outputs);
the ONNX symbolics name onnxruntime's kernels, so the file needs onnxruntime (any provider:
CPU, CUDA and WebGPU have these ops). The float16 export keeps the plain graph
(`to_float16` rewrites that one).

Measured at B/16, 256x256, batch 4, 2 threads (onnxruntime-node 1.30): one MatMul for q, k and v
(and one for SwiGLU's w1 and w3) ran slower than three, since splitting its output copies the
activations (Split took 3-6 % of the time), so the projections stay separate.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .model_dit import PmfDiT, RMSNorm, RoPEAttention

MS_DOMAIN = "com.microsoft"


class _MultiHeadAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, num_heads: int):
        b, s, d = q.shape
        shape = (b, s, num_heads, d // num_heads)
        q, k, v = (a.reshape(shape).transpose(1, 2) for a in (q, k, v))
        w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (shape[-1] ** -0.5), dim=-1)
        return torch.matmul(w, v).transpose(1, 2).reshape(b, s, d)

    @staticmethod
    def symbolic(g, q, k, v, num_heads: int):
        out = g.op(f"{MS_DOMAIN}::MultiHeadAttention", q, k, v, num_heads_i=num_heads)
        out.setType(q.type())
        return out


class FusedRMSNorm(nn.Module):
    """RMSNorm in the form onnxruntime's SimplifiedLayerNormFusion matches at load
    (Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div -> Mul weight): the file holds standard ONNX
    (onnx's checker knows no SimplifiedLayerNormalization) and runs as one kernel."""

    def __init__(self, norm: RMSNorm):
        super().__init__()
        self.eps = norm.eps
        self.weight = norm.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.mean(x.pow(2), dim=-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cos: torch.Tensor, sin: torch.Tensor, n_prefix: int):
    """Full-sequence tables [S, 1, D] for x * C + swap(x) * S_: each (cos, sin) entry repeated for
    its channel pair, the sign of the pair swap folded into S_ (-sin, +sin), prefix rows cos 1, sin 0."""
    n_img, half = cos.shape
    c = torch.cat([torch.ones(n_prefix, half), cos], dim=0).repeat_interleave(2, dim=-1)
    s = torch.cat([torch.zeros(n_prefix, half), sin], dim=0)
    s = torch.stack([-s, s], dim=-1).reshape(n_prefix + n_img, 2 * half)
    return c[:, None, :].contiguous(), s[:, None, :].contiguous()


def _pair_swap(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (x1, x0, x3, x2, ...) along the last axis."""
    *lead, d = x.shape
    p = x.reshape(*lead, d // 2, 2)
    return torch.cat([p[..., 1:2], p[..., 0:1]], dim=-1).reshape(*lead, d)


class FusedAttention(nn.Module):
    def __init__(self, attn: RoPEAttention, cos: torch.Tensor, sin: torch.Tensor, n_prefix: int):
        super().__init__()
        self.num_heads, self.head_dim = attn.num_heads, attn.head_dim
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj
        self.q_norm, self.k_norm = FusedRMSNorm(attn.q_norm), FusedRMSNorm(attn.k_norm)
        c, s = rope_tables(cos, sin, n_prefix)
        self.register_buffer("rope_c", c, persistent=False)
        self.register_buffer("rope_s", s, persistent=False)

    def _rope(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.rope_c + _pair_swap(x) * self.rope_s

    def forward(self, x: torch.Tensor, cos=None, sin=None) -> torch.Tensor:
        b, s, d = x.shape
        heads = (b, s, self.num_heads, self.head_dim)
        q = self._rope(self.q_norm(self.q_proj(x).reshape(heads))).reshape(b, s, d)
        k = self._rope(self.k_norm(self.k_proj(x).reshape(heads))).reshape(b, s, d)
        return self.out_proj(_MultiHeadAttention.apply(q, k, self.v_proj(x), self.num_heads))


def fuse_for_onnx(net: PmfDiT) -> PmfDiT:
    """Swap net's blocks for their fused forms in place (see the module docstring); returns net."""
    for blk in list(net.shared_blocks) + list(net.u_heads):
        blk.norm1, blk.norm2 = FusedRMSNorm(blk.norm1), FusedRMSNorm(blk.norm2)
        blk.attn = FusedAttention(blk.attn, net.rope_cos, net.rope_sin, net.prefix_tokens)
    net.u_final_layer.norm = FusedRMSNorm(net.u_final_layer.norm)
    return net
