"""Float16 storage of a float32 model: half the bytes on disk, float32 at run time.

Each float32 weight is stored as float16 and widened by a Cast node at the top of the graph;
onnxruntime folds those Casts into float32 constants when it loads the model (constant folding,
at every graph optimisation level above "disabled"), so the model computes exactly as the
float32 model whose weights are the float16-rounded ones. `round_weights_float16` rounds a
PyTorch network the same way first, so what a card measures is what the file holds: the
float16 file and the rounded network agree to float32 round-off.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

# Tensors smaller than this stay float32: scalars and tiny vectors gain nothing.
MIN_ELEMENTS = 16


@torch.no_grad()
def round_weights_float16(net: torch.nn.Module) -> Dict[str, float]:
    """Round every floating parameter and buffer to float16 and back, in place. Returns the
    largest relative change of a tensor (its L2 change over its L2 norm)."""
    worst = 0.0
    for t in list(net.parameters()) + list(net.buffers()):
        if t.dtype != torch.float32 or t.numel() < MIN_ELEMENTS:
            continue
        if t.abs().max() > 65504:
            raise ValueError(f"a weight of {t.abs().max():.3g} exceeds float16's range: keep float32 storage")
        r = t.half().float()
        worst = max(worst, float((r - t).norm() / max(float(t.norm()), 1e-30)))
        t.copy_(r)
    return {"max_rel_l2_weight_change": worst}


def store_float16(path: str) -> Dict[str, int]:
    """Rewrite the ONNX file at path (inline weights) with float16 storage, in place, atomically."""
    import os

    m = onnx.load(path)
    g = m.graph
    casts, kept = [], []
    before = after = 0
    for init in list(g.initializer):
        a = numpy_helper.to_array(init)
        before += a.nbytes
        if init.data_type != TensorProto.FLOAT or a.size < MIN_ELEMENTS:
            after += a.nbytes
            continue
        half = a.astype(np.float16)
        if not np.isfinite(half).all():
            raise ValueError(f"{path}: weight {init.name} leaves float16's range: keep float32 storage")
        stored = init.name + "/float16"
        g.initializer.remove(init)
        kept.append(numpy_helper.from_array(half, stored))
        casts.append(helper.make_node("Cast", [stored], [init.name], name=f"/pmf_storage/{init.name}",
                                      to=TensorProto.FLOAT))
        after += half.nbytes
    g.initializer.extend(kept)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    tmp = path + ".tmp"
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return {"weight_bytes_float32": before, "weight_bytes_stored": after, "widened": len(casts)}
