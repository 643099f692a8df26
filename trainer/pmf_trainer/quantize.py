"""int8 weights for CPU previews: every MatMul with a constant weight becomes onnxruntime's
`com.microsoft.DynamicQuantizeMatMul`.

The weight W [K, N] is stored as int8 with one float32 scale per output column (symmetric,
zero point 0: W ~ scale[n] * Wq[:, n], |Wq| <= 127); at run time onnxruntime quantizes each
activation matrix to uint8 (one scale and zero point per call, from its min and max), multiplies
in integers (AVX-512 VNNI on the CPUs this was measured on) and scales back to float32. Attention
(QK^T, softmax, AV), the norms, the embedders (Gemm) and the output stay float32; the file's inputs
and output are float32 as the pMF contract says.

Why written here and not onnxruntime.quantization.quantize_dynamic: the trainer runs on Debian's
Python, which packages no onnxruntime before trixie, and the rewrite is one pattern (a MatMul whose
second input is a 2-D float initializer) on graphs this package exported itself. onnxruntime
fuses quantize_dynamic's output (DynamicQuantizeLinear + MatMulInteger + Mul) into this same
DynamicQuantizeMatMul at load.

The error is measured, never assumed: convert-official and `quantize` report the relative L2
distance of the int8 model's output from the float32 one's (parity), and `quantize --evaluate`
the Fashion-MNIST FD and class consistency of both.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS_DOMAIN = "com.microsoft"
QMAX = 127
SMOOTH_ALPHA = 0.5  # SmoothQuant's migration strength (its paper's default for most models)


def quantize_columns(w: np.ndarray):
    """Symmetric per-column int8: (Wq int8 [K, N], scale float32 [N]) with W ~ Wq * scale."""
    amax = np.abs(w).max(axis=0).astype(np.float64)
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -QMAX, QMAX).astype(np.int8)
    return q, scale


def _readers(g: onnx.GraphProto) -> Dict[str, List[onnx.NodeProto]]:
    readers: Dict[str, List[onnx.NodeProto]] = defaultdict(list)
    for n in g.node:
        for x in n.input:
            readers[x].append(n)
    return readers


def weight_matmuls(g: onnx.GraphProto) -> Dict[str, List[str]]:
    """{activation A: [weights W, ...]} of the MatMul(A, W) nodes to quantize: W a 2-D float32
    initializer read by MatMuls only (as their second input)."""
    inits = {t.name: t for t in g.initializer}
    readers = _readers(g)

    def quantizable(name: str) -> bool:
        t = inits.get(name)
        return (t is not None and t.data_type == TensorProto.FLOAT and len(t.dims) == 2
                and all(r.op_type == "MatMul" and list(r.input).index(name) == 1 for r in readers[name]))

    groups: Dict[str, List[str]] = defaultdict(list)
    for n in g.node:
        if n.op_type == "MatMul" and len(n.input) == 2 and quantizable(n.input[1]) and n.input[1] not in groups[n.input[0]]:
            groups[n.input[0]].append(n.input[1])
    return dict(groups)


def to_int8(m: onnx.ModelProto, read, smoothing: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, int]:
    """Rewrite m in place: each MatMul(A, W) with W a 2-D float32 initializer read by MatMuls only
    becomes DynamicQuantizeMatMul(A, Wq, scale, zero_point). `read(tensor) -> bytes` gives an
    initializer's data. smoothing {A: s} (smooth_factors): W's rows are multiplied by s and A is
    divided by it first (folded into A's producer where that is a Mul by a constant, else a Mul
    node), the same product with the activation outliers moved into the weights. Returns counts:
    matmuls rewritten, float32 weight bytes replaced, activations smoothed."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    groups = weight_matmuls(g)
    weights = sorted({w for ws in groups.values() for w in ws})
    if not weights:
        raise ValueError("int8: the model has no MatMul with a constant weight to quantize")
    row_scale: Dict[str, np.ndarray] = {}
    smoothed = 0
    for a, s in (smoothing or {}).items():
        if a in groups:
            for w in groups[a]:
                row_scale[w] = s
            _divide_activation(m, a, s, read)
            smoothed += 1
    replaced, new_inits = 0, {}
    for name in weights:
        t = inits[name]
        w = np.frombuffer(read(t), dtype="<f4").reshape(tuple(t.dims))
        if name in row_scale:
            w = w * row_scale[name][:, None].astype(np.float32)
        if not np.isfinite(w).all():
            raise ValueError(f"int8: weight {name} holds NaN or infinite values")
        q, scale = quantize_columns(w)
        replaced += w.nbytes
        new_inits[name] = [numpy_helper.from_array(q, f"{name}_int8"),
                           numpy_helper.from_array(scale, f"{name}_scale"),
                           numpy_helper.from_array(np.zeros(q.shape[1], dtype=np.int8), f"{name}_zero_point")]
    nodes = []
    for n in g.node:
        if n.op_type == "MatMul" and len(n.input) == 2 and n.input[1] in new_inits:
            q, s, z = new_inits[n.input[1]]
            nodes.append(helper.make_node("DynamicQuantizeMatMul", [n.input[0], q.name, s.name, z.name],
                                          list(n.output), name=f"{n.name}/int8", domain=MS_DOMAIN))
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    keep = [t for t in g.initializer if t.name not in new_inits]
    del g.initializer[:]
    g.initializer.extend(keep + [t for ts in new_inits.values() for t in ts])
    drop = set(new_inits)
    keep_inputs = [i for i in g.input if i.name not in drop]  # initializers listed as inputs
    del g.input[:]
    g.input.extend(keep_inputs)
    if not any(o.domain == MS_DOMAIN for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return {"matmuls": sum(1 for n in nodes if n.op_type == "DynamicQuantizeMatMul"), "float32_bytes": replaced,
            "smoothed": smoothed}


def _divide_activation(m: onnx.ModelProto, a: str, s: np.ndarray, read) -> None:
    """A / s for the readers of A: folded into A's producer when it is Mul(X, c) with c a float32
    initializer of A's last dimension read by that Mul only; else a Mul(A, 1 / s) node that
    the MatMuls read instead."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    readers = _readers(g)
    producer = next((n for n in g.node if a in n.output), None)
    if producer is not None and producer.op_type == "Mul" and all(r.op_type == "MatMul" for r in readers[a]):
        for i, c in enumerate(producer.input):
            t = inits.get(c)
            if (t is not None and t.data_type == TensorProto.FLOAT and list(t.dims) == [s.shape[0]]
                    and len(readers[c]) == 1 and producer.input[1 - i] not in inits):
                v = np.frombuffer(read(t), dtype="<f4") / s.astype(np.float32)
                t.CopyFrom(numpy_helper.from_array(v.astype(np.float32), c))
                return
    inv = numpy_helper.from_array((1.0 / s).astype(np.float32), f"{a}/smooth_inv")
    out = f"{a}/smoothed"
    g.initializer.append(inv)
    for r in readers[a]:
        if r.op_type == "MatMul":
            r.input[0] = out
    idx = next(i for i, n in enumerate(g.node) if n is producer) + 1 if producer is not None else 0
    g.node.insert(idx, helper.make_node("Mul", [a, inv.name], [out], name=f"{a}/smooth"))


def absmax_probes(m: onnx.ModelProto) -> Dict[str, str]:
    """Add to m (a copy to run) one output per quantized activation A: max |A| per channel over
    every other axis ([K]). Returns {A: output name}."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    probes = {}
    for k, (a, ws) in enumerate(weight_matmuls(g).items()):
        K = inits[ws[0]].dims[0]
        shape = numpy_helper.from_array(np.array([-1, K], dtype=np.int64), f"pmf_probe_{k}_shape")
        g.initializer.append(shape)
        flat, ab, out = f"pmf_probe_{k}_flat", f"pmf_probe_{k}_abs", f"pmf_probe_{k}_absmax"  # plain names: files
        g.node.extend([helper.make_node("Reshape", [a, shape.name], [flat]),
                       helper.make_node("Abs", [flat], [ab]),
                       helper.make_node("ReduceMax", [ab], [out], axes=[0], keepdims=0)])
        g.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [K]))
        probes[a] = out
    return probes


def smooth_factors(absmax: Dict[str, np.ndarray], m: onnx.ModelProto, read, alpha: float = SMOOTH_ALPHA) -> Dict[str, np.ndarray]:
    """SmoothQuant's per-channel factors s_j = max|A_j|^alpha / max|W_j|^(1 - alpha) (over the
    weights a shared A feeds), from calibration maxima `absmax` {A: [K]} (Xiao et al. 2023)."""
    inits = {t.name: t for t in m.graph.initializer}
    out = {}
    for a, ws in weight_matmuls(m.graph).items():
        if a not in absmax:
            continue
        wmax = np.max([np.abs(np.frombuffer(read(inits[w]), dtype="<f4").reshape(tuple(inits[w].dims))).max(axis=1)
                       for w in ws], axis=0).astype(np.float64)
        amax = np.asarray(absmax[a], dtype=np.float64)
        s = np.power(np.maximum(amax, 1e-8), alpha) / np.power(np.maximum(wmax, 1e-8), 1 - alpha)
        s = np.where((amax > 0) & (wmax > 0) & np.isfinite(s), s, 1.0)
        out[a] = np.clip(s, 1e-4, 1e4)
    return out
