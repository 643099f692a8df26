"""The pMF fields and objective on Gaussian data, where x, u and v are known in closed form.

Data x ~ N(mu, s^2 I), noise e ~ N(0, I), z_t = (1 - t) x + t e ~ N((1 - t) mu, sig_t^2 I)
with sig_t^2 = (1 - t)^2 s^2 + t^2. Then
    E[x | z_t]   = mu + (1 - t) s^2 / sig_t^2 (z_t - (1 - t) mu)
    v(z_t, t)    = (z_t - E[x | z_t]) / t
    ODE flow     z_r = (1 - r) mu + sig_r / sig_t (z_t - (1 - t) mu)
    u(z_t, r, t) = (z_t - z_r) / (t - r),   x(z_t, r, t) = z_t - t u
"""
import pytest
import torch

from pmf_trainer.config import LossConfig
from pmf_trainer.fields import bcast, x_from_raw, u_from_raw
from pmf_trainer.jvp import jvp
from pmf_trainer.loss import pmf_loss

D, MU, S = 6, 0.7, 0.5


def sig(t):
    return torch.sqrt((1 - t) ** 2 * S ** 2 + t ** 2)


def posterior_mean(z, t):
    tb = bcast(t, z)
    return MU + (1 - tb) * S ** 2 / sig(tb) ** 2 * (z - (1 - tb) * MU)


def v_true(z, t):
    return (z - posterior_mean(z, t)) / bcast(t, z)


def u_true(z, r, t):
    tb, rb = bcast(t, z), bcast(r, z)
    h = tb - rb
    z_r = (1 - rb) * MU + sig(rb) / sig(tb) * (z - (1 - tb) * MU)
    # at h -> 0 the difference quotient becomes v; use it where h is tiny
    safe = torch.where(h.abs() > 1e-9, h, torch.ones_like(h))
    return torch.where(h.abs() > 1e-9, (z - z_r) / safe, v_true(z, t))


class AnalyticNet(torch.nn.Module):
    """The exact field as a 'network' net(z, t, h) of either prediction type."""

    def __init__(self, prediction, t_eps=0.05, delta=0.0):
        super().__init__()
        self.prediction, self.t_eps, self.delta = prediction, t_eps, delta
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, z, t, h, omega=None, t_min=None, t_max=None, y=None):
        u = u_true(z, t - h, t) + self.delta + 0 * self.dummy
        if self.prediction == "u":
            return u
        return z - bcast(torch.clamp(t, min=self.t_eps), z) * u


def gaussian_batch(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return MU + S * torch.randn(n, D, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("prediction", ["x", "u"])
def test_meanflow_identity_with_exact_jvp(prediction):
    """V = u + (t - r) du/dt along the trajectory equals v(z_t, t) exactly."""
    net = AnalyticNet(prediction)
    g = torch.Generator().manual_seed(1)
    n = 64
    z = torch.randn(n, D, generator=g, dtype=torch.float64)
    t = 0.1 + 0.85 * torch.rand(n, generator=g, dtype=torch.float64)
    r = t * torch.rand(n, generator=g, dtype=torch.float64)

    def u_fn(z_, t_, r_):
        return u_from_raw(net(z_, t_, t_ - r_), z_, t_, prediction)

    v = u_fn(z, t, t)
    torch.testing.assert_close(v, v_true(z, t), rtol=1e-9, atol=1e-9)
    u, dudt = jvp(u_fn, (z, t, r), (v, torch.ones_like(t), torch.zeros_like(t)))
    V = u + bcast(t - r, u) * dudt
    torch.testing.assert_close(V, v_true(z, t), rtol=1e-7, atol=1e-7)


def test_x_field_endpoints():
    """x(z_t, t, t) is the posterior mean (denoiser); x(z_t, 0, t) is the ODE end point z_0."""
    net = AnalyticNet("x")
    g = torch.Generator().manual_seed(2)
    z = torch.randn(32, D, generator=g, dtype=torch.float64)
    t = 0.2 + 0.8 * torch.rand(32, generator=g, dtype=torch.float64)
    x_at_t = x_from_raw(net(z, t, torch.zeros_like(t)), z, t, "x")
    torch.testing.assert_close(x_at_t, posterior_mean(z, t))
    x_at_0 = x_from_raw(net(z, t, t), z, t, "x")
    z0 = MU + S / sig(bcast(t, z)) * (z - (1 - bcast(t, z)) * MU)
    torch.testing.assert_close(x_at_0, z0)


@pytest.mark.parametrize("prediction", ["x", "u"])
def test_loss_terms_at_the_exact_field(prediction):
    """With the exact field, the loss's compound V is the true v and its target is e - x."""
    cfg = LossConfig(P_mean=0.0, P_std=1.0, class_dropout_prob=0.0)
    x = gaussian_batch(512)
    out = pmf_loss(AnalyticNet(prediction), x, None, cfg, prediction, 0, False,
                   torch.Generator().manual_seed(3), return_terms=True)
    t, z, e = out["t"], out["z"], out["e"]
    ok = t >= cfg.t_eps  # below t_eps the x-prediction target is rescaled by t / t_eps
    torch.testing.assert_close(out["V"][ok], v_true(z, t)[ok], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out["v_target"][ok], (e - x)[ok], rtol=1e-9, atol=1e-9)
    # Half the batch has r = t, the rest r < t.
    assert int((out["r"] == t).sum()) == 256 and bool((out["r"][256:] < t[256:]).all())


def test_loss_expectation_matches_closed_form():
    """E||V - (e - x)||^2 per dim at the exact field is E_t[s^2 / sig_t^2] (the irreducible part)."""
    cfg = LossConfig(P_mean=0.0, P_std=1.0, class_dropout_prob=0.0, t_eps=1e-6)
    x = gaussian_batch(40000, seed=4)
    out = pmf_loss(AnalyticNet("u", t_eps=1e-6), x, None, cfg, "u", 0, False,
                   torch.Generator().manual_seed(5), return_terms=True)
    measured = float(out["loss_v"])
    expected = float((S ** 2 / sig(out["t"]) ** 2).mean())
    assert measured == pytest.approx(expected, rel=0.03)


def test_exact_field_minimises_the_loss():
    cfg = LossConfig(class_dropout_prob=0.0)
    x = gaussian_batch(4000, seed=6)
    losses = {}
    for delta in (0.0, 0.05, -0.05, 0.2):
        out = pmf_loss(AnalyticNet("x", delta=delta), x, None, cfg, "x", 0, False,
                       torch.Generator().manual_seed(7))
        losses[delta] = float(out["loss_v"])
    assert losses[0.0] < min(losses[0.05], losses[-0.05]) < losses[0.2]
