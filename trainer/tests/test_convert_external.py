"""convert-official at any size: external data, all or nothing, float16.

The H models (955M parameters) pass ONNX's 2 GB protobuf limit, so their weights go to one
file beside the .onnx. These tests take that path with a small official-layout model
(external_data=True, or a lowered limit), run the result in onnxruntime(-node) against PyTorch
and against the independent official forward of test_official, and check that a failure, a
KeyboardInterrupt or a SIGTERM midway leaves the output folder as it was.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, numpy_helper

from conftest import REPO_ROOT, needs_ort
from pmf_trainer import convert as convert_mod
from pmf_trainer import export as export_mod
from pmf_trainer.cli import main as cli_main
from pmf_trainer.convert import convert_official
from pmf_trainer.export import ALIGN, EXTERNAL_MIN_BYTES, run_onnxruntime
from pmf_trainer.official import ConversionError, infer_config
from test_official import batch, official_forward, official_state_dict

quiet = None  # progress=None: no progress lines


@pytest.fixture()
def ckpt(tmp_path):
    """tmp_path/in/pMF-tiny.pt, official names and shapes, random values (seed 5)."""
    d = tmp_path / "in"
    d.mkdir()
    sd = official_state_dict(seed=5)
    torch.save(sd, d / "pMF-tiny.pt")
    return d / "pMF-tiny.pt", sd


def _listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else None


def _official_feeds(cfg):
    z, t, h, omega, t_min, t_max, y = batch(cfg)
    return (z, t, h, omega, t_min, t_max, y), {"z": z.numpy(), "h": h.numpy(), "y": y.numpy(),
                                               "omega": omega.numpy(), "t_min": t_min.numpy(),
                                               "t_max": t_max.numpy()}


def _check_external_layout(onnx_path):
    """Every tensor of 1 KiB or more lives in ONE file beside the model, at aligned, disjoint
    offsets inside that file; the rest is inline. Returns (model proto, weights file)."""
    m = onnx.load(str(onnx_path), load_external_data=False)
    data = str(onnx_path) + ".data"
    size = os.path.getsize(data)
    spans = []
    tensors = list(m.graph.initializer) + [a.t for n in m.graph.node for a in n.attribute if a.HasField("t")]
    for t in tensors:
        if t.data_location == TensorProto.EXTERNAL:
            info = {e.key: e.value for e in t.external_data}
            assert info["location"] == os.path.basename(data)  # a plain name in the model's folder
            off, length = int(info["offset"]), int(info["length"])
            assert off % ALIGN == 0 and off + length <= size
            spans.append((off, off + length))
        else:
            assert len(t.raw_data) < EXTERNAL_MIN_BYTES or t.data_type == TensorProto.STRING
    spans.sort()
    assert spans and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert sum(e - s for s, e in spans) > 0.9 * size - ALIGN * len(spans)
    return m, data


@needs_ort
def test_external_data_conversion_matches_pytorch_and_the_official_forward(ckpt, tmp_path):
    path, sd = ckpt
    out = tmp_path / "out" / "tiny.onnx"
    res = convert_official(str(path), str(out), external_data=True, progress=quiet)
    assert _listing(out.parent) == ["tiny.onnx", "tiny.onnx.data"]  # one weights file, nothing else
    assert res["external_data"] and res["weights"] == str(out) + ".data"
    assert res["parity"]["rel_l2"] < 1e-5 and res["max_abs_diff_vs_pytorch"] < 1e-4
    assert res["weights_bytes"] == os.path.getsize(str(out) + ".data") > os.path.getsize(out)
    m, _ = _check_external_layout(out)
    assert {i.name: i.type.tensor_type.elem_type for i in m.graph.input} == {
        "z": TensorProto.FLOAT, "h": TensorProto.FLOAT, "y": TensorProto.INT64, "omega": TensorProto.FLOAT,
        "t_min": TensorProto.FLOAT, "t_max": TensorProto.FLOAT}
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["pmf.prediction"] == "x" and "converted" in meta["pmf.name"]
    # the weights read back bit-identical to the checkpoint's
    full = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    for k in ("pos_embed", "y_embedder.embedding_table.weight", "shared_blocks.0.attn_scale"):
        off = "net." + k.replace("embedding_table.weight", "embedding_table._flax_embedding.weight")
        np.testing.assert_array_equal(full["net." + k], sd[off].numpy())
    # and the model computes what the official forward computes
    cfg, _ = infer_config(sd)
    args, feeds = _official_feeds(cfg)
    with torch.no_grad():
        ref_x, _ = official_forward(sd, *args, heads=4)
    got = run_onnxruntime(str(out), feeds)["x"]
    np.testing.assert_allclose(got, ref_x.numpy(), rtol=1e-4, atol=1e-5)


@needs_ort
def test_the_weights_go_external_by_themselves_past_the_limit(ckpt, tmp_path, monkeypatch):
    path, _ = ckpt
    res = convert_official(str(path), str(tmp_path / "a.onnx"), verify=False, progress=quiet)
    assert not res["external_data"] and _listing(tmp_path) == ["a.onnx", "in"]
    monkeypatch.setattr(export_mod, "INLINE_LIMIT", 100_000)  # a tiny "2 GB" limit
    res = convert_official(str(path), str(tmp_path / "b.onnx"), progress=quiet)
    assert res["external_data"] and res["parity"]["rel_l2"] < 1e-5
    _check_external_layout(tmp_path / "b.onnx")
    with pytest.raises(ValueError, match="do not fit in one ONNX file"):
        convert_official(str(path), str(tmp_path / "c.onnx"), verify=False, external_data=False, progress=quiet)
    assert _listing(tmp_path) == ["a.onnx", "b.onnx", "b.onnx.data", "in"]


def _fail_on_read(monkeypatch, k, exc):
    """Make the k-th tensor read of the weights writer raise exc (a failure midway)."""
    real = export_mod._Source.read
    calls = {"n": 0}

    def read(self, t):
        calls["n"] += 1
        if calls["n"] == k:
            raise exc
        return real(self, t)
    monkeypatch.setattr(export_mod._Source, "read", read)
    return calls


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_failure_midway_leaves_nothing_behind(ckpt, tmp_path, monkeypatch, exc):
    path, _ = ckpt
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine")
    calls = _fail_on_read(monkeypatch, 20, exc)
    with pytest.raises(type(exc)):
        convert_official(str(path), str(out_dir / "tiny.onnx"), external_data=True, progress=quiet)
    assert calls["n"] == 20  # it did fail midway through the weights
    assert _listing(out_dir) == ["keep.txt"]
    # a folder the conversion had to create goes too
    with pytest.raises(type(exc)):
        calls["n"] = 0
        convert_official(str(path), str(tmp_path / "new" / "sub" / "tiny.onnx"), external_data=True, progress=quiet)
    assert not (tmp_path / "new" / "sub").exists()


@needs_ort
def test_a_failed_parity_check_writes_nothing_and_keeps_the_old_model(ckpt, tmp_path, monkeypatch):
    path, _ = ckpt
    out = tmp_path / "out" / "tiny.onnx"
    convert_official(str(path), str(out), external_data=True, verify=False, progress=quiet)
    before = {f: (out.parent / f).read_bytes() for f in _listing(out.parent)}
    monkeypatch.setattr(convert_mod, "parity", lambda *a: {"max_abs_diff": 3.0, "rel_l2": 0.5})
    with pytest.raises(ConversionError, match="differs from PyTorch.*nothing written"):
        convert_official(str(path), str(out), external_data=True, progress=quiet)
    assert {f: (out.parent / f).read_bytes() for f in _listing(out.parent)} == before


def test_overwriting_replaces_both_files_and_drops_stale_weights(ckpt, tmp_path):
    path, _ = ckpt
    out = tmp_path / "m.onnx"
    convert_official(str(path), str(out), external_data=True, verify=False, progress=quiet)
    convert_official(str(path), str(out), external_data=True, verify=False, progress=quiet)
    assert _listing(tmp_path) == ["in", "m.onnx", "m.onnx.data"]
    _check_external_layout(out)
    convert_official(str(path), str(out), verify=False, progress=quiet)  # now inline: the old weights go
    assert _listing(tmp_path) == ["in", "m.onnx"]


def test_sigterm_midway_leaves_nothing_behind(ckpt, tmp_path):
    """The CLI in a child process sends itself SIGTERM in the middle of writing the weights."""
    path, _ = ckpt
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = f"""
import os, signal, sys
sys.path.insert(0, {os.path.join(REPO_ROOT, 'trainer')!r})
from pmf_trainer import export
real, n = export._Source.read, [0]
def read(self, t):
    n[0] += 1
    if n[0] == 20:
        os.kill(os.getpid(), signal.SIGTERM)
    return real(self, t)
export._Source.read = read
from pmf_trainer.cli import main
sys.exit(main(["convert-official", "--ckpt", {str(path)!r}, "--out", {str(out_dir / 'tiny.onnx')!r},
               "--external-data", "--no-verify"]))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 128 + signal.SIGTERM, res.stderr
    assert "interrupted (SIGTERM): nothing written" in res.stderr
    assert "writing weights" in res.stderr  # progress lines on stderr
    assert _listing(out_dir) == []


@needs_ort
def test_float16_keeps_float32_io_and_stays_close(ckpt, tmp_path, capsys):
    path, sd = ckpt
    out = tmp_path / "half.onnx"
    rc = cli_main(["convert-official", "--ckpt", str(path), "--out", str(out), "--dtype", "float16", "--external-data"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["dtype"] == "float16" and res["external_data"]
    assert 0 < res["parity"]["rel_l2"] < 5e-3  # measured 6e-4 on this model (README)
    m, _ = _check_external_layout(out)
    onnx.shape_inference.infer_shapes(onnx.load(str(out)), check_type=True, strict_mode=True)
    # the contract's types: float32 in (y int64), float32 out; the weights are float16
    assert [i.type.tensor_type.elem_type for i in m.graph.input] == [1, 1, 7, 1, 1, 1]
    assert [o.type.tensor_type.elem_type for o in m.graph.output] == [TensorProto.FLOAT]
    kinds = {t.data_type for t in m.graph.initializer}
    assert TensorProto.FLOAT16 in kinds and TensorProto.FLOAT not in kinds
    f32 = tmp_path / "full.onnx"
    convert_official(str(path), str(f32), external_data=True, verify=False, progress=quiet)
    assert os.path.getsize(str(out) + ".data") < 0.6 * os.path.getsize(str(f32) + ".data")
    # against the independent official forward too
    cfg, _ = infer_config(sd)
    args, feeds = _official_feeds(cfg)
    with torch.no_grad():
        ref_x, _ = official_forward(sd, *args, heads=4)
    got = run_onnxruntime(str(out), feeds)["x"]
    assert got.dtype == np.float32
    rel = np.linalg.norm(got - ref_x.numpy()) / np.linalg.norm(ref_x.numpy())
    assert rel < 5e-3


def test_float16_refuses_weights_beyond_its_range(tmp_path):
    sd = official_state_dict(seed=6)
    sd["net.pos_embed"][0, 0, 0] = 1e6
    torch.save(sd, tmp_path / "big.pt")
    with pytest.raises(ValueError, match="beyond float16's range"):
        convert_official(str(tmp_path / "big.pt"), str(tmp_path / "o" / "big.onnx"), dtype="float16", verify=False,
                         progress=quiet)
    assert not (tmp_path / "o").exists()
