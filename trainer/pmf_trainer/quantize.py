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
from typing import Dict, List

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS_DOMAIN = "com.microsoft"
QMAX = 127


def quantize_columns(w: np.ndarray):
    """Symmetric per-column int8: (Wq int8 [K, N], scale float32 [N]) with W ~ Wq * scale."""
    amax = np.abs(w).max(axis=0).astype(np.float64)
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -QMAX, QMAX).astype(np.int8)
    return q, scale


def to_int8(m: onnx.ModelProto, read) -> Dict[str, int]:
    """Rewrite m in place: each MatMul(A, W) with W a 2-D float32 initializer read by MatMuls only
    becomes DynamicQuantizeMatMul(A, Wq, scale, zero_point). `read(tensor) -> bytes` gives an
    initializer's data. Returns counts: matmuls rewritten, float32 weight bytes replaced."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    readers: Dict[str, List[onnx.NodeProto]] = defaultdict(list)
    for n in g.node:
        for x in n.input:
            readers[x].append(n)

    def quantizable(name: str) -> bool:
        t = inits.get(name)
        return (t is not None and t.data_type == TensorProto.FLOAT and len(t.dims) == 2
                and all(r.op_type == "MatMul" and list(r.input).index(name) == 1 for r in readers[name]))

    weights = sorted({n.input[1] for n in g.node if n.op_type == "MatMul" and len(n.input) == 2 and quantizable(n.input[1])})
    if not weights:
        raise ValueError("int8: the model has no MatMul with a constant weight to quantize")
    replaced, new_inits = 0, {}
    for name in weights:
        t = inits[name]
        w = np.frombuffer(read(t), dtype="<f4").reshape(tuple(t.dims))
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
    return {"matmuls": sum(1 for n in nodes if n.op_type == "DynamicQuantizeMatMul"), "float32_bytes": replaced}
