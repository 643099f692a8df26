"""Export to the pMF checkpoint format (docs/checkpoint-format.md, version 1).

An ONNX graph whose inputs are named after the paper (z, t, h, y, omega, t_min, t_max;
a model declares only those it uses) and whose single output is the raw network
prediction, named `x` or `u`, plus `pmf.*` metadata_props. Field conversions stay out
of the graph: the runtime does them.
"""
from __future__ import annotations

import inspect
import json
import os
import platform
import subprocess
import tempfile
from typing import Any, Dict, List, Optional

import numpy as np
import onnx
import torch
import torch.nn as nn

from .config import DiTConfig, MLPConfig
from .models import count_params

FORMAT_VERSION = 1
OPSET = 17
INPUT_ORDER = ("z", "t", "h", "y", "omega", "t_min", "t_max")
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORT_RUN = os.path.join(REPO_ROOT, "trainer", "tools", "ort_run.mjs")


def declared_inputs(model_cfg) -> List[str]:
    """The contract inputs a model uses, in canonical order."""
    if isinstance(model_cfg, MLPConfig):
        return ["z", "t", "h"]
    names = ["z", "h"]  # the transformer conditions on h only; t is used by the runtime
    if model_cfg.num_classes > 0:
        names.append("y")
    if model_cfg.cfg_inputs:
        names += ["omega", "t_min", "t_max"]
    return [n for n in INPUT_ORDER if n in names]


class ContractWrapper(nn.Module):
    """Adapts net(z, t, h, omega, t_min, t_max, y) to positional contract inputs."""

    def __init__(self, net: nn.Module, inputs: List[str]):
        super().__init__()
        self.net, self.inputs = net, list(inputs)

    def forward(self, *args):
        a = dict(zip(self.inputs, args))
        return self.net(a["z"], a.get("t"), a["h"], a.get("omega"), a.get("t_min"), a.get("t_max"), a.get("y"))


def example_inputs(model_cfg, n: int, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Random inputs in each input's valid range (y includes the null class)."""
    g = torch.Generator().manual_seed(seed)
    if isinstance(model_cfg, MLPConfig):
        z = torch.randn(n, model_cfg.dim, generator=g)
    else:
        s = model_cfg.input_size
        z = torch.randn(n, model_cfg.in_channels, s, s, generator=g)
    t = torch.rand(n, generator=g) * 0.95 + 0.05
    r = t * torch.rand(n, generator=g)
    out = {"z": z, "t": t, "h": t - r}
    if isinstance(model_cfg, DiTConfig):
        if model_cfg.num_classes > 0:
            out["y"] = torch.randint(0, model_cfg.num_classes + 1, (n,), generator=g)
        if model_cfg.cfg_inputs:
            out["omega"] = 1 + 4 * torch.rand(n, generator=g)
            out["t_min"] = 0.5 * torch.rand(n, generator=g)
            out["t_max"] = 0.5 + 0.5 * torch.rand(n, generator=g)
    return out


def architecture_summary(model_cfg, net: nn.Module) -> Dict[str, Any]:
    d: Dict[str, Any] = {"name": model_cfg.arch, "params": count_params(net)}
    if isinstance(model_cfg, DiTConfig):
        d.update(depth=model_cfg.depth, hidden_size=model_cfg.hidden_size, num_heads=model_cfg.num_heads,
                 patch_size=model_cfg.patch_size, mlp_hidden=model_cfg.mlp_hidden,
                 u_head_depth=model_cfg.aux_head_depth, bottleneck_channels=model_cfg.bottleneck_channels,
                 prefix_tokens=dict(class_tokens=model_cfg.num_class_tokens if model_cfg.num_classes else 0,
                                    omega=model_cfg.num_cfg_tokens if model_cfg.cfg_inputs else 0,
                                    t_min=model_cfg.num_interval_tokens if model_cfg.cfg_inputs else 0,
                                    t_max=model_cfg.num_interval_tokens if model_cfg.cfg_inputs else 0,
                                    time=model_cfg.num_time_tokens),
                 image_tokens=(model_cfg.input_size // model_cfg.patch_size) ** 2,
                 rope="2D, theta %g, image tokens only" % model_cfg.rope_theta)
    else:
        d.update(dim=model_cfg.dim, hidden=model_cfg.hidden, layers=model_cfg.layers,
                 activation="relu", time_features=model_cfg.time_features)
    return d


def build_metadata(model_cfg, net: nn.Module, *, name: str, description: str = "",
                   noise_scale: float = 1.0, t_eps: float = 0.05, data_range=(-1.0, 1.0),
                   class_names: Optional[List[str]] = None, sampling: Optional[Dict[str, Any]] = None,
                   training: Optional[Dict[str, Any]] = None,
                   embedding: Optional[np.ndarray] = None) -> Dict[str, str]:
    is_toy = isinstance(model_cfg, MLPConfig)
    num_classes = 0 if is_toy else model_cfg.num_classes
    meta: Dict[str, Any] = {
        "pmf.format_version": FORMAT_VERSION,
        "pmf.name": name,
        "pmf.description": description,
        "pmf.prediction": model_cfg.prediction,
        "pmf.kind": "toy" if is_toy else "image",
        "pmf.data_range": list(data_range),
        "pmf.noise_scale": noise_scale,
        "pmf.t_eps": t_eps,
        "pmf.num_classes": num_classes,
        "pmf.default_sampling": sampling or {"steps": 1, "omega": 1.0, "t_min": 0.0, "t_max": 1.0},
        "pmf.architecture": architecture_summary(model_cfg, net),
        "pmf.training": training or {},
    }
    if num_classes:
        names = class_names or [str(i) for i in range(num_classes)]
        if len(names) != num_classes:
            raise ValueError(f"{len(names)} class names for {num_classes} classes")
        meta["pmf.class_names"] = names
    if is_toy:
        meta["pmf.dim"] = model_cfg.dim
        if embedding is None:
            raise ValueError("toy models need their D x 2 embedding matrix")
        meta["pmf.embedding"] = np.asarray(embedding, dtype=float).round(8).tolist()
    else:
        meta["pmf.image_size"] = model_cfg.input_size
        meta["pmf.channels"] = model_cfg.in_channels
        meta["pmf.patch_size"] = model_cfg.patch_size
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def export_onnx(net: nn.Module, model_cfg, path: str, metadata: Dict[str, str]) -> List[str]:
    """Write the ONNX file; returns the declared input names."""
    inputs = declared_inputs(model_cfg)
    wrapper = ContractWrapper(net, inputs).eval()
    ex = example_inputs(model_cfg, 2)
    args = tuple(ex[n] for n in inputs)
    out_name = model_cfg.prediction
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch >= 2.9 defaults to the dynamo exporter; keep one path
    with torch.no_grad():
        torch.onnx.export(wrapper, args, tmp, input_names=inputs, output_names=[out_name],
                          dynamic_axes={n: {0: "N"} for n in inputs + [out_name]},
                          opset_version=OPSET, do_constant_folding=True, **kwargs)
    m = onnx.load(tmp)
    graph_inputs = [i.name for i in m.graph.input]
    if graph_inputs != inputs:
        os.remove(tmp)
        raise RuntimeError(f"exported graph declares inputs {graph_inputs}, expected {inputs}")
    del m.metadata_props[:]
    for k, v in metadata.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.producer_name = "pmf-lab-trainer"
    m.doc_string = metadata.get("pmf.description", "")
    onnx.checker.check_model(m)
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return inputs


def onnxruntime_backend() -> str:
    """Which onnxruntime checks exports: `python` (the onnxruntime package, as on the GPU
    machines) or `node` (onnxruntime-node from the repo's node_modules, as on Debian, which
    packages no Python onnxruntime before trixie). PMF_ORT_BACKEND=python|node picks one;
    the default takes Python's when it imports."""
    want = os.environ.get("PMF_ORT_BACKEND", "auto").strip().lower()
    if want not in ("auto", "python", "node"):
        raise ValueError(f"PMF_ORT_BACKEND={want!r}: use auto, python or node")
    if want != "auto":
        return want
    try:
        import onnxruntime  # noqa: F401
        return "python"
    except ImportError:
        return "node"


def run_onnxruntime(path: str, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run an ONNX model with onnxruntime's CPU provider (see onnxruntime_backend)."""
    if onnxruntime_backend() == "python":
        import onnxruntime as ort
        sess = ort.InferenceSession(os.path.abspath(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        return dict(zip(names, sess.run(names, {k: np.ascontiguousarray(v) for k, v in feeds.items()})))
    return _run_onnxruntime_node(path, feeds)


def _run_onnxruntime_node(path: str, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """onnxruntime-node through trainer/tools/ort_run.mjs (tensors cross as raw files)."""
    with tempfile.TemporaryDirectory() as d:
        manifest = {"model": os.path.abspath(path), "inputs": [], "out_dir": d}
        for name, arr in feeds.items():
            arr = np.ascontiguousarray(arr)
            dtype = {np.dtype("float32"): "float32", np.dtype("int64"): "int64"}[arr.dtype]
            f = os.path.join(d, f"in_{name}.bin")
            arr.tofile(f)
            manifest["inputs"].append({"name": name, "dtype": dtype, "shape": list(arr.shape), "file": f})
        mpath = os.path.join(d, "manifest.json")
        with open(mpath, "w") as f:
            json.dump(manifest, f)
        try:
            res = subprocess.run(["node", ORT_RUN, mpath], capture_output=True, text=True, cwd=REPO_ROOT)
        except FileNotFoundError:
            raise RuntimeError("checking the export needs onnxruntime: install the Python package "
                               "onnxruntime, or Node.js and `npm ci` for onnxruntime-node") from None
        if res.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed (is `npm ci` done?):\n{res.stderr.strip()}")
        outs = json.loads(res.stdout)
        return {o["name"]: np.fromfile(o["file"], dtype=np.float32).reshape(o["shape"]) for o in outs}


def verify_export(path: str, net: nn.Module, model_cfg, n: int = 4, seed: int = 1) -> float:
    """Max abs difference between PyTorch and onnxruntime on random contract inputs."""
    inputs = declared_inputs(model_cfg)
    ex = example_inputs(model_cfg, n, seed)
    with torch.no_grad():
        ref = ContractWrapper(net, inputs).eval()(*(ex[k] for k in inputs)).numpy()
    got = run_onnxruntime(path, {k: ex[k].numpy() for k in inputs})[model_cfg.prediction]
    if got.shape != ref.shape:
        raise AssertionError(f"ONNX output shape {got.shape} != PyTorch {ref.shape}")
    return float(np.abs(got - ref).max())


def hardware_summary() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    n = torch.get_num_threads()
    return f"CPU: {cpu}, {n} thread{'' if n == 1 else 's'}"
