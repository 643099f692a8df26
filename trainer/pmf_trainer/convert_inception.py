"""convert-inception: the FID Inception-v3 weights a user already has
(`pt_inception-2015-12-05-6726825d.pth`, from pytorch-fid or torch-fidelity) -> a feature
network in ONNX for `pmf eval`.

The feature-network contract (docs/evaluation.md, "Inception-v3 for FID"):

- one input `images`, float32 [N, 3, H, W], RGB pixel levels 0..255 as floats; N, H and W are
  dynamic: the graph resizes to 299x299 itself (bilinear, align_corners=False, as pytorch-fid;
  the identity at 299x299);
- inside the graph: /255, the resize, 2x - 1, the network;
- outputs `features` float32 [N, 2048] (pool3) and `logits` float32 [N, 1008];
- metadata_props `pmf_feature_net`: JSON describing the network and the weights file it came
  from (its name and SHA-256).

All or nothing: the file is staged in a temporary folder beside the output and renamed into
place only after the parity check passed; an error, Ctrl-C, SIGTERM or SIGHUP leaves nothing.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import onnx
import torch

from . import inception
from .export import REPO_ROOT, Progress, StagedOutput, _say, run_onnxruntime

OPSET = 17
INPUT = "images"
OUTPUTS = ("features", "logits")
METADATA_KEY = "pmf_feature_net"
# The conversion fails (nothing is written) when onnxruntime's outputs are farther than this
# relative L2 distance from PyTorch's (float32 both; measured ~1e-7 .. 1e-6, trainer tests).
PARITY_TOLERANCE = 1e-4
# Parity inputs: (batch, height, width); 299 (no resize), upsampling, downsampling, non-square.
PARITY_SHAPES: Tuple[Tuple[int, int, int], ...] = ((2, 299, 299), (1, 48, 64), (1, 333, 310))


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return h.hexdigest()
            h.update(b)


def feature_net_metadata(weights_name: str, sha256: str) -> Dict[str, Any]:
    return {"format_version": 1, "name": "inception-v3-fid", "channels": 3, "input_size": None,
            "resize": "bilinear-299", "feature_dim": inception.FEATURE_DIM,
            "logit_classes": inception.NUM_CLASSES, "class_names": None,
            "source": {"file": weights_name, "sha256": sha256}, "real_data": None}


def export_graph(net: inception.FIDInceptionV3, path: str) -> None:
    """torch.onnx.export of the network (levels in, features and logits out) to `path`."""
    example = torch.zeros(1, 3, 64, 64)  # not 299: the trace keeps the resize whatever the size
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch >= 2.9 defaults to the dynamo exporter; keep the tracer
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant sizes (the 299s are meant)
        torch.onnx.export(net, (example,), path, input_names=[INPUT], output_names=list(OUTPUTS),
                          dynamic_axes={INPUT: {0: "N", 2: "H", 3: "W"}, OUTPUTS[0]: {0: "N"}, OUTPUTS[1]: {0: "N"}},
                          opset_version=OPSET, do_constant_folding=True, **kwargs)


def finish_model(raw: str, dest: str, meta: Dict[str, Any]) -> None:
    """Check the exported graph against the contract, add the metadata and write it to `dest`."""
    m = onnx.load(raw)
    onnx.checker.check_model(m)
    ins = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    outs = [o.name for o in m.graph.output]
    if ins != [INPUT] or outs != list(OUTPUTS):
        raise RuntimeError(f"exported graph has inputs {ins} and outputs {outs}, expected [{INPUT}] and {list(OUTPUTS)}")
    if not any(n.op_type == "Resize" for n in m.graph.node):
        raise RuntimeError("exported graph lacks its Resize to 299x299")
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(meta)})
    onnx.save(m, dest)


def parity_inputs(seed: int = 1, shapes=PARITY_SHAPES) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(n, 3, h, w)).astype(np.float32) for n, h, w in shapes]


def parity_backend() -> Optional[str]:
    """What checks the export: onnxruntime for Python, else onnxruntime-node (the repository's
    node_modules, as Debian 12 has no Python onnxruntime), else None. onnx's reference evaluator
    is no fallback: one image (always resized to 299x299) took over 6 minutes there (onnx 1.17,
    PyTorch 2.6 root). PMF_ORT_BACKEND=python|node forces an onnxruntime."""
    if os.environ.get("PMF_ORT_BACKEND", "auto").strip().lower() in ("python", "node"):
        return os.environ["PMF_ORT_BACKEND"].strip().lower()
    if importlib.util.find_spec("onnxruntime") is not None:
        return "python"
    if shutil.which("node") and os.path.isdir(os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node")):
        return "node"
    return None


def run_model(path: str, images: np.ndarray, backend: str) -> Dict[str, np.ndarray]:
    """Run the feature network with onnxruntime (backend: python or node)."""
    prev = os.environ.get("PMF_ORT_BACKEND")
    os.environ["PMF_ORT_BACKEND"] = backend
    try:
        return run_onnxruntime(path, {INPUT: images})
    finally:
        if prev is None:
            del os.environ["PMF_ORT_BACKEND"]
        else:
            os.environ["PMF_ORT_BACKEND"] = prev


def compare(got: Dict[str, np.ndarray], ref: Dict[str, np.ndarray]) -> Dict[str, Dict[str, float]]:
    """Per output: the largest absolute difference and ||got - ref|| / ||ref||."""
    res = {}
    for name in OUTPUTS:
        g, r = np.asarray(got[name], dtype=np.float64), np.asarray(ref[name], dtype=np.float64)
        if g.shape != r.shape:
            raise RuntimeError(f"ONNX output {name} has shape {list(g.shape)}, PyTorch {list(r.shape)}")
        if not np.isfinite(g).all():
            res[name] = {"max_abs_diff": float("inf"), "rel_l2": float("inf")}
            continue
        d = g - r
        res[name] = {"max_abs_diff": float(np.abs(d).max()),
                     "rel_l2": float(np.linalg.norm(d) / max(np.linalg.norm(r), 1e-30))}
    return res


def check_parity(path: str, net: inception.FIDInceptionV3, progress: Progress = None,
                 shapes=PARITY_SHAPES) -> Optional[Dict[str, Any]]:
    """The ONNX model at `path` against `net` on random pixel levels of several sizes; raises
    RuntimeError above PARITY_TOLERANCE; None (with a note) when nothing can run ONNX here."""
    backend = parity_backend()
    if backend is None:
        _say(progress, "note: parity check skipped: no onnxruntime here (pip install onnxruntime, or `npm ci` in "
                       "the repository for onnxruntime-node); the file is written unchecked")
        return None
    worst = {name: {"max_abs_diff": 0.0, "rel_l2": 0.0} for name in OUTPUTS}
    for images in parity_inputs(shapes=shapes):
        _say(progress, f"parity check ({backend}): {list(images.shape)}")
        with torch.no_grad():
            f, lg = net(torch.from_numpy(images))
        got = run_model(path, images, backend)
        for name, r in compare(got, {"features": f.numpy(), "logits": lg.numpy()}).items():
            for k in r:
                worst[name][k] = max(worst[name][k], r[k])
    bad = [f"{n}: rel_l2 {worst[n]['rel_l2']:.2e}" for n in OUTPUTS if not worst[n]["rel_l2"] <= PARITY_TOLERANCE]
    if bad:
        raise RuntimeError(f"the exported model differs from PyTorch ({', '.join(bad)}; tolerance "
                           f"{PARITY_TOLERANCE:g}); nothing written")
    return {"backend": backend, "shapes": [list(s) for s in shapes], **worst}


def convert_inception(weights: str, out: str, *, verify: bool = True, progress: Progress = None) -> Dict[str, Any]:
    """Convert the weights file `weights` into the feature network `out` (see the module
    docstring). Returns a summary (paths, SHA-256, parity numbers)."""
    t0 = time.monotonic()
    if not os.path.exists(weights):
        raise FileNotFoundError(f"{weights}: no such file (pytorch-fid keeps {inception.WEIGHTS_FILE} in "
                                f"~/.cache/torch/hub/checkpoints/)")
    if os.path.isdir(out):
        raise ValueError(f"{out} is a folder; give the path of the .onnx file to write")
    name = os.path.basename(weights)
    _say(progress, f"reading {weights} ({os.path.getsize(weights) / 1e6:.1f} MB)")
    sha = sha256_file(weights)
    m = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z]+$", name)
    said = ""
    if m:
        said = (f" (begins with {m.group(1)}, as the file name says)" if sha.startswith(m.group(1))
                else f" (the file name's {m.group(1)} is not its start)")
    _say(progress, f"sha256 {sha}{said}")
    net = inception.load(weights)
    _say(progress, f"weights match the FID Inception-v3 ({sum(p.numel() for p in net.parameters()):,} parameters)")
    meta = feature_net_metadata(name, sha)
    with StagedOutput(out, progress) as st:
        raw = os.path.join(st.scratch, "graph.onnx")
        _say(progress, "exporting the graph (torch.onnx.export, opset 17; no progress inside this step)")
        export_graph(net, raw)
        finish_model(raw, st.onnx, meta)
        par = check_parity(st.onnx, net, progress) if verify else None
        if not verify:
            _say(progress, "parity check skipped (--no-verify)")
        st.commit()
    size = os.path.getsize(out)
    _say(progress, f"wrote {out} ({size / 1e6:.1f} MB)")
    return {"onnx": out, "bytes": size, "weights": name, "sha256": sha, "parity": par,
            "seconds": round(time.monotonic() - t0, 1)}
