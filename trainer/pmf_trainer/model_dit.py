"""pmfDiT: the pixel MeanFlow transformer (paper Sec. 5, official PyTorch code).

Plain ViT blocks without adaLN: pre-RMSNorm, bias-free attention with per-head
RMSNorm on q and k and 2D RoPE on image tokens only, SwiGLU MLP, zero-initialised
per-channel residual gates. Conditioning is in-context: prefix tokens for class,
omega, t_min, t_max and h = t - r, each a learned token plus a broadcast embedding.

Module names mirror the official code (minus its `_flax_linear` / `_flax_embedding`
wrappers), so official state dicts map onto this model key by key; see
`official.py`. RoPE is written with real cos/sin so the model exports to ONNX.

`forward` returns the raw network output: x for x-prediction, u for u-prediction.
A flow-matching model (cfg.model_type "flow-matching", JiT-style) has no r: its time tokens
carry t instead of h (the same `h_embedder` module), and its output is x or v.
Field conversions live in `fields.py` (and, at inference, in the runtime).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import DiTConfig


def _normal_(w: torch.Tensor, std: float) -> torch.Tensor:
    with torch.no_grad():
        return w.normal_(0.0, std)


def linear(in_f: int, out_f: int, bias: bool, init_constant: float) -> nn.Linear:
    """Linear layer with the official N(0, c^2 / fan_in) init and zero bias."""
    layer = nn.Linear(in_f, out_f, bias=bias)
    _normal_(layer.weight, init_constant / math.sqrt(in_f))
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ms = torch.mean(x * x, dim=-1, keepdim=True)
        return x * torch.rsqrt(ms + self.eps) * self.weight


def rope_cos_sin(head_dim: int, grid: int, theta: float = 10000.0):
    """Real form of the official 2D RoPE table: cos, sin of shape [grid^2, head_dim/2].

    The first head_dim/4 frequencies rotate by the row index, the next head_dim/4 by
    the column index; channel pairs (2k, 2k+1) are rotated together.
    """
    half = head_dim // 2  # each axis gets half of the channels: head_dim / 4 frequencies (pairs)
    freqs = 1.0 / (theta ** (torch.arange(0, half, 2, dtype=torch.float64) / half))
    pos = torch.arange(grid, dtype=torch.float64)
    f_row = torch.outer(pos, freqs)  # [grid, head_dim/4]
    f_col = torch.outer(pos, freqs)
    table = torch.cat(
        [f_row[:, None, :].expand(grid, grid, -1), f_col[None, :, :].expand(grid, grid, -1)], dim=-1
    ).reshape(grid * grid, head_dim // 2)
    return torch.cos(table).float(), torch.sin(table).float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the last cos.shape[0] tokens of x [B, S, H, D]; prefix tokens pass through."""
    n_img = cos.shape[0]
    n_prefix = x.shape[1] - n_img
    b, _, h, d = x.shape
    img = x[:, n_prefix:].reshape(b, n_img, h, d // 2, 2)
    x0, x1 = img[..., 0], img[..., 1]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    rot = torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).reshape(b, n_img, h, d)
    return torch.cat([x[:, :n_prefix], rot], dim=1)


class RoPEAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, init_constant: float):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_proj = linear(dim, dim, False, init_constant)
        self.k_proj = linear(dim, dim, False, init_constant)
        self.v_proj = linear(dim, dim, False, init_constant)
        self.out_proj = linear(dim, dim, False, init_constant)
        self.q_norm = RMSNorm(self.head_dim)
        self.k_norm = RMSNorm(self.head_dim)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        shape = (b, s, self.num_heads, self.head_dim)
        q = apply_rope(self.q_norm(self.q_proj(x).reshape(shape)), cos, sin)
        k = apply_rope(self.k_norm(self.k_proj(x).reshape(shape)), cos, sin)
        v = self.v_proj(x).reshape(shape)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))  # [B, H, S, D]
        w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        w = torch.softmax(w, dim=-1)
        out = torch.matmul(w, v).transpose(1, 2).reshape(b, s, d)
        return self.out_proj(out)


class SwiGLUMlp(nn.Module):
    def __init__(self, dim: int, hidden: int, init_constant: float):
        super().__init__()
        self.w1 = linear(dim, hidden, False, init_constant)
        self.w3 = linear(dim, hidden, False, init_constant)
        self.w2 = linear(hidden, dim, False, init_constant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.hidden_size
        self.norm1 = RMSNorm(d)
        self.attn = RoPEAttention(d, cfg.num_heads, cfg.weight_init_constant)
        self.norm2 = RMSNorm(d)
        self.mlp = SwiGLUMlp(d, cfg.mlp_hidden, cfg.weight_init_constant)
        self.attn_scale = nn.Parameter(torch.zeros(d))
        self.mlp_scale = nn.Parameter(torch.zeros(d))

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin) * self.attn_scale
        x = x + self.mlp(self.norm2(x)) * self.mlp_scale
        return x


class TimestepEmbedder(nn.Module):
    """Sinusoidal features of a scalar in [0, 1] (taken as is, no x1000) and an MLP."""

    def __init__(self, dim: int, freq_dim: int, init_constant: float):
        super().__init__()
        self.freq_dim = freq_dim
        half = freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(
            linear(freq_dim, dim, True, init_constant), nn.SiLU(), linear(dim, dim, True, init_constant)
        )

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        args = s[:, None].to(self.freqs.dtype) * self.freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.freq_dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return self.mlp(emb)


class LabelEmbedder(nn.Module):
    """Class embedding with one extra row: index num_classes is the null class."""

    def __init__(self, num_classes: int, dim: int, init_constant: float):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)
        _normal_(self.embedding_table.weight, init_constant / math.sqrt(dim))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.embedding_table(y)


class BottleneckPatchEmbedder(nn.Module):
    """p x p conv to a narrow bottleneck, then a 1x1 conv to the width."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        p, c, k, d = cfg.patch_size, cfg.in_channels, cfg.bottleneck_channels, cfg.hidden_size
        self.patch_size = p
        self.grid_size = cfg.input_size // p
        self.num_patches = self.grid_size ** 2
        self.proj1 = nn.Conv2d(c, k, kernel_size=p, stride=p, bias=True)
        self.proj2 = nn.Conv2d(k, d, kernel_size=1, stride=1, bias=True)
        for conv, fan_in, fan_out in ((self.proj1, p * p * c, k), (self.proj2, k, d)):
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            nn.init.uniform_(conv.weight, -limit, limit)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj2(self.proj1(x))  # [B, d, g, g]
        return x.flatten(2).transpose(1, 2)  # [B, g*g, d], row-major patches


class FinalLayer(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.norm = RMSNorm(cfg.hidden_size)
        self.linear = nn.Linear(cfg.hidden_size, cfg.patch_size ** 2 * cfg.in_channels, bias=True)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        return self.linear(self.norm(x))


class PmfDiT(nn.Module):
    """net(z, t, h, omega, t_min, t_max, y) -> raw prediction (x or u), [N, C, H, W].

    t enters only through the x -> u conversion done outside the network; the
    transformer sees h = t - r (as the official code). Unused conditioning
    arguments may be None (unconditional models, models without CFG inputs).
    """

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        d = cfg.hidden_size
        ec = cfg.embedding_init_constant
        self.x_embedder = BottleneckPatchEmbedder(cfg)
        self.h_embedder = TimestepEmbedder(d, cfg.frequency_embedding_size, ec)
        tok_std = cfg.token_init_constant / math.sqrt(d)

        def tokens(n):
            return nn.Parameter(_normal_(torch.empty(1, n, d), tok_std))

        self.time_tokens = tokens(cfg.num_time_tokens)
        n_prefix = cfg.num_time_tokens
        if cfg.num_classes > 0:
            self.y_embedder = LabelEmbedder(cfg.num_classes, d, ec)
            self.class_tokens = tokens(cfg.num_class_tokens)
            n_prefix += cfg.num_class_tokens
        if cfg.cfg_inputs:
            self.omega_embedder = TimestepEmbedder(d, cfg.frequency_embedding_size, ec)
            self.cfg_t_start_embedder = TimestepEmbedder(d, cfg.frequency_embedding_size, ec)
            self.cfg_t_end_embedder = TimestepEmbedder(d, cfg.frequency_embedding_size, ec)
            self.omega_tokens = tokens(cfg.num_cfg_tokens)
            self.t_min_tokens = tokens(cfg.num_interval_tokens)
            self.t_max_tokens = tokens(cfg.num_interval_tokens)
            n_prefix += cfg.num_cfg_tokens + 2 * cfg.num_interval_tokens
        self.prefix_tokens = n_prefix
        total = n_prefix + self.x_embedder.num_patches
        self.pos_embed = nn.Parameter(_normal_(torch.empty(1, total, d), 0.02))
        cos, sin = rope_cos_sin(d // cfg.num_heads, self.x_embedder.grid_size, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        shared = cfg.depth - cfg.aux_head_depth
        self.shared_blocks = nn.ModuleList([TransformerBlock(cfg) for _ in range(shared)])
        self.u_heads = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.aux_head_depth)])
        self.u_final_layer = FinalLayer(cfg)

    # -- helpers -----------------------------------------------------------
    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        c, p, g = self.cfg.in_channels, self.cfg.patch_size, self.x_embedder.grid_size
        x = x.reshape(x.shape[0], g, g, p, p, c)
        x = x.permute(0, 5, 1, 3, 2, 4)  # n c h p w q
        return x.reshape(x.shape[0], c, g * p, g * p)

    def _sequence(self, z, h, omega, t_min, t_max, y):
        n = z.shape[0]
        parts = []
        if self.cfg.num_classes > 0:
            parts.append(self.class_tokens + self.y_embedder(y)[:, None])
        if self.cfg.cfg_inputs:
            parts.append(self.omega_tokens + self.omega_embedder(1.0 - 1.0 / omega)[:, None])
            parts.append(self.t_min_tokens + self.cfg_t_start_embedder(t_min)[:, None])
            parts.append(self.t_max_tokens + self.cfg_t_end_embedder(t_max)[:, None])
        parts.append(self.time_tokens + self.h_embedder(h)[:, None])
        parts = [p.expand(n, -1, -1) for p in parts]
        parts.append(self.x_embedder(z))
        return torch.cat(parts, dim=1) + self.pos_embed

    def forward(self, z, t, h, omega=None, t_min=None, t_max=None, y=None):
        """The u path: the shared blocks, then the u head. A MeanFlow model conditions on h only
        (t is accepted for a uniform signature); a flow-matching one on t only (h is unused)."""
        time = t if self.cfg.model_type == "flow-matching" else h
        seq = self._sequence(z, time, omega, t_min, t_max, y)
        for blk in list(self.shared_blocks) + list(self.u_heads):
            seq = blk(seq, self.rope_cos, self.rope_sin)
        return self.unpatchify(self.u_final_layer(seq[:, self.prefix_tokens:]))
