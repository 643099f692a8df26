"""The exact JVP against finite differences, on the real pmfDiT and the toy MLP."""
import math

import pytest
import torch

from conftest import randomize_zero_inits
from pmf_trainer.config import DiTConfig, LossConfig, MLPConfig
from pmf_trainer.fields import u_from_raw
from pmf_trainer.jvp import jvp
from pmf_trainer.loss import pmf_loss
from pmf_trainer.model_dit import PmfDiT, apply_rope, rope_cos_sin
from pmf_trainer.models import build_model

TINY = dict(input_size=16, in_channels=2, patch_size=4, hidden_size=32, depth=2, num_heads=2,
            aux_head_depth=1, bottleneck_channels=8, num_classes=3, num_class_tokens=2,
            num_time_tokens=2, num_cfg_tokens=1, num_interval_tokens=1)


def tiny_dit(**kw):
    cfg = DiTConfig(**{**TINY, **kw})
    return cfg, randomize_zero_inits(PmfDiT(cfg)).double().eval()


def inputs(cfg, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g, dtype=torch.float64)
    t = 0.3 + 0.6 * torch.rand(n, generator=g, dtype=torch.float64)
    r = t * torch.rand(n, generator=g, dtype=torch.float64)
    cond = (torch.full((n,), 2.5, dtype=torch.float64), torch.full((n,), 0.1, dtype=torch.float64),
            torch.full((n,), 0.8, dtype=torch.float64), torch.tensor([0, 2, 3][:n]))
    return z, t, r, cond


@pytest.mark.parametrize("prediction", ["x", "u"])
def test_jvp_matches_central_differences_dit(prediction):
    cfg, net = tiny_dit(prediction=prediction)
    z, t, r, cond = inputs(cfg)

    def f(z_, t_, r_):
        return u_from_raw(net(z_, t_, t_ - r_, *cond), z_, t_, prediction)

    tz = torch.randn(z.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    tt, tr = torch.ones_like(t), torch.zeros_like(t)
    _, tangent = jvp(f, (z, t, r), (tz, tt, tr))
    eps = 1e-5
    fd = (f(z + eps * tz, t + eps * tt, r) - f(z - eps * tz, t - eps * tt, r)) / (2 * eps)
    torch.testing.assert_close(tangent, fd, rtol=1e-6, atol=1e-7)
    assert tangent.abs().max() > 1e-3  # a non-trivial derivative


def test_jvp_matches_central_differences_mlp():
    cfg = MLPConfig(dim=5, hidden=32, layers=4, prediction="x")
    net = build_model(cfg).double()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 5, generator=g, dtype=torch.float64)
    t = 0.2 + 0.7 * torch.rand(7, generator=g, dtype=torch.float64)
    r = 0.5 * t

    def f(z_, t_, r_):
        return u_from_raw(net(z_, t_, t_ - r_), z_, t_, "x")

    tz = torch.randn(7, 5, generator=g, dtype=torch.float64)
    _, tangent = jvp(f, (z, t, r), (tz, torch.ones_like(t), torch.zeros_like(t)))
    eps = 1e-6
    fd = (f(z + eps * tz, t + eps, r) - f(z - eps * tz, t - eps, r)) / (2 * eps)
    torch.testing.assert_close(tangent, fd, rtol=1e-5, atol=1e-7)


def test_gradient_through_jvp_primal_equals_plain_gradient():
    cfg, net = tiny_dit()
    z, t, r, cond = inputs(cfg)

    def f(z_, t_, r_):
        return u_from_raw(net(z_, t_, t_ - r_, *cond), z_, t_, "x")

    w = net.u_final_layer.linear.weight
    primal, _ = jvp(f, (z, t, r), (torch.ones_like(z), torch.ones_like(t), torch.zeros_like(t)))
    g1, = torch.autograd.grad(primal.square().sum(), w)
    g2, = torch.autograd.grad(f(z, t, r).square().sum(), w)
    torch.testing.assert_close(g1, g2)


def test_rope_real_form_equals_complex_rotation():
    """Our real-valued RoPE against the complex form of the official code, re-stated."""
    head_dim, grid = 16, 3
    cos, sin = rope_cos_sin(head_dim, grid)
    # complex table as the official precompute does it: row freqs then column freqs
    quarter = head_dim // 2
    freqs = 1.0 / (10000.0 ** (torch.arange(0, quarter, 2, dtype=torch.float32) / quarter))
    pos = torch.arange(grid, dtype=torch.float32)
    fh = torch.einsum("i,j->ij", pos, freqs)
    table = torch.cat([fh[:, None, :].repeat(1, grid, 1), fh[None, :, :].repeat(grid, 1, 1)], -1)
    table = table.reshape(grid * grid, head_dim // 2)
    cis = torch.polar(torch.ones_like(table), table)
    x = torch.randn(2, 4 + grid * grid, 3, head_dim)  # 4 prefix tokens
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    rot = xc.clone()
    rot[:, -grid * grid:] = xc[:, -grid * grid:] * cis[None, :, None, :]
    expected = torch.view_as_real(rot).flatten(-2)
    got = apply_rope(x, cos, sin)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[:, :4], x[:, :4])  # prefix untouched


def test_fresh_model_outputs_zero_and_shapes():
    cfg = DiTConfig(**TINY)
    net = PmfDiT(cfg)
    z, t, r, cond = inputs(cfg)
    out = net(z.float(), t.float(), (t - r).float(), *(c.float() if c.is_floating_point() else c for c in cond))
    assert out.shape == z.shape
    assert float(out.abs().max()) == 0.0  # zero-initialised final layer (official init)
    assert net.prefix_tokens == 2 + 1 + 2 + 2
    assert net.pos_embed.shape[1] == net.prefix_tokens + (16 // 4) ** 2


def test_unconditional_model_has_no_conditioning_modules():
    cfg = DiTConfig(**{**TINY, "num_classes": 0, "cfg_inputs": False})
    net = randomize_zero_inits(PmfDiT(cfg))
    names = {k.split(".")[0] for k in net.state_dict()}
    assert not names & {"y_embedder", "class_tokens", "omega_embedder", "omega_tokens"}
    z = torch.randn(2, 2, 16, 16)
    assert net(z, torch.rand(2), torch.rand(2)).shape == z.shape


@pytest.mark.parametrize("cfg_inputs", [True, False])
def test_training_step_reduces_loss_on_a_fixed_batch(cfg_inputs):
    """A few Adam steps on one batch of the full objective (CFG or not) lower its loss."""
    torch.manual_seed(0)
    cfg = DiTConfig(**{**TINY, "cfg_inputs": cfg_inputs})
    net = PmfDiT(cfg)
    y = torch.randint(0, 3, (16,))
    patterns = torch.rand(3, 2, 16, 16) * 2 - 1  # one fixed image per class: learnable
    x = patterns[y]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    lc = LossConfig()

    def loss_at(seed):
        return pmf_loss(net, x, y, lc, "x", 3, cfg_inputs, torch.Generator().manual_seed(seed))

    with torch.no_grad():
        before = sum(float(loss_at(s)["loss_v"]) for s in range(4))
    for i in range(30):
        out = loss_at(100 + i)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    with torch.no_grad():
        after = sum(float(loss_at(s)["loss_v"]) for s in range(4))
    assert math.isfinite(after) and after < 0.7 * before
