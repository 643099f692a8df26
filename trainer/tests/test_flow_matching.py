"""Flow-matching models (docs/checkpoint-format.md, section 3a): the config, the JiT-style loss
(x- or v-prediction, loss in v-space), training, export to the contract (real onnxruntime-node)
and the trainer's Euler / Heun sampler."""
import json
import os

import onnx
import pytest
import torch

from conftest import has_fashion_mnist, needs_ort, randomize_zero_inits
from pmf_trainer.cli import main as cli_main
from pmf_trainer.config import DiTConfig, LossConfig, MLPConfig, preset_run_dict
from pmf_trainer.export import build_metadata, declared_inputs, export_onnx, verify_export
from pmf_trainer.flow_loss import flow_matching_loss
from pmf_trainer.models import build_model
from pmf_trainer.sample import flow_sample
from pmf_trainer.train import RunConfig, train

TINY = dict(input_size=16, in_channels=1, patch_size=4, hidden_size=32, depth=2, num_heads=2,
            aux_head_depth=1, bottleneck_channels=8, num_classes=3, num_class_tokens=2,
            num_time_tokens=1, num_cfg_tokens=1, num_interval_tokens=1, model_type="flow-matching")


def meta_of(path):
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def test_predictions_follow_the_model_type():
    DiTConfig(**TINY, prediction="v").validate()
    with pytest.raises(ValueError, match="'x' or 'v' for a flow-matching model"):
        DiTConfig(**TINY, prediction="u").validate()
    with pytest.raises(ValueError, match="'x' or 'u' for a mean-flow model"):
        MLPConfig(prediction="v").validate()
    with pytest.raises(ValueError, match="model_type must be one of"):
        MLPConfig(model_type="diffusion").validate()


class Oracle(torch.nn.Module):
    """Outputs the batch's own clean x (or the exact v = (z - x) / t): the loss's zero."""

    def __init__(self, x, prediction):
        super().__init__()
        self.x, self.prediction, self.w = x, prediction, torch.nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, z, t, h, omega=None, t_min=None, t_max=None, y=None):
        self.seen.append((h, omega))
        x = self.x + 0 * self.w
        return x if self.prediction == "x" else (z - x) / t.reshape(-1, 1, 1, 1)


@pytest.mark.parametrize("prediction", ["x", "v"])
@pytest.mark.parametrize("cfg_inputs", [False, True])
def test_the_exact_field_has_zero_loss_and_no_h(prediction, cfg_inputs):
    x = torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(8) % 3
    net = Oracle(x, prediction)
    out = flow_matching_loss(net, x, y, LossConfig(P_mean=-0.4, P_std=1.0, t_eps=1e-4), prediction, 3, cfg_inputs,
                             torch.Generator().manual_seed(1), return_terms=True)
    assert float(out["loss"]) < 1e-6
    assert all(h is None for h, _ in net.seen), "a flow-matching network is never given h"
    assert all((omega is not None) == cfg_inputs for _, omega in net.seen)
    if not cfg_inputs:
        expected = (out["z"] - x) / out["t"].clamp(min=1e-4).reshape(-1, 1, 1, 1) if prediction == "x" else out["e"] - x
        torch.testing.assert_close(out["v_target"], expected)


def test_the_loss_is_plain_l2_in_v_space_at_norm_p_0_and_trains_the_transformer_on_t():
    cfg = DiTConfig(**{**TINY, "cfg_inputs": False})
    net = randomize_zero_inits(build_model(cfg))
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    lc = LossConfig(norm_p=0.0, class_dropout_prob=0.0)
    out = flow_matching_loss(net, x, torch.arange(4) % 3, lc, "x", 3, False, torch.Generator().manual_seed(2),
                             return_terms=True)
    L = ((out["v"] - out["v_target"]) ** 2).sum(dim=(1, 2, 3)).mean()
    torch.testing.assert_close(out["loss"].detach(), L)
    out["loss"].backward()
    assert net.h_embedder.mlp[0].weight.grad.abs().sum() > 0, "the time tokens carry t"
    z, y = torch.randn(2, 1, 16, 16), torch.tensor([0, 1])
    with torch.no_grad():
        a = net(z, torch.full((2,), 0.3), None, y=y)
        b = net(z, torch.full((2,), 0.7), None, y=y)
    assert (a - b).abs().max() > 1e-4


def test_the_trainer_sampler_solves_a_known_ode():
    """x-prediction of one data point c: v = (z - c) / t, whose ODE ends at c from any z_1 (Euler is exact)."""
    c = torch.tensor([[0.5, -0.25]])

    def net(z, t, h, *cond):
        return c.expand_as(z)

    z1 = torch.randn(3, 2)
    for solver in ("euler", "heun"):
        torch.testing.assert_close(flow_sample(net, z1, prediction="x", steps=5, solver=solver, t_eps=1e-6),
                                   c.expand(3, 2), atol=1e-5, rtol=0)


@needs_ort
@pytest.mark.parametrize("variant", ["x-two-pass", "v-cfg-inputs", "x-unconditional"])
def test_dit_export_declares_t_and_no_h_and_matches_pytorch(tmp_path, variant):
    kw = dict(TINY)
    if variant == "x-two-pass":
        kw["cfg_inputs"] = False
    if variant == "v-cfg-inputs":
        kw["prediction"] = "v"
    if variant == "x-unconditional":
        kw.update(num_classes=0, cfg_inputs=False)
    cfg = DiTConfig(**kw)
    net = randomize_zero_inits(build_model(cfg)).eval()
    path = str(tmp_path / "fm.onnx")
    names = ["a", "b", "c"] if cfg.num_classes else None
    sampling = {"steps": 8, "omega": 2.0, "t_min": 0.0, "t_max": 1.0, "solver": "heun"}
    inputs = export_onnx(net, cfg, path, build_metadata(cfg, net, name="fm", class_names=names, sampling=sampling))
    assert inputs == {"x-two-pass": ["z", "t", "y"], "v-cfg-inputs": ["z", "t", "y", "omega", "t_min", "t_max"],
                      "x-unconditional": ["z", "t"]}[variant]
    assert [o.name for o in onnx.load(path).graph.output] == [cfg.prediction]
    assert verify_export(path, net, cfg) < 1e-5
    meta = meta_of(path)
    assert meta["pmf.model_type"] == "flow-matching" and meta["pmf.prediction"] == cfg.prediction
    assert json.loads(meta["pmf.default_sampling"])["solver"] == "heun"
    assert meta.get("pmf.guidance") == ("two-pass" if variant == "x-two-pass" else None)


def test_meanflow_metadata_is_unchanged_by_the_solver_field():
    cfg = DiTConfig(**{**TINY, "model_type": "mean-flow"})
    meta = build_metadata(cfg, build_model(cfg), name="mf", class_names=["a", "b", "c"],
                          sampling={"steps": 1, "omega": 2.0, "t_min": 0.0, "t_max": 1.0, "solver": "euler"})
    assert "pmf.model_type" not in meta and "pmf.guidance" not in meta
    assert "solver" not in json.loads(meta["pmf.default_sampling"])
    assert declared_inputs(cfg) == ["z", "h", "y", "omega", "t_min", "t_max"]


@needs_ort
def test_a_toy_flow_matching_run_trains_and_exports(tmp_path):
    d = preset_run_dict("toy-x-D2", ["model.model_type=\"flow-matching\"", "train.steps=6", "train.batch_size=32",
                                     "model.hidden=16", "model.layers=3", "train.log_every=2", "train.ckpt_every=2",
                                     "sampling.steps=4", "sampling.solver=\"heun\""])
    run_dir = str(tmp_path / "run")
    res = train(run_dir, RunConfig.from_dict(d), quiet=True)
    assert res["done"]
    losses = [json.loads(line)["loss_v"] for line in open(os.path.join(run_dir, "log.jsonl"))]
    assert all(v == v and v > 0 for v in losses)
    out = str(tmp_path / "fm-toy.onnx")
    assert cli_main(["export", "--run-dir", run_dir, "--out", out]) == 0
    m = onnx.load(out)
    assert [i.name for i in m.graph.input] == ["z", "t"]
    meta = meta_of(out)
    assert meta["pmf.model_type"] == "flow-matching" and meta["pmf.kind"] == "toy"
    assert json.loads(meta["pmf.default_sampling"]) == {"steps": 4, "omega": 1.0, "t_min": 0.0, "t_max": 1.0,
                                                        "solver": "heun"}


@needs_ort
@pytest.mark.skipif(not has_fashion_mnist(), reason="needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")
def test_the_fm_tiny_preset_trains_on_fashion_mnist_and_exports_two_pass_guidance(tmp_path):
    run_dir = str(tmp_path / "fm")
    assert cli_main(["train", "--run-dir", run_dir, "--preset", "fm-tiny", "--set", "train.steps=3",
                     "--set", "train.batch_size=8", "--set", "train.log_every=1",
                     "--export", str(tmp_path / "fm.onnx")]) == 0
    meta = meta_of(str(tmp_path / "fm.onnx"))
    assert meta["pmf.model_type"] == "flow-matching" and meta["pmf.guidance"] == "two-pass"
    assert meta["pmf.prediction"] == "x" and json.loads(meta["pmf.num_classes"]) == 10
    assert json.loads(meta["pmf.default_sampling"])["solver"] == "heun"
