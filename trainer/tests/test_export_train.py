"""Export to the pMF format (real onnxruntime-node), and the training loop's resume."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import needs_ort, onnxruntime_backends, randomize_zero_inits
from pmf_trainer.cli import main as cli_main
from pmf_trainer.config import DiTConfig, MLPConfig, preset_run_dict
from pmf_trainer.export import (build_metadata, declared_inputs, example_inputs, export_onnx,
                                onnxruntime_backend, run_onnxruntime, verify_export)
from pmf_trainer.models import build_model
from pmf_trainer.optim import EMA
from pmf_trainer.train import RunConfig, load_checkpoint, train, trained_model

TINY = dict(input_size=16, in_channels=1, patch_size=4, hidden_size=32, depth=2, num_heads=2,
            aux_head_depth=1, bottleneck_channels=8, num_classes=3, num_class_tokens=2,
            num_time_tokens=1, num_cfg_tokens=1, num_interval_tokens=1)


def meta_of(path):
    return {p.key: p.value for p in onnx.load(path).metadata_props}


@needs_ort
@pytest.mark.parametrize("variant", ["cfg", "class-only", "unconditional", "u-pred"])
def test_dit_export_matches_pytorch_and_declares_its_inputs(tmp_path, variant):
    kw = dict(TINY)
    if variant == "class-only":
        kw["cfg_inputs"] = False
    if variant == "unconditional":
        kw.update(num_classes=0, cfg_inputs=False)
    if variant == "u-pred":
        kw["prediction"] = "u"
    cfg = DiTConfig(**kw)
    net = randomize_zero_inits(build_model(cfg)).eval()
    path = str(tmp_path / "m.onnx")
    names = ["a", "b", "c"] if cfg.num_classes else None
    inputs = export_onnx(net, cfg, path, build_metadata(cfg, net, name="tiny", class_names=names))
    expected = {"cfg": ["z", "h", "y", "omega", "t_min", "t_max"], "class-only": ["z", "h", "y"],
                "unconditional": ["z", "h"], "u-pred": ["z", "h", "y", "omega", "t_min", "t_max"]}[variant]
    assert inputs == expected
    m = onnx.load(path)
    assert [o.name for o in m.graph.output] == [cfg.prediction]
    assert verify_export(path, net, cfg) < 1e-4
    meta = meta_of(path)
    assert meta["pmf.format_version"] == "1"
    assert meta["pmf.prediction"] == cfg.prediction and meta["pmf.kind"] == "image"
    assert json.loads(meta["pmf.image_size"]) == 16 and json.loads(meta["pmf.channels"]) == 1
    assert json.loads(meta["pmf.architecture"])["params"] == sum(p.numel() for p in net.parameters())
    if cfg.num_classes:
        assert json.loads(meta["pmf.class_names"]) == ["a", "b", "c"]
    else:
        assert "pmf.class_names" not in meta


@needs_ort
def test_toy_export_carries_its_embedding(tmp_path):
    cfg = MLPConfig(dim=16, hidden=32, layers=3)
    net = build_model(cfg).eval()
    from pmf_trainer.data import embedding_matrix
    P = embedding_matrix(16, 1234)
    path = str(tmp_path / "toy.onnx")
    assert export_onnx(net, cfg, path, build_metadata(cfg, net, name="toy", embedding=P)) == ["z", "t", "h"]
    assert verify_export(path, net, cfg) < 1e-5
    meta = meta_of(path)
    assert meta["pmf.kind"] == "toy" and json.loads(meta["pmf.dim"]) == 16
    E = np.array(json.loads(meta["pmf.embedding"]))
    assert E.shape == (16, 2)
    np.testing.assert_allclose(E.T @ E, np.eye(2), atol=1e-6)  # column-orthonormal


@pytest.mark.parametrize("backend", ["node", "python"])
def test_each_onnxruntime_backend_runs_the_export_check(tmp_path, monkeypatch, backend):
    """Debian's PyTorch 1.13 has only onnxruntime-node beside it; the GPU machines and Debian
    trixie have the Python package. Both must give the same numbers."""
    if backend not in onnxruntime_backends():
        pytest.skip(f"onnxruntime ({backend}) is not installed here")
    monkeypatch.setenv("PMF_ORT_BACKEND", backend)
    assert onnxruntime_backend() == backend
    cfg = DiTConfig(**TINY)
    net = randomize_zero_inits(build_model(cfg)).eval()
    path = str(tmp_path / "m.onnx")
    inputs = export_onnx(net, cfg, path, build_metadata(cfg, net, name="tiny", class_names=["a", "b", "c"]))
    assert verify_export(path, net, cfg) < 1e-4
    ex = example_inputs(cfg, 3, seed=5)
    out = run_onnxruntime(path, {k: ex[k].numpy() for k in inputs})
    assert list(out) == ["x"] and out["x"].shape == (3, 1, 16, 16) and out["x"].dtype == np.float32


def test_an_unknown_onnxruntime_backend_is_refused(monkeypatch):
    monkeypatch.setenv("PMF_ORT_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="use auto, python or node"):
        onnxruntime_backend()


def test_class_names_must_match_num_classes():
    cfg = DiTConfig(**TINY)
    with pytest.raises(ValueError, match="class names"):
        build_metadata(cfg, build_model(cfg), name="x", class_names=["only-one"])


def test_declared_inputs():
    assert declared_inputs(MLPConfig()) == ["z", "t", "h"]
    assert declared_inputs(DiTConfig(**TINY)) == ["z", "h", "y", "omega", "t_min", "t_max"]


def toy_run(steps=6):
    d = preset_run_dict("toy-x-D2", ["train.steps=%d" % steps, "train.batch_size=32", "model.hidden=16",
                                     "model.layers=3", "train.log_every=2", "train.ckpt_every=2"])
    return RunConfig.from_dict(d)


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path):
    straight, split = str(tmp_path / "a"), str(tmp_path / "b")
    train(straight, toy_run(), quiet=True)
    train(split, toy_run(), max_steps=3, quiet=True)
    assert train(split, None, quiet=True)["step"] == 6  # resumed from run.json alone
    _, a, ca = trained_model(straight, None)
    _, b, cb = trained_model(split, None)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k
    for sa, sb in zip(ca["ema"]["shadows"], cb["ema"]["shadows"]):
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k
    records = [json.loads(line) for line in open(os.path.join(split, "log.jsonl"))]
    assert [r["step"] for r in records] == [2, 3, 4, 6] and all(np.isfinite(r["loss_v"]) for r in records)


def test_a_run_moved_to_another_device_resumes_deterministically(tmp_path, capsys):
    """CPU and CUDA generators keep different states, so a run saved on one device and resumed
    on the other reseeds its noise from (seed, step). Here the move is simulated by marking a
    CPU checkpoint as saved on CUDA (this machine has no GPU; test_cuda.py covers the real one)."""
    runs = []
    for name in ("moved1", "moved2"):
        d = str(tmp_path / name)
        train(d, toy_run(), max_steps=3, quiet=True)
        path = os.path.join(d, "checkpoint.pt")
        ck = load_checkpoint(d)
        assert ck["gen_device"] == "cpu"
        ck["gen_device"], ck["gen_state"] = "cuda", torch.zeros(16, dtype=torch.uint8)  # a Philox state
        torch.save(ck, path)
        assert train(d, None)["step"] == 6
        runs.append(d)
    assert "reseeded from (seed, step)" in capsys.readouterr().out
    straight = str(tmp_path / "straight")
    train(straight, toy_run(), quiet=True)
    (_, a, _), (_, b, _), (_, c, _) = (trained_model(d, None) for d in runs + [straight])
    assert all(torch.equal(va, vb) for va, vb in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values()))


def test_ema_state_is_copied_into_the_models_own_tensors():
    """Loading keeps the shadows on the model's device and dtype (a CPU-saved state must not
    replace CUDA shadows); here float64 stands in for the other device."""
    cfg = MLPConfig(dim=2, hidden=8, layers=2)
    saved = EMA(build_model(cfg), [0.9]).state_dict()
    ema = EMA(build_model(cfg).double(), [0.9])
    before = {k: v.data_ptr() for k, v in ema.shadows[0].items()}
    ema.load_state_dict(saved)
    for k, v in ema.shadows[0].items():
        assert v.dtype == torch.float64 and v.data_ptr() == before[k], k
        assert torch.equal(v.float(), saved["shadows"][0][k]), k
    with pytest.raises(ValueError, match="decays differ"):
        ema.load_state_dict({"decays": [0.5], "shadows": saved["shadows"]})


def test_a_run_folder_refuses_another_configuration(tmp_path):
    train(str(tmp_path), toy_run(2), quiet=True)
    other = toy_run(2)
    other.train.lr = 0.5
    with pytest.raises(ValueError, match="another configuration"):
        train(str(tmp_path), other, quiet=True)


def test_image_folder_training_with_a_tiny_dit(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        os.makedirs(tmp_path / "data" / cls)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "data" / cls / f"{i}.png")
    d = preset_run_dict("dit-tiny", ["train.steps=2", "train.batch_size=4", "model.num_classes=2",
                                     "model.input_size=16", "model.in_channels=3",
                                     f"train.dataset=\"folder:{tmp_path / 'data'}\""])
    res = train(str(tmp_path / "run"), RunConfig.from_dict(d), quiet=True)
    assert res["done"] and res["step"] == 2


@needs_ort
def test_cli_trains_and_exports_a_toy_in_one_command(tmp_path, capsys):
    run = str(tmp_path / "toy")
    out = str(tmp_path / "toy.onnx")
    rc = cli_main(["train", "--preset", "toy-u-D16", "--run-dir", run, "--set", "train.steps=20",
                   "--set", "train.log_every=10", "--export", out])
    assert rc == 0 and os.path.exists(out)
    assert meta_of(out)["pmf.prediction"] == "u"
    assert json.load(open(os.path.join(run, "command.json")))["preset"] == "toy-u-D16"


def test_cli_reports_bad_input_plainly(tmp_path, capsys):
    assert cli_main(["train", "--preset", "no-such-preset", "--run-dir", str(tmp_path)]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert cli_main(["train", "--run-dir", str(tmp_path / "empty")]) == 2
    assert "no run.json" in capsys.readouterr().err
    assert cli_main(["train", "--preset", "toy-x-D2", "--set", "bogus", "--run-dir", str(tmp_path)]) == 2


BUNDLED = os.path.join(os.path.dirname(__file__), "..", "..", "models", "fashion-mnist")


@needs_ort
def test_bundled_fashion_mnist_files_are_in_step(fashion_pt):
    """The model.pt rebuilt from model.onnx holds the same network (step and configuration from its
    metadata); the card's metrics file matches the metadata."""
    import torch
    from pmf_trainer.publish import load_pytorch

    cfg, net = load_pytorch(fashion_pt)
    # the rebuilt weights are those of the model.pt publish-image wrote (in git before c5f51a4):
    # sha256 over the sorted names and float32 bytes of its state dict
    import hashlib
    sd, h = net.state_dict(), hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].contiguous().numpy().tobytes())
    assert h.hexdigest() == "cfc6d85fe05091fd41e5c60da04a066afd3e16fe710e3b1c051a57c8d4676e0e"
    ck = torch.load(fashion_pt, weights_only=True)
    assert (cfg.hidden_size, cfg.depth, cfg.patch_size, cfg.mlp_hidden, cfg.prediction) == (192, 6, 7, 512, "x")
    onnx_path = os.path.join(BUNDLED, "model.onnx")
    assert verify_export(onnx_path, net, cfg, n=4) < 1e-4
    meta = meta_of(onnx_path)
    metrics = json.load(open(os.path.join(BUNDLED, "metrics.json")))
    training = json.loads(meta["pmf.training"])
    assert training["steps"] == metrics["training_step"] == ck["step"]
    assert training["metrics"]["class_consistency_1nfe"] == round(metrics["class_consistency_1nfe"], 4)
    assert json.loads(meta["pmf.default_sampling"]) == metrics["default_sampling"]
    assert metrics["class_consistency_1nfe"] >= 0.8  # the bar, as measured
