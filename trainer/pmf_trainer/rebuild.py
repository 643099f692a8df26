"""`rebuild-pytorch`: a PyTorch checkpoint (model.pt) from a pMF Lab ONNX export, so the tree
holds one copy of a bundled model's weights (the ONNX) and the .pt is built when wanted.

The network's configuration comes from the pmf.* metadata (architecture, image size, classes,
prediction, model type); the weights from the initializers, which an unfused export names after
the state dict (`net.<key>`) or, for the weights torch.onnx.export folds into MatMuls, by the
MatMul's scope (see state_dict_weights); float16-stored ones through their widening Cast. A graph
whose weights cannot be mapped back is refused, naming the first missing weight. The rebuilt network is checked against the ONNX in onnxruntime.
The ONNX is parsed (onnx.load), never executed, before the check.
"""
from __future__ import annotations

import json
import os
import re
from typing import Dict

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .config import DiTConfig
from .models import build_model


def config_from_metadata(meta: Dict[str, str], initializers: Dict[str, np.ndarray], path: str) -> DiTConfig:
    arch = json.loads(meta.get("pmf.architecture", "{}"))
    if arch.get("name") != "pmfDiT":
        raise ValueError(f"{path}: rebuild-pytorch rebuilds pmfDiT image models; pmf.architecture names "
                         f"{arch.get('name')!r}")
    prefix = arch["prefix_tokens"]
    hidden, mlp_hidden = arch["hidden_size"], arch["mlp_hidden"]
    freq = initializers["h_embedder.mlp.0.weight"].shape[1]
    theta = re.search(r"theta ([0-9.e+]+)", arch.get("rope", ""))
    cfg = DiTConfig(
        input_size=int(meta["pmf.image_size"]), in_channels=int(meta["pmf.channels"]),
        patch_size=arch["patch_size"], hidden_size=hidden, depth=arch["depth"], num_heads=arch["num_heads"],
        mlp_ratio=8.0 / 3.0 if int(hidden * 8.0 / 3.0) == mlp_hidden else (mlp_hidden + 0.5) / hidden, num_classes=int(meta.get("pmf.num_classes", "0")),
        cfg_inputs=prefix.get("omega", 0) > 0, aux_head_depth=arch["u_head_depth"],
        bottleneck_channels=arch["bottleneck_channels"], num_class_tokens=prefix.get("class_tokens", 0) or 1,
        num_time_tokens=prefix["time"], num_cfg_tokens=prefix.get("omega", 0) or 1,
        num_interval_tokens=prefix.get("t_min", 0) or 1, rope_theta=float(theta.group(1)) if theta else 10000.0,
        frequency_embedding_size=freq, prediction=meta["pmf.prediction"],
        model_type=meta.get("pmf.model_type", "mean-flow"))
    cfg.validate()
    if cfg.mlp_hidden != mlp_hidden:
        raise ValueError(f"{path}: SwiGLU hidden {mlp_hidden} cannot be rebuilt from width {hidden}")
    return cfg


def state_dict_weights(m: onnx.ModelProto) -> Dict[str, np.ndarray]:
    """The state dict's tensors in an export: `net.<key>` initializers as they are, and the weights
    torch.onnx.export folded into a MatMul (stored transposed, named onnx::MatMul_N) found by the
    MatMul's scope name, /net/<module path>/MatMul, and transposed back. Float16-stored tensors
    (storage.store_float16) are widened through their Cast, and weights the exporter merged with an
    equal one (Identity nodes) are found through the Identity."""
    tensors = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in m.graph.initializer}
    for n in m.graph.node:  # in graph order: a widening Cast comes before what reads its output
        storage_cast = n.op_type == "Cast" and n.name.startswith("/pmf_storage/")
        # Identity: torch.onnx.export keeps one copy of equal weights (zero biases) and names the rest by Identity
        if (storage_cast or n.op_type == "Identity") and n.input and n.input[0] in tensors:
            tensors[n.output[0]] = tensors[n.input[0]]
    out: Dict[str, np.ndarray] = {}
    for name, a in tensors.items():
        if name.startswith("net.") and not name.endswith("/float16"):
            out[name[4:]] = a
    for n in m.graph.node:
        scope = re.fullmatch(r"/net/(.+)/MatMul", n.name)
        if n.op_type == "MatMul" and scope and len(n.input) == 2 and n.input[1] in tensors \
                and not n.input[1].startswith("net."):
            out[scope.group(1).replace("/", ".") + ".weight"] = np.ascontiguousarray(tensors[n.input[1]].T)
    return out


def rebuild_pytorch(onnx_path: str, out: str, *, verify: bool = True) -> Dict:
    from .export import verify_export
    from .publish import save_pytorch
    from .train import RunConfig
    from .config import LossConfig, SamplingConfig, TrainConfig

    m = onnx.load(onnx_path)
    meta = {p.key: p.value for p in m.metadata_props}
    if "pmf.format_version" not in meta:
        raise ValueError(f"{onnx_path}: no pmf.* metadata; rebuild-pytorch needs a pMF Lab export")
    weights = state_dict_weights(m)
    cfg = config_from_metadata(meta, weights, onnx_path)
    net = build_model(cfg)
    sd = net.state_dict()
    missing = [k for k in sd if k not in weights]
    if missing:
        raise ValueError(f"{onnx_path}: {len(missing)} weights are not in the ONNX under their state-dict names "
                         f"(first: {missing[0]}): the graph was rewritten beyond what rebuild-pytorch maps back. "
                         "Rebuild from the training run instead (scripts/pmf-trainer export --run-dir RUN "
                         "writes the ONNX from the same weights).")
    for k, v in sd.items():
        if tuple(v.shape) != weights[k].shape:
            raise ValueError(f"{onnx_path}: {k} has shape {weights[k].shape}; the configuration gives {tuple(v.shape)}")
    net.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in sd})
    net.eval()
    if any(n.name.startswith("/pmf_storage/") for n in m.graph.node):
        # publish rounded the whole network, its computed tables (RoPE, frequencies) too, before
        # exporting it with float16 storage: round the same way (a no-op on the loaded weights)
        from .storage import round_weights_float16
        round_weights_float16(net)
    res: Dict = {"onnx": onnx_path, "out": out, "params": int(sum(v.numel() for v in sd.values()))}
    if verify:
        res["max_abs_diff_vs_onnx"] = verify_export(onnx_path, net, cfg)
        if res["max_abs_diff_vs_onnx"] > 1e-4:
            raise ValueError(f"{onnx_path}: the rebuilt network differs from the ONNX by "
                             f"{res['max_abs_diff_vs_onnx']:.2e}; nothing written")
    run = RunConfig(cfg, LossConfig(), TrainConfig(), SamplingConfig())
    training = json.loads(meta.get("pmf.training", "{}"))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"  # two test processes may rebuild the same file at once
    save_pytorch(net, run, tmp, step=int(training.get("steps", 0)), ema_index=0)
    os.replace(tmp, out)
    return res
