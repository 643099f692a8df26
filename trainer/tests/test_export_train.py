"""Export to the pMF format (real onnxruntime-node), and the training loop's resume."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import needs_ort, randomize_zero_inits
from pmf_trainer.cli import main as cli_main
from pmf_trainer.config import DiTConfig, MLPConfig, preset_run_dict
from pmf_trainer.export import build_metadata, declared_inputs, export_onnx, verify_export
from pmf_trainer.models import build_model
from pmf_trainer.train import RunConfig, train, trained_model

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
    lines = [json.loads(l) for l in open(os.path.join(split, "log.jsonl"))]
    assert [l["step"] for l in lines] == [2, 3, 4, 6] and all(np.isfinite(l["loss_v"]) for l in lines)


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
@pytest.mark.skipif(not os.path.exists(os.path.join(BUNDLED, "model.pt")), reason="no bundled model.pt")
def test_bundled_fashion_mnist_files_are_in_step():
    """model.pt and model.onnx hold the same network; the card's metrics file matches the metadata."""
    from pmf_trainer.publish import load_pytorch

    cfg, net = load_pytorch(os.path.join(BUNDLED, "model.pt"))
    onnx_path = os.path.join(BUNDLED, "model.onnx")
    assert verify_export(onnx_path, net, cfg, n=4) < 1e-4
    meta = meta_of(onnx_path)
    metrics = json.load(open(os.path.join(BUNDLED, "metrics.json")))
    training = json.loads(meta["pmf.training"])
    assert training["steps"] == metrics["training_step"]
    assert training["metrics"]["class_consistency_1nfe"] == round(metrics["class_consistency_1nfe"], 4)
    assert json.loads(meta["pmf.default_sampling"]) == metrics["default_sampling"]
    assert metrics["class_consistency_1nfe"] >= 0.8  # the bar, as measured
