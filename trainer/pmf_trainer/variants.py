"""Variants of a model that exists already: an int8 copy of a pMF ONNX file (`quantize`), and a
fresh export of a pMF Lab PyTorch checkpoint (`export-pytorch`, how the bundled models' ONNX
files are rebuilt), each all or nothing, each with its error measured before it is written.

The int8 variant records what it costs in its own metadata (`pmf.precision`, docs/checkpoint-
format.md): the relative L2 distance of its output from the float32 model's on random contract
inputs, and with `--evaluate` (Fashion-MNIST models) the class consistency and Frechet distance
of 10,000 one-step samples of both, from the same noise, so a user sees the price when choosing.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, Dict, List, Optional

import numpy as np
import onnx
import torch

from .export import (INLINE_LIMIT, Progress, StagedOutput, _say, build_metadata, onnxruntime_backend, parity,
                     reference_outputs, run_onnxruntime, torch_export, write_onnx)

PRECISION_KEY = "pmf.precision"


def _metadata(path: str) -> Dict[str, str]:
    m = onnx.load(path, load_external_data=False)
    return {p.key: p.value for p in m.metadata_props}


def _inputs(path: str) -> List[str]:
    return [i.name for i in onnx.load(path, load_external_data=False).graph.input]


def contract_feeds(meta: Dict[str, str], inputs: List[str], n: int, seed: int) -> Dict[str, np.ndarray]:
    """Random inputs of the pMF contract from a model's metadata (each in its valid range)."""
    rng = np.random.default_rng(seed)
    if meta.get("pmf.kind") == "toy":
        z = rng.standard_normal((n, int(meta["pmf.dim"])))
    else:
        s, c = int(meta["pmf.image_size"]), int(meta["pmf.channels"])
        z = rng.standard_normal((n, c, s, s))
    t = rng.uniform(0.05, 1.0, n)
    h = t * rng.uniform(0, 1, n)
    vals: Dict[str, np.ndarray] = {"z": z, "t": t, "h": h, "omega": rng.uniform(1, 5, n),
                                   "t_min": rng.uniform(0, 0.5, n), "t_max": rng.uniform(0.5, 1, n)}
    out = {k: vals[k].astype(np.float32) for k in inputs if k != "y"}
    if "y" in inputs:
        out["y"] = rng.integers(0, int(meta.get("pmf.num_classes", "0")) + 1, n).astype(np.int64)
    return {k: out[k] for k in inputs}


class OnnxNet:
    """net(z, t, h, omega, t_min, t_max, y) -> raw output, run by onnxruntime (for sample())."""

    def __init__(self, path: str):
        self.path, self.inputs = path, _inputs(path)
        self.output = [o.name for o in onnx.load(path, load_external_data=False).graph.output][0]

    def __call__(self, z, t, h, omega=None, t_min=None, t_max=None, y=None):
        given = {"z": z, "t": t, "h": h, "omega": omega, "t_min": t_min, "t_max": t_max, "y": y}
        feeds = {k: given[k].numpy() for k in self.inputs}
        return torch.from_numpy(run_onnxruntime(self.path, feeds)[self.output])


def evaluate_fashion(path: str, classifier: str, n_per_class: int = 1000) -> Dict[str, float]:
    """Class consistency and FD vs the test set of one-step samples of the ONNX model at `path`,
    at its default sampling settings, noise from seed 0 (the same for every file)."""
    from .evaluate import evaluate_generator, load_classifier
    from .sample import sample

    meta = _metadata(path)
    net, cls = OnnxNet(path), load_classifier(classifier)
    s = json.loads(meta["pmf.default_sampling"])
    size, ch = int(meta["pmf.image_size"]), int(meta["pmf.channels"])
    noise, t_eps = float(meta.get("pmf.noise_scale", "1")), float(meta.get("pmf.t_eps", "0.05"))
    cfg_inputs = "omega" in net.inputs

    def gen(y, g):
        z1 = torch.randn(y.shape[0], ch, size, size, generator=g) * noise
        return sample(net, z1, prediction=meta["pmf.prediction"], steps=1, y=y, cfg_inputs=cfg_inputs,
                      omega=s["omega"], t_min=s["t_min"], t_max=s["t_max"], t_eps=t_eps)
    r = evaluate_generator(gen, cls, n_per_class, batch=1000)
    return {"class_consistency": round(r["class_consistency"], 4), "fd_vs_test": round(r["fd_vs_test"], 4),
            "num_samples": r["num_samples"], "omega": s["omega"]}


def int8_precision(quantized: Dict[str, int], source: str, rel_l2: float, measured_on: str) -> Dict[str, Any]:
    """The pmf.precision record of an int8 variant."""
    return {"weights": "int8",
            "method": "SmoothQuant-smoothed (alpha 0.5, calibrated on generation inputs), per-column symmetric int8 "
                      "weights, dynamic uint8 activations (com.microsoft.DynamicQuantizeMatMul); attention, "
                      "norms and output in float32",
            "matmuls": quantized["matmuls"], "smoothed_activations": quantized.get("smoothed", 0), "source": source,
            "rel_l2_vs_float32": float(f"{rel_l2:.4g}"), "measured_on": measured_on}


def set_precision(path: str, precision: Dict[str, Any]) -> None:
    """Record a variant's precision (and mark its name) in the staged .onnx at path."""
    meta = _metadata(path)
    _set_metadata(path, {PRECISION_KEY: json.dumps(precision),
                         "pmf.name": f"{meta.get('pmf.name', os.path.basename(path))} ({precision['weights']})"})


def _set_metadata(path: str, updates: Dict[str, str]) -> None:
    """Rewrite the metadata of the (staged) .onnx at path; weights in external data stay where they are."""
    m = onnx.load(path, load_external_data=False)
    props = {p.key: p.value for p in m.metadata_props}
    props.update(updates)
    del m.metadata_props[:]
    for k, v in props.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


CALIBRATION_SAMPLES = 8


def calibration_feeds(meta: Dict[str, str], inputs: List[str], n: int = CALIBRATION_SAMPLES, seed: int = 0) -> Dict[str, np.ndarray]:
    """What the model sees when it generates: noise (times the noise scale) at t = 1 and the first
    step's h, at the default guidance settings, classes spread over the class table."""
    feeds = contract_feeds(meta, inputs, n, seed)
    s = json.loads(meta.get("pmf.default_sampling", "{}"))
    steps = max(1, int(s.get("steps", 1)))
    noise = float(meta.get("pmf.noise_scale", "1"))
    fixed = {"t": 1.0, "h": 1.0 / steps, "omega": s.get("omega", 1.0), "t_min": s.get("t_min", 0.0), "t_max": s.get("t_max", 1.0)}
    for k, v in fixed.items():
        if k in feeds:
            feeds[k] = np.full(n, v, dtype=np.float32)
    feeds["z"] = (feeds["z"] * noise).astype(np.float32)
    if "y" in feeds:
        classes = int(meta.get("pmf.num_classes", "0"))
        feeds["y"] = (np.arange(n) * max(1, classes // n) % max(1, classes)).astype(np.int64)
    return feeds


def write_int8(src: str, dest: str, meta: Dict[str, str], inputs: List[str], scratch: str,
               progress: Progress = None, *, consume_source: bool = False,
               external_data: Optional[bool] = None) -> Dict[str, Any]:
    """The int8 variant of the float32 model `src` at `dest` (a staged path), SmoothQuant-smoothed:
    the model runs once on calibration inputs (calibration_feeds) with probes that record each
    quantized activation's per-channel max |A|; quantize.smooth_factors turns them into factors.
    `scratch` (an empty folder, removed by the caller) holds the probed copy. A source with
    external data is probed without reading its weights in: the probed header goes to `scratch`
    beside hard links to the source's weights files (on another file system: a copy), so memory
    stays at what onnxruntime needs to run it (H/16: its 3.8 GB once, not twice). consume_source and external_data: as write_onnx."""
    from .export import _Source
    from .quantize import absmax_probes, smooth_factors

    _say(progress, f"calibrating: the float32 model on {CALIBRATION_SAMPLES} generation inputs, per-channel activation maxima")
    src_dir = os.path.dirname(os.path.abspath(src))
    probe_path = os.path.join(scratch, "calibration.onnx")
    m = onnx.load(src, load_external_data=False)
    locations = {e.value for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
                 for e in t.external_data if e.key == "location"}
    try:
        # onnxruntime finds the weights files beside the probed header: hard links (it refuses
        # symbolic links that lead out of the model's folder), so nothing is copied or read in
        for loc in locations:
            link = os.path.join(scratch, loc)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.link(os.path.join(src_dir, loc), link)
    except OSError:  # another file system (or no hard links): a probed copy with the weights read in
        shutil.rmtree(scratch)
        os.mkdir(scratch)
        m = onnx.load(src)
    probes = absmax_probes(m)
    big = m.ByteSize() > INLINE_LIMIT  # only a copy with its weights read in can be this big
    onnx.save_model(m, probe_path, save_as_external_data=big, all_tensors_to_one_file=True, location="calibration.onnx.data")
    del m
    got = run_onnxruntime(probe_path, calibration_feeds(meta, inputs))
    shutil.rmtree(scratch)
    os.mkdir(scratch)
    header = onnx.load(src, load_external_data=False)
    reader = _Source(src_dir, list(header.graph.initializer), consume=False)
    factors = smooth_factors({a: got[o] for a, o in probes.items()}, header, reader.read)
    del header
    return write_onnx(src, dest, meta, inputs, dtype="int8", progress=progress, consume_source=consume_source,
                      smoothing=factors, external_data=external_data)


def quantize(src: str, out: str, *, evaluate_with: Optional[str] = None, verify_n: int = 4,
             progress: Progress = None) -> Dict[str, Any]:
    """Write the int8 variant of the float32 pMF model `src` to `out` (quantize.py), with its
    measured error in pmf.precision; returns a summary."""
    t0 = time.monotonic()
    meta = _metadata(src)
    if PRECISION_KEY in meta:
        raise ValueError(f"{src} is already a reduced-precision variant ({json.loads(meta[PRECISION_KEY]).get('weights')}); "
                         "quantize its float32 original")
    if os.path.abspath(src) == os.path.abspath(out):
        raise ValueError(f"--out {out} is the model itself; write the variant beside it (e.g. NAME-int8.onnx)")
    inputs = _inputs(src)
    output = meta.get("pmf.prediction", "x")
    feeds = contract_feeds(meta, inputs, verify_n, seed=1)
    _say(progress, f"running the float32 model on {verify_n} random inputs (onnxruntime {onnxruntime_backend()})")
    ref = run_onnxruntime(src, feeds)[output]
    result: Dict[str, Any] = {"source": src, "onnx": out}
    with StagedOutput(out, progress) as st:
        info = write_int8(src, st.onnx, meta, inputs, st.scratch, progress)
        par = parity(st.onnx, feeds, ref, output)
        _say(progress, f"int8 against float32: relative L2 {par['rel_l2']:.4g}, largest difference {par['max_abs_diff']:.4g}")
        precision = int8_precision(info["quantized"], os.path.basename(src), par["rel_l2"],
                                   f"{verify_n} random contract inputs, against the float32 model")
        if evaluate_with:
            _say(progress, "evaluating float32 and int8 (10,000 one-step samples each, the same noise)")
            precision["evaluation"] = {"float32": evaluate_fashion(src, evaluate_with),
                                       "int8": evaluate_fashion(st.onnx, evaluate_with),
                                       "classifier": os.path.basename(evaluate_with)}
        set_precision(st.onnx, precision)
        st.commit()
    result.update(precision=precision, onnx_bytes=os.path.getsize(out), source_bytes=os.path.getsize(src),
                  seconds=round(time.monotonic() - t0, 1))
    _say(progress, f"wrote {out} ({result['onnx_bytes'] / 1e6:.1f} MB, from {result['source_bytes'] / 1e6:.1f} MB)")
    return result


def export_pytorch(pt: str, out: str, *, metadata_from: str, dtype: str = "float32",
                   progress: Progress = None) -> Dict[str, Any]:
    """Export a pMF Lab PyTorch checkpoint (publish.save_pytorch) again, with the metadata of the
    ONNX file `metadata_from` (its card: name, classes, sampling, training), checked against
    PyTorch before it is written. float32 or float16; an int8 variant is `quantize`'s job."""
    from .convert import PARITY_TOLERANCE
    from .publish import load_pytorch

    if dtype not in ("float32", "float16"):
        raise ValueError(f"--dtype {dtype}: use float32 or float16 (int8: export float32, then quantize)")
    meta = _metadata(metadata_from)
    cfg, net = load_pytorch(pt)
    fresh = build_metadata(cfg, net, name=meta.get("pmf.name", ""))
    if fresh["pmf.architecture"] != meta.get("pmf.architecture"):
        raise ValueError(f"{pt} and {metadata_from} describe different architectures")
    feeds, ref = reference_outputs(net, cfg, n=4, seed=1)
    with StagedOutput(out, progress) as st:
        raw, inputs = torch_export(net, cfg, st.scratch, progress, fused=dtype != "float16")
        write_onnx(raw, st.onnx, meta, inputs, dtype=dtype, progress=progress)
        par = parity(st.onnx, feeds, ref, cfg.prediction)
        _say(progress, f"against PyTorch: relative L2 {par['rel_l2']:.3g}, largest difference {par['max_abs_diff']:.3g}")
        if not par["rel_l2"] <= PARITY_TOLERANCE[dtype]:
            raise ValueError(f"the export differs from PyTorch: relative L2 {par['rel_l2']:.3g}; nothing written")
        st.commit()
    return {"onnx": out, "parity": par, "dtype": dtype}
