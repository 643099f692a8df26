"""The same code path on a CUDA GPU (PyTorch 2.x on the accelerator machines).

Every test here is skipped where PyTorch sees no GPU, as on CI; `scripts/device-check.sh`
runs them on a lent accelerator. Each compares the GPU against the CPU rather than
checking that something merely runs.
"""
import json
import os

import torch

from conftest import needs_cuda, needs_ort, randomize_zero_inits
from pmf_trainer.cli import main as cli_main
from pmf_trainer.config import DiTConfig, LossConfig, preset_run_dict
from pmf_trainer.fields import u_from_raw
from pmf_trainer.jvp import jvp
from pmf_trainer.loss import pmf_loss
from pmf_trainer.model_dit import PmfDiT
from pmf_trainer.train import RunConfig, load_checkpoint, train, trained_model

pytestmark = needs_cuda

TINY = dict(input_size=16, in_channels=1, patch_size=4, hidden_size=64, depth=2, num_heads=2,
            aux_head_depth=1, bottleneck_channels=8, num_classes=3, num_class_tokens=2,
            num_time_tokens=1, num_cfg_tokens=1, num_interval_tokens=1)


def toy_run(steps=6):
    d = preset_run_dict("toy-x-D16", [f"train.steps={steps}", "train.batch_size=64", "model.hidden=32",
                                      "model.layers=3", "train.log_every=2", "train.ckpt_every=2"])
    return RunConfig.from_dict(d)


def test_dit_forward_and_jvp_agree_between_cpu_and_cuda():
    torch.backends.cuda.matmul.allow_tf32 = False  # compare float32 with float32
    torch.backends.cudnn.allow_tf32 = False
    cfg = DiTConfig(**TINY)
    net = randomize_zero_inits(PmfDiT(cfg)).eval()
    g = torch.Generator().manual_seed(0)
    n = 4
    z = torch.randn(n, 1, 16, 16, generator=g)
    t = 0.3 + 0.6 * torch.rand(n, generator=g)
    r = t * torch.rand(n, generator=g)
    cond = (torch.full((n,), 2.5), torch.full((n,), 0.1), torch.full((n,), 0.8), torch.tensor([0, 1, 2, 3]))
    tz = torch.randn(z.shape, generator=g)

    def run(device):
        m = net.to(device)
        c = tuple(x.to(device) for x in cond)

        def f(z_, t_, r_):
            return u_from_raw(m(z_, t_, t_ - r_, *c), z_, t_, "x")

        u, du = jvp(f, (z.to(device), t.to(device), r.to(device)),
                    (tz.to(device), torch.ones_like(t).to(device), torch.zeros_like(t).to(device)))
        return u.detach().cpu(), du.cpu()

    u_cpu, du_cpu = run("cpu")
    u_gpu, du_gpu = run("cuda")
    torch.testing.assert_close(u_gpu, u_cpu, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(du_gpu, du_cpu, rtol=1e-4, atol=1e-4)
    assert du_cpu.abs().max() > 1e-3


def test_the_loss_backpropagates_on_cuda():
    cfg = DiTConfig(**TINY)
    net = randomize_zero_inits(PmfDiT(cfg)).cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.rand(16, 1, 16, 16, device="cuda") * 2 - 1
    y = torch.randint(0, 3, (16,), device="cuda")
    out = pmf_loss(net, x, y, LossConfig(), "x", 3, True, gen)
    out["loss"].backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert torch.isfinite(out["loss"]) and grads
    assert all(gr.is_cuda and torch.isfinite(gr).all() for gr in grads)


def test_a_cuda_run_resumes_to_the_same_weights(tmp_path):
    straight, split = str(tmp_path / "a"), str(tmp_path / "b")
    train(straight, toy_run(), quiet=True)
    train(split, toy_run(), max_steps=3, quiet=True)
    ck = load_checkpoint(split)
    assert ck["gen_device"] == "cuda" and any("(CUDA)" in h for h in ck["hardware"])
    assert train(split, None, quiet=True)["step"] == 6
    (_, a, _), (_, b, _) = trained_model(straight, None), trained_model(split, None)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(va, vb, rtol=1e-6, atol=1e-6, msg=k)


def test_a_cpu_run_moves_to_cuda_and_back(tmp_path, monkeypatch, capsys):
    d = str(tmp_path / "run")
    monkeypatch.setenv("PMF_DEVICE", "cpu")
    train(d, toy_run(9), max_steps=3, quiet=True)
    assert load_checkpoint(d)["gen_device"] == "cpu"
    monkeypatch.delenv("PMF_DEVICE")
    assert train(d, None, max_steps=3)["step"] == 6
    assert "reseeded" in capsys.readouterr().out
    assert load_checkpoint(d)["gen_device"] == "cuda"
    monkeypatch.setenv("PMF_DEVICE", "cpu")
    assert train(d, None, quiet=True)["step"] == 9
    losses = [json.loads(line)["loss_v"] for line in open(os.path.join(d, "log.jsonl"))]
    assert len(losses) >= 4 and all(v == v and v < 1e3 for v in losses)  # finite throughout


@needs_ort
def test_a_cuda_trained_toy_exports_and_matches_onnxruntime(tmp_path, capsys):
    run_dir, out = str(tmp_path / "run"), str(tmp_path / "toy.onnx")
    assert cli_main(["train", "--preset", "toy-x-D16", "--run-dir", run_dir, "--set", "train.steps=20",
                     "--export", out]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("device cuda" in line for line in lines)
    report = json.loads(next(line for line in lines if line.startswith("{")))
    assert report["onnx"] == out and report["max_abs_diff_vs_pytorch"] < 1e-4
