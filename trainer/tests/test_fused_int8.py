"""The fused export (fused.py) and the int8 variant (quantize.py, variants.py).

fused: the same function as the reference model, in eager PyTorch and in onnxruntime, whose
graph holds onnxruntime's MultiHeadAttention and no Gather of RoPE channels; within 1e-4
relative L2 of the plain (unfused) export. int8: per-column weights within half a step, a
DynamicQuantizeMatMul for every weight MatMul, the measured error in pmf.precision, the source
untouched (its external data file too), all or nothing.
"""
import copy
import hashlib
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

from conftest import REPO_ROOT, needs_ort, randomize_zero_inits
from pmf_trainer.cli import main as cli_main
from pmf_trainer.config import DiTConfig
from pmf_trainer.convert import convert_official
from pmf_trainer.export import (ContractWrapper, build_metadata, declared_inputs, example_inputs, export_onnx,
                                run_onnxruntime)
from pmf_trainer.fused import fuse_for_onnx, rope_tables
from pmf_trainer.model_dit import PmfDiT, apply_rope, rope_cos_sin
from pmf_trainer.quantize import quantize_columns
from test_official import official_state_dict


def small_dit(seed=0):
    torch.manual_seed(seed)
    cfg = DiTConfig(input_size=16, in_channels=3, patch_size=4, hidden_size=64, depth=3, num_heads=4,
                    aux_head_depth=1, bottleneck_channels=16, num_classes=5, cfg_inputs=True)
    return cfg, randomize_zero_inits(PmfDiT(cfg).eval(), seed=seed)


def _run(net, cfg, ex):
    inputs = declared_inputs(cfg)
    with torch.no_grad():
        return ContractWrapper(net, inputs).eval()(*(ex[k] for k in inputs)).numpy()


def rel_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


def activation_gathers(g) -> int:
    """Gather nodes whose data is neither a shape nor an initializer (a tensor of activations)."""
    producer = {o: n.op_type for n in g.node for o in n.output}
    inits = {t.name for t in g.initializer}
    return sum(1 for n in g.node if n.op_type == "Gather" and n.input[0] not in inits
               and producer.get(n.input[0]) not in ("Shape", "Constant"))


def test_the_rope_tables_rotate_as_the_reference_does():
    cos, sin = rope_cos_sin(16, 3)
    x = torch.randn(2, 4 + 9, 2, 16)
    c, s = rope_tables(cos, sin, 4)
    pairs = x.reshape(*x.shape[:-1], 8, 2)
    swapped = torch.stack([pairs[..., 1], pairs[..., 0]], dim=-1).reshape(x.shape)
    torch.testing.assert_close(x * c + swapped * s, apply_rope(x, cos, sin), rtol=0, atol=1e-6)


def test_the_fused_model_computes_what_the_reference_computes():
    cfg, net = small_dit()
    ex = example_inputs(cfg, 3, seed=2)
    ref = _run(net, cfg, ex)
    fused = fuse_for_onnx(copy.deepcopy(net))
    assert not any(type(m).__name__ == "RoPEAttention" for m in fused.modules())
    assert rel_l2(_run(fused, cfg, ex), ref) < 1e-6


@needs_ort
def test_the_fused_export_runs_fused_kernels_and_matches_the_plain_export(tmp_path):
    cfg, net = small_dit(1)
    meta = build_metadata(cfg, net, name="small")
    ex = example_inputs(cfg, 3, seed=4)
    feeds = {k: ex[k].numpy() for k in declared_inputs(cfg)}
    ref = _run(net, cfg, ex)
    plain, fused = tmp_path / "plain.onnx", tmp_path / "fused.onnx"
    export_onnx(copy.deepcopy(net), cfg, str(plain), meta, dtype="float16")  # float16 keeps the plain graph ...
    m16 = onnx.load(str(plain))
    assert not any(n.op_type == "MultiHeadAttention" for n in m16.graph.node)
    from pmf_trainer.export import torch_export, write_onnx
    os.makedirs(tmp_path / "raw")
    raw, inputs = torch_export(copy.deepcopy(net), cfg, str(tmp_path / "raw"))  # ... as does fused=False
    write_onnx(raw, str(plain), meta, inputs)
    export_onnx(net, cfg, str(fused), meta)  # float32: fused by default
    g_fused, g_plain = onnx.load(str(fused)).graph, onnx.load(str(plain)).graph
    ops = [(n.domain, n.op_type) for n in g_fused.node]
    assert ops.count(("com.microsoft", "MultiHeadAttention")) == cfg.depth
    assert ops.count(("", "Softmax")) == 0
    # RoPE's Gathers of even and odd channels are gone: what Gathers remain read shapes or the class table
    assert activation_gathers(g_plain) >= 2 * cfg.depth and activation_gathers(g_fused) == 0
    out_plain = run_onnxruntime(str(plain), feeds)[cfg.prediction]
    out_fused = run_onnxruntime(str(fused), feeds)[cfg.prediction]
    assert rel_l2(out_fused, out_plain) < 1e-4
    assert rel_l2(out_fused, ref) < 1e-4


def test_per_column_int8_is_within_half_a_step():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((48, 20)).astype(np.float32) * rng.uniform(0.01, 3, 20).astype(np.float32)
    w[:, 3] = 0  # an all-zero column keeps a finite scale
    q, scale = quantize_columns(w)
    assert q.dtype == np.int8 and scale.shape == (20,) and np.isfinite(scale).all()
    assert np.abs(q).max() <= 127
    assert (np.abs(q.astype(np.float32) * scale - w) <= scale / 2 + 1e-7).all()
    assert (q[:, 3] == 0).all()


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@needs_ort
def test_quantize_writes_a_measured_int8_variant_and_leaves_the_source_alone(tmp_path, capsys):
    sd = official_state_dict(seed=3)
    torch.save(sd, tmp_path / "tiny.pt")
    src = tmp_path / "tiny.onnx"
    convert_official(str(tmp_path / "tiny.pt"), str(src), external_data=True)
    before = {p: _digest(p) for p in (str(src), str(src) + ".data")}
    out = tmp_path / "variants" / "tiny-int8.onnx"
    assert cli_main(["quantize", "--model", str(src), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {p: _digest(p) for p in before} == before  # the source and its weights file are untouched
    m = onnx.load(str(out))  # inline: a quarter of the size needs no external data here
    ops = [n.op_type for n in m.graph.node]
    assert "DynamicQuantizeMatMul" in ops
    inits = {t.name: t for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "MatMul":  # what stays float32: activations times activations only
            assert not any(i in inits for i in n.input)
    assert any(t.data_type == TensorProto.INT8 for t in m.graph.initializer)
    meta = {p.key: p.value for p in m.metadata_props}
    precision = json.loads(meta["pmf.precision"])
    assert precision["weights"] == "int8" and precision["matmuls"] == ops.count("DynamicQuantizeMatMul")
    assert 0 < precision["rel_l2_vs_float32"] < 0.1
    assert summary["precision"] == precision
    assert meta["pmf.name"].endswith("(int8)")
    assert os.path.getsize(out) < 0.4 * (os.path.getsize(src) + os.path.getsize(str(src) + ".data"))
    # refused, nothing written: the variant again, and the model as its own output
    listing = sorted(os.listdir(out.parent))
    assert cli_main(["quantize", "--model", str(out), "--out", str(tmp_path / "variants" / "again.onnx")]) == 2
    assert "already a reduced-precision variant" in capsys.readouterr().err
    assert cli_main(["quantize", "--model", str(src), "--out", str(src)]) == 2
    assert sorted(os.listdir(out.parent)) == listing and {p: _digest(p) for p in before} == before


@needs_ort
def test_convert_official_int8_records_its_error_against_pytorch(tmp_path):
    torch.save(official_state_dict(seed=4), tmp_path / "tiny.pt")
    res = convert_official(str(tmp_path / "tiny.pt"), str(tmp_path / "tiny-int8.onnx"), dtype="int8")
    assert res["dtype"] == "int8" and 0 < res["parity"]["rel_l2"] < 0.1
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "tiny-int8.onnx")).metadata_props}
    precision = json.loads(meta["pmf.precision"])
    assert precision["rel_l2_vs_float32"] == float(f"{res['parity']['rel_l2']:.4g}")
    assert "PyTorch" in precision["measured_on"]
    assert precision["smoothed_activations"] > 0  # calibrated and smoothed, as `quantize` does
    assert sorted(os.listdir(tmp_path)) == ["tiny-int8.onnx", "tiny.pt"]  # the calibration copy is gone


@needs_ort
def test_int8_of_an_external_data_model_calibrates_on_its_weights_file_in_place(tmp_path):
    """The probed copy links to the weights file instead of reading it in; the result is the
    same as calibrating on an inline copy of the same model."""
    torch.save(official_state_dict(seed=5), tmp_path / "tiny.pt")
    ext, inline = tmp_path / "ext" / "tiny.onnx", tmp_path / "inline" / "tiny.onnx"
    convert_official(str(tmp_path / "tiny.pt"), str(ext), external_data=True, verify=False)
    convert_official(str(tmp_path / "tiny.pt"), str(inline), verify=False)
    for src in (ext, inline):
        assert cli_main(["quantize", "--model", str(src), "--out", str(src.parent / "q.onnx")]) == 0
    a, b = (onnx.load(str(d / "q.onnx")) for d in (ext.parent, inline.parent))
    ta, tb = ({t.name: numpy_helper.to_array(t) for t in m.graph.initializer} for m in (a, b))
    assert ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta)
    assert set(os.listdir(ext.parent)) - {"q.onnx.data"} == {"q.onnx", "tiny.onnx", "tiny.onnx.data"}  # no calibration files left


@needs_ort
def test_export_pytorch_rebuilds_the_bundled_model_with_its_card(tmp_path, fashion_pt):
    bundled = os.path.join(REPO_ROOT, "models", "fashion-mnist", "model.onnx")
    out = tmp_path / "model.onnx"
    assert cli_main(["export-pytorch", "--pytorch", fashion_pt, "--metadata-from", bundled, "--out", str(out)]) == 0
    old = {p.key: p.value for p in onnx.load(bundled, load_external_data=False).metadata_props}
    new = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert new == old
