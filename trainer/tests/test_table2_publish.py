"""The Table 2 path: the enlarged dataset, float16 storage, rebuild-pytorch, and publish-table2 /
publish-image (flow matching) end to end on tiny runs of the real presets."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import has_fashion_mnist, needs_ort, randomize_zero_inits
from pmf_trainer.cli import main as cli_main
from pmf_trainer.config import DiTConfig
from pmf_trainer.data import downsample_images, load_dataset, upsample_images
from pmf_trainer.export import build_metadata, export_onnx, reference_outputs, run_onnxruntime
from pmf_trainer.model_dit import PmfDiT
from pmf_trainer.rebuild import rebuild_pytorch
from pmf_trainer.storage import round_weights_float16, store_float16

needs_data = pytest.mark.skipif(not has_fashion_mnist(), reason="needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLASSIFIER = os.path.join(REPO, "models", "eval", "fashion-mnist-classifier.pt")
TINY = ["--set", "model.hidden_size=32", "--set", "model.num_heads=2", "--set", "model.depth=2",
        "--set", "train.steps=3", "--set", "train.batch_size=16", "--set", "train.ckpt_every=3"]


def test_enlarging_keeps_the_data_range_and_the_block_mean_undoes_it():
    i = torch.arange(28.0)
    x = (torch.sin(i / 28 * 6.28 * torch.tensor([1.0, 2.0, 3.0])[:, None, None, None])
         * torch.cos(i[:, None] / 28 * 6.28)).expand(3, 1, 28, 28) * 0.9  # smooth images
    big = upsample_images(x, 4)
    assert big.shape == (3, 1, 112, 112)
    assert big.min() >= -1 and big.max() <= 1
    back = downsample_images(big, 4)
    # bilinear enlargement then 4x4 means is a mild blur of the original, not a new image
    assert float((back - x).abs().mean()) < 0.03 and float((back - x).abs().max()) < 0.1


@needs_data
def test_the_enlarged_dataset_gives_batches_at_the_models_size():
    ds = load_dataset("fashion-mnist@112")
    assert ds.size == 112 and ds.x.shape[-1] == 28  # stored at 28x28; enlarged per batch
    b = ds.batch(torch.arange(4))
    assert b.shape == (4, 1, 112, 112)
    assert float((downsample_images(b, 4) - ds.x[:4]).abs().mean()) < 0.05
    for bad in ("fashion-mnist@100", "fashion-mnist@x", "fashion-mnist@0"):
        with pytest.raises(ValueError, match="multiple of 28"):
            load_dataset(bad)


@needs_data
def test_training_refuses_a_dataset_of_another_size(tmp_path, capsys):
    rc = cli_main(["train", "--preset", "table2-x-p16", "--set", "train.dataset=fashion-mnist", *TINY,
                   "--run-dir", str(tmp_path / "r")])
    assert rc == 2
    assert "gives 28x28 images; the model takes 112x112" in capsys.readouterr().err


def _tiny_dit(seed=0):
    torch.manual_seed(seed)
    cfg = DiTConfig(input_size=16, in_channels=1, patch_size=4, hidden_size=32, depth=2, num_heads=2,
                    aux_head_depth=1, bottleneck_channels=8, num_classes=3, cfg_inputs=True)
    return cfg, randomize_zero_inits(PmfDiT(cfg).eval(), seed=seed)


@needs_ort
def test_float16_storage_halves_the_weights_and_computes_as_the_rounded_network(tmp_path):
    cfg, net = _tiny_dit()
    change = round_weights_float16(net)["max_rel_l2_weight_change"]
    assert 0 < change < 1e-3
    path = str(tmp_path / "m.onnx")
    export_onnx(net, cfg, path, build_metadata(cfg, net, name="tiny", class_names=["a", "b", "c"]))
    size32 = os.path.getsize(path)
    info = store_float16(path)
    assert info["weight_bytes_stored"] < 0.55 * info["weight_bytes_float32"]
    assert os.path.getsize(path) < 0.8 * size32
    m = onnx.load(path)
    big = [i for i in m.graph.initializer if int(np.prod(i.dims)) >= 16]
    assert big and all(i.data_type == onnx.TensorProto.FLOAT16 for i in big)
    feeds, ref = reference_outputs(net, cfg)
    got = run_onnxruntime(path, feeds)["x"]
    assert np.abs(got - ref).max() < 1e-5  # the rounded weights, widened exactly: float32 round-off only
    # rebuild-pytorch reads the float16 weights back through their Casts: the same network
    out = str(tmp_path / "m.pt")
    res = rebuild_pytorch(path, out)
    assert res["max_abs_diff_vs_onnx"] < 1e-5
    ck = torch.load(out, weights_only=True)
    for k, v in net.state_dict().items():
        assert torch.equal(ck["state_dict"][k], v), k


@needs_ort
def test_rebuild_pytorch_refuses_a_file_without_pmf_metadata(tmp_path):
    cfg, net = _tiny_dit()
    path = str(tmp_path / "m.onnx")
    export_onnx(net, cfg, path, build_metadata(cfg, net, name="tiny", class_names=["a", "b", "c"]))
    m = onnx.load(path)
    del m.metadata_props[:]
    onnx.save(m, path)
    assert cli_main(["rebuild-pytorch", "--onnx", path, "--out", str(tmp_path / "m.pt")]) == 2
    assert not os.path.exists(tmp_path / "m.pt")


@needs_ort
@needs_data
def test_publish_table2_on_tiny_runs_of_the_presets(tmp_path, capsys):
    runs = []
    for preset in ("table2-x-p4", "table2-u-p16"):
        rd = str(tmp_path / preset)
        assert cli_main(["train", "--preset", preset, *TINY, "--run-dir", rd]) == 0
        runs.append(rd)
    dest = str(tmp_path / "table2")
    assert cli_main(["publish-table2", "--dest", dest, "--classifier", CLASSIFIER, "--n-per-class", "4", *runs]) == 0
    assert sorted(os.listdir(dest)) == ["README.md", "metrics.json", "u-p16-samples.png", "u-p16.onnx",
                                        "x-p4-samples.png", "x-p4.onnx"]
    met = json.load(open(os.path.join(dest, "metrics.json")))["models"]
    assert [(r["file"], r["patch_dim"]) for r in met] == [("x-p4.onnx", 16), ("u-p16.onnx", 256)]
    assert met[1]["classifier_view"].startswith("112x112 samples reduced to 28x28")
    for r in met:
        assert 0 <= r["class_consistency_1nfe"] <= 1 and r["fd_vs_test_1nfe"] > 0
        assert r["onnx_max_abs_diff_vs_pytorch"] < 1e-4 and r["storage"] == "float16"
        meta = {p.key: p.value for p in onnx.load(os.path.join(dest, r["file"]), load_external_data=False).metadata_props}
        assert json.loads(meta["pmf.default_sampling"]) == r["default_sampling"]
        assert json.loads(meta["pmf.training"])["metrics"]["fd_vs_test_1nfe"] == round(r["fd_vs_test_1nfe"], 3)
    card = open(os.path.join(dest, "README.md")).read()
    assert "| `u-p16.onnx` | u | 112x112 | 16x16 | 256 |" in card and "![1-NFE samples of x-p4.onnx](x-p4-samples.png)" in card
    # all or nothing: a second publish that fails on its second run changes nothing in dest, leaves no stage
    before = {f: os.path.getmtime(os.path.join(dest, f)) for f in os.listdir(dest)}
    assert cli_main(["publish-table2", "--dest", dest, "--classifier", CLASSIFIER, "--n-per-class", "4",
                     runs[0], str(tmp_path / "no-such-run")]) == 2
    assert {f: os.path.getmtime(os.path.join(dest, f)) for f in os.listdir(dest)} == before
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".publish-")]


@needs_ort
@needs_data
def test_publish_image_measures_a_flow_matching_model_with_its_solver(tmp_path):
    rd = str(tmp_path / "fm")
    assert cli_main(["train", "--preset", "fm-fig1", *TINY, "--set", "sampling.steps=3", "--run-dir", rd]) == 0
    dest = str(tmp_path / "out")
    assert cli_main(["publish-image", "--run-dir", rd, "--dest", dest, "--classifier", CLASSIFIER, "--n-per-class", "3",
                     "--omegas", "1", "2", "--steps-eval", "3", "--storage", "float16", "--no-pytorch",
                     "--name", "FM"]) == 0
    assert sorted(os.listdir(dest)) == ["README.md", "metrics.json", "model.onnx", "samples.png"]
    met = json.load(open(os.path.join(dest, "metrics.json")))
    assert met["default_sampling"]["solver"] == "heun" and met["default_sampling"]["steps"] == 3
    assert [s["steps"] for s in met["omega_sweep"]] == [3, 3] and met["multi_step"] == []
    card = open(os.path.join(dest, "README.md")).read()
    assert "3 Heun steps" in card and "flow matching, the JiT recipe" in card and "rebuild-pytorch" in card
    meta = {p.key: p.value for p in onnx.load(os.path.join(dest, "model.onnx")).metadata_props}
    assert meta["pmf.model_type"] == "flow-matching" and meta["pmf.guidance"] == "two-pass"
