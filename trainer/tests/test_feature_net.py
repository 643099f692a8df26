"""The Fashion-MNIST classifier exported as an ONNX feature network (pmf_trainer.feature_net)."""
import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import REPO_ROOT, has_fashion_mnist, needs_ort
from pmf_trainer import feature_net as fn
from pmf_trainer.cli import main as cli_main
from pmf_trainer.data import FASHION_MNIST_CLASSES, _read_idx, load_fashion_mnist
from pmf_trainer.evaluate import load_classifier
from pmf_trainer.export import run_onnxruntime

CLASSIFIER = os.path.join(REPO_ROOT, "models", "eval", "fashion-mnist-classifier.pt")
COMMITTED = os.path.join(REPO_ROOT, "models", "eval", "fashion-mnist-classifier.onnx")
REAL_DATA = {"test_accuracy": 0.5, "fd_train_vs_test": 0.25, "route": "uint8", "protocol": "test"}
needs_fashion = pytest.mark.skipif(not has_fashion_mnist(), reason="apt-get install dataset-fashion-mnist")


def random_levels(n, seed=0):
    """uint8 levels 0..255 as float32 [n, 1, 28, 28]."""
    g = np.random.default_rng(seed)
    return g.integers(0, 256, size=(n, 1, 28, 28)).astype(np.float32)


def verify_images():
    return fn.reference_images(64) if has_fashion_mnist() else random_levels(64, seed=3)


@pytest.fixture(scope="module")
def net():
    return fn.FeatureNet(load_classifier(CLASSIFIER)).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("feature-net") / "fmnist.onnx")
    res = fn.export_classifier(CLASSIFIER, out, real_data=dict(REAL_DATA), verify_images=verify_images())
    return out, res


def torch_outputs(net, images):
    with torch.no_grad():
        f, lg = net(torch.from_numpy(images))
    return f.numpy(), lg.numpy()


def assert_close_rel(got, ref, rel=1e-5):
    got, ref = got.astype(np.float64), ref.astype(np.float64)
    assert got.shape == ref.shape
    assert np.linalg.norm(got - ref) <= rel * np.linalg.norm(ref)
    assert np.abs(got - ref).max() <= 10 * rel * np.abs(ref).max()


def dim(d):
    return d.dim_param or d.dim_value


@needs_ort
def test_export_writes_the_contract_metadata_names_and_shapes(exported):
    out, res = exported
    m = onnx.load(out)
    onnx.checker.check_model(m)
    meta = fn.read_metadata(m)
    assert meta == res["metadata"]
    assert meta == {"format_version": 1, "name": "fashion-mnist-classifier", "channels": 1,
                    "input_size": [28, 28], "resize": "none", "feature_dim": 128, "logit_classes": 10,
                    "class_names": FASHION_MNIST_CLASSES,
                    "source": {"file": "fashion-mnist-classifier.pt", "sha256": fn.sha256_file(CLASSIFIER)},
                    "real_data": REAL_DATA}
    assert len(meta["class_names"]) == 10 and meta["class_names"][0] == "T-shirt/top"
    assert [p.key for p in m.metadata_props] == ["pmf_feature_net"]
    assert [i.name for i in m.graph.input] == ["images"]
    assert [o.name for o in m.graph.output] == ["features", "logits"]
    shape = lambda v: [dim(d) for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert shape(m.graph.input[0]) == ["N", 1, 28, 28]
    assert [shape(o) for o in m.graph.output] == [["N", 128], ["N", 10]]
    for v in list(m.graph.input) + list(m.graph.output):
        assert v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    # onnxruntime-node's CPU ops, standard domain, opset 17, BatchNorm folded into the convolutions
    ops = {n.op_type for n in m.graph.node}
    assert ops <= fn.ALLOWED_OPS and {"Conv", "Gemm", "GlobalAveragePool"} <= ops
    assert "BatchNormalization" not in ops and all(n.domain == "" for n in m.graph.node)
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 17)]
    assert os.path.getsize(out) < 1 << 20 and res["bytes"] == os.path.getsize(out)
    assert res["sha256"] == fn.sha256_file(out)
    v = res["verification"]
    assert v["images"] == 64 and v["batch_1"]["images"] == 1 and v["argmax_agreement"] == 1.0
    for name in ("features", "logits"):
        assert v[name]["rel_l2"] <= fn.MAX_REL_L2 and v["batch_1"][name]["rel_l2"] <= fn.MAX_REL_L2
    # nothing else is left in the folder (the staging folder is gone)
    assert os.listdir(os.path.dirname(out)) == ["fmnist.onnx"]


@needs_ort
@pytest.mark.parametrize("n", [1, 7])
def test_export_has_a_dynamic_batch_and_matches_pytorch_on_uint8_levels(exported, net, n):
    out, _ = exported
    images = random_levels(n, seed=n)
    images[0, 0, 0, :3] = [0.0, 255.0, 128.0]  # the extremes of the range
    got = run_onnxruntime(out, {"images": images})
    f, lg = torch_outputs(net, images)
    assert got["features"].shape == (n, 128) and got["logits"].shape == (n, 10)
    assert got["features"].dtype == np.float32 and got["logits"].dtype == np.float32
    assert_close_rel(got["features"], f)
    assert_close_rel(got["logits"], lg)


@needs_ort
@needs_fashion
def test_export_matches_pytorch_on_real_test_images(exported, net):
    out, _ = exported
    images = fn.reference_images(200)
    got = run_onnxruntime(out, {"images": images})
    f, lg = torch_outputs(net, images)
    assert_close_rel(got["features"], f)
    assert_close_rel(got["logits"], lg)
    assert (got["logits"].argmax(1) == lg.argmax(1)).all()


def test_the_graph_normalises_uint8_levels_to_the_trainer_range(net):
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    levels = fn.to_levels(x)
    assert float(levels.min()) >= 0 and float(levels.max()) <= 255
    assert torch.equal(levels, levels.round())
    f, lg = net(levels)
    cls = net.classifier
    with torch.no_grad():
        xq = levels / 127.5 - 1.0
        assert torch.equal(f, cls.features(xq)) and torch.equal(lg, cls(xq))
        # levels outside 0..255 are clipped as the trainer clamps to [-1, 1]
        assert torch.equal(net(levels * 0 - 40)[0], cls.features(torch.full_like(xq, -1.0)))
        assert torch.equal(net(levels * 0 + 300)[0], cls.features(torch.ones_like(xq)))


@needs_fashion
def test_the_uint8_route_gives_real_images_their_stored_levels():
    """Quantising the dataset (in [-1, 1]) gives back the file's uint8 levels exactly, so the
    uint8 route and the float route score real data alike."""
    from pmf_trainer.data import FASHION_MNIST_DIR
    stored = _read_idx(os.path.join(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
    levels = fn.to_levels(load_fashion_mnist("test").x)
    np.testing.assert_array_equal(levels.numpy()[:, 0], stored.astype(np.float32))
    assert torch.equal(levels / 127.5 - 1.0, load_fashion_mnist("test").x)


def test_a_failed_check_writes_nothing_and_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "f.onnx"
    out.write_bytes(b"the previous model")

    def off_by_a_little(path, feeds):  # an exporter bug: onnxruntime disagrees with PyTorch
        with torch.no_grad():
            f, lg = fn.FeatureNet(load_classifier(CLASSIFIER)).eval()(torch.from_numpy(feeds["images"]))
        return {"features": f.numpy() * 1.001, "logits": lg.numpy()}

    monkeypatch.setattr(fn, "run_onnxruntime", off_by_a_little)
    with pytest.raises(RuntimeError, match="`features` differs from PyTorch"):
        fn.export_classifier(CLASSIFIER, str(out), real_data=dict(REAL_DATA), verify_images=random_levels(4))
    assert out.read_bytes() == b"the previous model"
    assert sorted(os.listdir(tmp_path)) == ["f.onnx"]


def test_a_failed_export_leaves_no_file_nor_folder(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("tracing failed")

    monkeypatch.setattr(fn, "to_onnx", broken)
    out = tmp_path / "new" / "f.onnx"
    with pytest.raises(RuntimeError, match="tracing failed"):
        fn.export_classifier(CLASSIFIER, str(out), real_data=dict(REAL_DATA), verify_images=random_levels(2))
    assert not (tmp_path / "new").exists()
    # an output path that is a folder is refused before anything is written
    (tmp_path / "dir.onnx").mkdir()
    monkeypatch.undo()
    with pytest.raises(ValueError, match="is a folder"):
        fn.export_classifier(CLASSIFIER, str(tmp_path / "dir.onnx"), real_data=dict(REAL_DATA),
                             verify_images=random_levels(2))
    assert os.listdir(tmp_path / "dir.onnx") == []
    # a missing classifier
    with pytest.raises(FileNotFoundError):
        fn.export_classifier(str(tmp_path / "none.pt"), str(tmp_path / "x.onnx"), real_data=dict(REAL_DATA))
    assert not (tmp_path / "x.onnx").exists()


@needs_ort
def test_export_classifier_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fn, "real_data_figures", lambda classifier: dict(REAL_DATA))
    if not has_fashion_mnist():
        monkeypatch.setattr(fn, "reference_images", lambda n=fn.VERIFY_N: random_levels(16))
    out = tmp_path / "c.onnx"
    assert cli_main(["export-classifier", "--classifier", CLASSIFIER, "--out", str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["onnx"] == str(out) and res["metadata"]["real_data"] == REAL_DATA
    assert res["verification"]["features"]["rel_l2"] <= fn.MAX_REL_L2
    assert fn.read_metadata(onnx.load(str(out)))["source"]["sha256"] == fn.sha256_file(CLASSIFIER)
    assert cli_main(["export-classifier", "--classifier", str(tmp_path / "no.pt"), "--out", str(out)]) == 2


def test_the_committed_feature_net_is_the_committed_classifier():
    """models/eval/fashion-mnist-classifier.onnx was exported from the .pt beside it (export it
    again with `scripts/pmf-trainer export-classifier` when the classifier changes)."""
    m = onnx.load(COMMITTED)
    meta = fn.read_metadata(m)
    assert meta["source"] == {"file": "fashion-mnist-classifier.pt", "sha256": fn.sha256_file(CLASSIFIER)}
    assert meta["format_version"] == 1 and meta["feature_dim"] == 128 and meta["logit_classes"] == 10
    assert meta["class_names"] == FASHION_MNIST_CLASSES
    rd = meta["real_data"]
    assert rd["route"] == "uint8" and abs(rd["test_accuracy"] - 0.920) < 0.002
    assert abs(rd["fd_train_vs_test"] - 0.0294) < 0.001
    assert os.path.getsize(COMMITTED) < 1 << 20


@needs_ort
def test_the_committed_feature_net_matches_the_classifier(net):
    images = fn.reference_images(32) if has_fashion_mnist() else random_levels(32, seed=5)
    got = run_onnxruntime(COMMITTED, {"images": images})
    f, lg = torch_outputs(net, images)
    assert_close_rel(got["features"], f)
    assert_close_rel(got["logits"], lg)


def test_real_data_figures_are_real_reference_through_the_uint8_route(monkeypatch):
    """On images that are uint8 levels already (as Fashion-MNIST's), the uint8 route scores
    what evaluate.real_reference scores on the floats; a small stand-in dataset keeps it fast."""
    from pmf_trainer import evaluate
    from pmf_trainer.data import Dataset

    def small(split, root=None):
        g = np.random.default_rng({"train": 1, "test": 2}[split])
        levels = g.integers(0, 256, size=(300, 1, 28, 28)).astype(np.float32)
        x = torch.from_numpy(levels / 127.5 - 1.0)
        return Dataset(x, torch.from_numpy(g.integers(0, 10, 300)), list(FASHION_MNIST_CLASSES), (-1.0, 1.0), "image")

    monkeypatch.setattr(evaluate, "load_fashion_mnist", small)
    cls = load_classifier(CLASSIFIER)
    got = fn.real_data_figures(cls)
    ref = evaluate.real_reference(cls)
    assert got["route"] == "uint8" and "real_reference" in got["protocol"]
    assert got["test_accuracy"] == round(ref["test_accuracy"], 6)
    assert got["fd_train_vs_test"] == pytest.approx(ref["fd_train_vs_test"], rel=1e-4)
    assert got["fd_train_vs_test"] > 0
