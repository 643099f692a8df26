"""The FID Inception-v3 (pmf_trainer.inception) and convert-inception, with random weights (the
real pt_inception-2015-12-05-6726825d.pth cannot be downloaded here).

The module is held to a second statement of the network written independently of it: plain
torch.nn.functional calls walking the state dict block by block, with each convolution's padding
and stride spelled out (the module derives them from a rule) and each block's pooling written
where the block is (the module takes it from a table)."""
import io
import json
import os
import time

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from conftest import needs_ort
from pmf_trainer import cli
from pmf_trainer import convert_inception as ci
from pmf_trainer import inception

SD = inception.random_state_dict(seed=0)
NAME = "pt_inception-2015-12-05-6726825d.pth"


# -- the independent statement ---------------------------------------------------------------------

def cbr(sd, name, x, stride=1, padding=0):
    """conv (no bias) -> batch norm with TensorFlow's eps 0.001 -> ReLU, from `sd`."""
    x = F.conv2d(x, sd[name + ".conv.weight"], None, stride, padding)
    x = F.batch_norm(x, sd[name + ".bn.running_mean"], sd[name + ".bn.running_var"],
                     sd[name + ".bn.weight"], sd[name + ".bn.bias"], False, 0.0, 0.001)
    return F.relu(x)


def avg3(x):  # TensorFlow's SAME average pool: the padding is not counted
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def mixed_a(sd, p, x):
    b1 = cbr(sd, p + "branch1x1", x)
    b5 = cbr(sd, p + "branch5x5_2", cbr(sd, p + "branch5x5_1", x), padding=2)
    b3 = cbr(sd, p + "branch3x3dbl_1", x)
    b3 = cbr(sd, p + "branch3x3dbl_2", b3, padding=1)
    b3 = cbr(sd, p + "branch3x3dbl_3", b3, padding=1)
    bp = cbr(sd, p + "branch_pool", avg3(x))
    return torch.cat([b1, b5, b3, bp], 1)


def mixed_b(sd, p, x):
    b3 = cbr(sd, p + "branch3x3", x, stride=2)
    bd = cbr(sd, p + "branch3x3dbl_1", x)
    bd = cbr(sd, p + "branch3x3dbl_2", bd, padding=1)
    bd = cbr(sd, p + "branch3x3dbl_3", bd, stride=2)
    return torch.cat([b3, bd, F.max_pool2d(x, 3, 2)], 1)


def mixed_c(sd, p, x):
    row, col = (0, 3), (3, 0)  # 1x7 and 7x1 kernels
    b1 = cbr(sd, p + "branch1x1", x)
    b7 = cbr(sd, p + "branch7x7_1", x)
    b7 = cbr(sd, p + "branch7x7_2", b7, padding=row)
    b7 = cbr(sd, p + "branch7x7_3", b7, padding=col)
    bd = cbr(sd, p + "branch7x7dbl_1", x)
    bd = cbr(sd, p + "branch7x7dbl_2", bd, padding=col)
    bd = cbr(sd, p + "branch7x7dbl_3", bd, padding=row)
    bd = cbr(sd, p + "branch7x7dbl_4", bd, padding=col)
    bd = cbr(sd, p + "branch7x7dbl_5", bd, padding=row)
    bp = cbr(sd, p + "branch_pool", avg3(x))
    return torch.cat([b1, b7, bd, bp], 1)


def mixed_d(sd, p, x):
    b3 = cbr(sd, p + "branch3x3_2", cbr(sd, p + "branch3x3_1", x), stride=2)
    b7 = cbr(sd, p + "branch7x7x3_1", x)
    b7 = cbr(sd, p + "branch7x7x3_2", b7, padding=(0, 3))
    b7 = cbr(sd, p + "branch7x7x3_3", b7, padding=(3, 0))
    b7 = cbr(sd, p + "branch7x7x3_4", b7, stride=2)
    return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


def mixed_e(sd, p, x, last):
    b1 = cbr(sd, p + "branch1x1", x)
    b3 = cbr(sd, p + "branch3x3_1", x)
    b3 = torch.cat([cbr(sd, p + "branch3x3_2a", b3, padding=(0, 1)),
                    cbr(sd, p + "branch3x3_2b", b3, padding=(1, 0))], 1)
    bd = cbr(sd, p + "branch3x3dbl_2", cbr(sd, p + "branch3x3dbl_1", x), padding=1)
    bd = torch.cat([cbr(sd, p + "branch3x3dbl_3a", bd, padding=(0, 1)),
                    cbr(sd, p + "branch3x3dbl_3b", bd, padding=(1, 0))], 1)
    # Mixed_7c of the FID graph max-pools here; Mixed_7b average-pools without the padding
    pooled = F.max_pool2d(x, 3, 1, 1) if last else avg3(x)
    return torch.cat([b1, b3, bd, cbr(sd, p + "branch_pool", pooled)], 1)


def reference_forward(sd, levels):
    """pytorch-fid's pipeline on pixel levels: /255, bilinear to 299, 2x - 1, the blocks, pool3, fc."""
    x = F.interpolate(levels / 255, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    x = cbr(sd, "Conv2d_1a_3x3", x, stride=2)
    x = cbr(sd, "Conv2d_2a_3x3", x)
    x = cbr(sd, "Conv2d_2b_3x3", x, padding=1)
    x = F.max_pool2d(x, 3, 2)
    x = cbr(sd, "Conv2d_3b_1x1", x)
    x = cbr(sd, "Conv2d_4a_3x3", x)
    x = F.max_pool2d(x, 3, 2)
    for b in ("5b", "5c", "5d"):
        x = mixed_a(sd, f"Mixed_{b}.", x)
    x = mixed_b(sd, "Mixed_6a.", x)
    for b in ("6b", "6c", "6d", "6e"):
        x = mixed_c(sd, f"Mixed_{b}.", x)
    x = mixed_d(sd, "Mixed_7a.", x)
    x = mixed_e(sd, "Mixed_7b.", x, last=False)
    x = mixed_e(sd, "Mixed_7c.", x, last=True)
    assert x.shape[1:] == (2048, 8, 8)
    feats = x.mean(dim=(2, 3))
    return feats, feats @ sd["fc.weight"].t() + sd["fc.bias"]


def rel(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


def levels(shape, seed):
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).float()


@pytest.fixture(scope="module")
def net():
    return inception.build(SD, "random weights")


# -- the network ----------------------------------------------------------------------------------

def test_state_dict_keys_and_shapes():
    shapes = inception.expected_shapes()
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    params = sum(int(np.prod(s)) for k, s in shapes.items() if not k.endswith(buffers))
    assert params == 23_850_960  # torchvision's Inception-v3 without AuxLogits, fc at 1008 classes
    assert len([k for k in shapes if k.endswith(".conv.weight")]) == 94
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Mixed_6e.branch7x7dbl_5.conv.weight"] == (192, 192, 1, 7)
    assert shapes["Mixed_7a.branch7x7x3_4.conv.weight"] == (192, 192, 3, 3)
    assert shapes["Mixed_7c.branch3x3dbl_3b.conv.weight"] == (384, 384, 3, 1)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)
    assert not any("AuxLogits" in k for k in shapes)
    assert inception.FIDInceptionV3().Mixed_7a.branch3x3_2.bn.eps == 1e-3


def test_forward_matches_independent_statement(net):
    """(a) at 299x299 (the resize is the identity) and from a small non-square image (upsampled)."""
    for x in (levels((2, 3, 299, 299), 1), levels((1, 3, 37, 52), 2)):
        with torch.no_grad():
            f, lg = net(x)
            rf, rl = reference_forward(SD, x)
        assert f.shape == (x.shape[0], 2048) and lg.shape == (x.shape[0], 1008)
        assert rel(f, rf) < 1e-5 and rel(lg, rl) < 1e-5, (rel(f, rf), rel(lg, rl))
        assert 0.1 < float(f.std()) < 10 and float((f > 0).float().mean()) > 0.5  # a non-degenerate function


def test_pooling_differences_matter(net, monkeypatch):
    """The test above would notice torchvision's pooling: with count_include_pad=True in the
    average pools, or an average pool in Mixed_7c, pool3 moves far beyond its 1e-5."""
    x = levels((1, 3, 299, 299), 3)
    real_avg = F.avg_pool2d
    with torch.no_grad():
        f, _ = net(x)
        with monkeypatch.context() as m:
            m.setattr(F, "avg_pool2d", lambda t, k, stride=None, padding=0, **kw: real_avg(t, k, stride, padding))
            padded, _ = net(x)
        with monkeypatch.context() as m:
            pool = inception.Mixed._pool
            m.setattr(net.Mixed_7c, "_pool", lambda kind, t: pool("avg" if kind == "max" else kind, t))
            averaged, _ = net(x)
    assert rel(padded, f) > 1e-3 and rel(averaged, f) > 1e-3, (rel(padded, f), rel(averaged, f))


def test_bilinear_resize_is_half_pixel():
    """F.interpolate(bilinear, align_corners=False), which pytorch-fid and the graph use, is the
    half-pixel bilinear resize: source coordinate (i + 0.5) * in / out - 0.5, clamped at 0, and
    two taps per axis (no antialiasing when shrinking)."""
    def resize_axis(a, n_out, axis):
        n_in = a.shape[axis]
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        w = (src - i0).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
        return np.take(a, i0, axis) * (1 - w) + np.take(a, i1, axis) * w
    rng = np.random.default_rng(0)
    for h, w in ((17, 23), (320, 301), (299, 299)):
        a = rng.random((1, 1, h, w))
        want = resize_axis(resize_axis(a, 299, 2), 299, 3)
        got = F.interpolate(torch.from_numpy(a), size=(299, 299), mode="bilinear", align_corners=False).numpy()
        assert np.abs(got - want).max() < 1e-12
    a = torch.rand(1, 3, 299, 299)
    assert torch.equal(F.interpolate(a, size=(299, 299), mode="bilinear", align_corners=False), a)


# -- weights files --------------------------------------------------------------------------------

@pytest.mark.parametrize("zip_format", [True, False])
def test_weights_round_trip(tmp_path, zip_format):
    """(d) torch.save then torch.load(weights_only=True) into the module, strict; also without
    BatchNorm's num_batches_tracked (which a file may lack)."""
    for with_counter in (True, False):
        sd = SD if with_counter else inception.random_state_dict(seed=0, num_batches_tracked=False)
        path = tmp_path / f"w-{with_counter}.pth"
        torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        m = inception.FIDInceptionV3()
        m.load_state_dict(loaded, strict=True)
        got = m.state_dict()
        assert all(torch.equal(got[k], SD[k]) for k in SD if not k.endswith("num_batches_tracked"))
        again = inception.load(str(path))
        assert torch.equal(again.Mixed_7c.branch_pool.conv.weight, SD["Mixed_7c.branch_pool.conv.weight"])


def _broken(kind):
    sd = dict(SD)
    if kind == "missing":
        del sd["Mixed_6c.branch7x7dbl_4.bn.running_var"]
    elif kind == "shape":
        sd["Mixed_5b.branch_pool.conv.weight"] = torch.zeros(64, 192, 1, 1)
    elif kind == "unexpected":
        sd["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    elif kind == "torchvision":
        sd["fc.weight"], sd["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
        sd["AuxLogits.conv0.conv.weight"] = torch.zeros(128, 768, 1, 1)
    elif kind == "nan":
        sd["fc.bias"] = torch.full((1008,), float("nan"))
    return sd


@pytest.mark.parametrize("kind,words", [
    ("missing", ["1 missing key", "Mixed_6c.branch7x7dbl_4.bn.running_var"]),
    ("shape", ["1 wrong shape", "Mixed_5b.branch_pool.conv.weight is [64, 192, 1, 1], expected [32, 192, 1, 1]"]),
    ("unexpected", ["1 unexpected key", "AuxLogits.fc.weight"]),
    ("torchvision", ["torchvision's ImageNet Inception-v3", "fc.weight is [1000, 2048]"]),
    ("nan", ["fc.bias holds non-finite values"]),
])
def test_wrong_weights_are_refused_and_nothing_is_written(tmp_path, capsys, kind, words):
    """(c) the error names the file and what is wrong; the output folder stays empty."""
    w = tmp_path / NAME
    torch.save(_broken(kind), w)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc = cli.main(["convert-inception", "--weights", str(w), "--out", str(out_dir / "inception-fid.onnx")])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(w) in err and "pt_inception-2015-12-05-6726825d.pth" in err
    for word in words:
        assert word in err, err
    assert os.listdir(out_dir) == []


def test_not_a_weights_file(tmp_path):
    bad = tmp_path / "notes.pth"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="notes.pth: not a PyTorch state dict"):
        inception.read_weights(str(bad))
    with pytest.raises(FileNotFoundError, match="nothing.pth: no such file"):
        ci.convert_inception(str(tmp_path / "nothing.pth"), str(tmp_path / "x.onnx"))
    ts = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(ts))
    with pytest.raises(ValueError, match="TorchScript archive"):
        inception.read_weights(str(ts))
    obj = tmp_path / "model.pth"
    buf = io.BytesIO()
    torch.save({"net": torch.nn.Linear(2, 2)}, buf)  # a pickled module: weights_only refuses it
    obj.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="model.pth: not a PyTorch state dict"):
        inception.read_weights(str(obj))
    assert sorted(os.listdir(tmp_path)) == ["inception-2015-12-05.pt", "model.pth", "notes.pth"]


def test_interrupted_export_leaves_nothing(tmp_path, monkeypatch):
    w = tmp_path / NAME
    torch.save(SD, w)

    def stop(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(ci, "export_graph", stop)
    with pytest.raises(KeyboardInterrupt):
        ci.convert_inception(str(w), str(tmp_path / "inception-fid.onnx"))
    assert os.listdir(tmp_path) == [NAME]


# -- the converter --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("convert")
    w = d / NAME
    torch.save(SD, w)
    out = d / "inception-fid.onnx"
    t0 = time.monotonic()
    rc = cli.main(["convert-inception", "--weights", str(w), "--out", str(out)])
    assert rc == 0
    return {"weights": w, "out": out, "seconds": time.monotonic() - t0}


def test_converted_file_follows_the_contract(converted, capsys):
    m = onnx.load(str(converted["out"]))
    assert [i.name for i in m.graph.input] == ["images"]
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3, "H", "W"]
    assert [o.name for o in m.graph.output] == ["features", "logits"]
    assert [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim][1:] == [2048]
    assert [d.dim_value for d in m.graph.output[1].type.tensor_type.shape.dim][1:] == [1008]
    meta = json.loads({p.key: p.value for p in m.metadata_props}["pmf_feature_net"])
    assert meta == {"format_version": 1, "name": "inception-v3-fid", "channels": 3, "input_size": None,
                    "resize": "bilinear-299", "feature_dim": 2048, "logit_classes": 1008, "class_names": None,
                    "source": {"file": NAME, "sha256": ci.sha256_file(str(converted["weights"]))},
                    "real_data": None}
    (resize,) = [n for n in m.graph.node if n.op_type == "Resize"]
    attrs = {a.name: a.s.decode() for a in resize.attribute if a.type == onnx.AttributeProto.STRING}
    assert attrs["mode"] == "linear" and attrs["coordinate_transformation_mode"] in ("half_pixel", "pytorch_half_pixel")
    assert all(a.i == 0 for n in m.graph.node if n.op_type == "AveragePool"
               for a in n.attribute if a.name == "count_include_pad")
    assert sorted(os.listdir(converted["out"].parent)) == sorted([NAME, "inception-fid.onnx"])


@needs_ort
def test_onnx_matches_the_module(converted, net):
    """(b) onnxruntime on the exported file against the PyTorch module (the converter checked its
    own parity before writing; this repeats it on other inputs, through the same runner)."""
    backend = ci.parity_backend()
    assert backend in ("python", "node")
    x = levels((1, 3, 120, 90), 7)
    got = ci.run_model(str(converted["out"]), x.numpy(), backend)
    with torch.no_grad():
        f, lg = net(x)
    res = ci.compare(got, {"features": f.numpy(), "logits": lg.numpy()})
    assert res["features"]["rel_l2"] < 1e-5 and res["logits"]["rel_l2"] < 1e-5, res


def test_overwrites_all_or_nothing(converted, tmp_path, capsys):
    """A failing conversion onto an existing file leaves the old file as it was."""
    out = tmp_path / "inception-fid.onnx"
    out.write_bytes(b"old")
    w = tmp_path / NAME
    torch.save(_broken("missing"), w)
    assert cli.main(["convert-inception", "--weights", str(w), "--out", str(out)]) == 2
    assert out.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == sorted([NAME, "inception-fid.onnx"])


def test_no_onnxruntime_skips_the_check_with_a_note(tmp_path, monkeypatch, capsys):
    w = tmp_path / NAME
    torch.save(SD, w)
    monkeypatch.setattr(ci, "parity_backend", lambda: None)
    assert cli.main(["convert-inception", "--weights", str(w), "--out", str(tmp_path / "f.onnx")]) == 0
    out, err = capsys.readouterr()
    assert "parity check skipped: no onnxruntime" in err and json.loads(out)["parity"] is None
    assert (tmp_path / "f.onnx").exists()
