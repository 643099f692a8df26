"""convert-official: an official pMF state dict -> a pMF-format ONNX file.

Any size: the model is built around the checkpoint's own tensors (one copy of the weights),
exported with torch.onnx.export into a temporary folder beside the output, and written with
its tensors streamed one at a time; models whose weights pass the 2 GB protobuf limit (H/16,
H/32), or any model with external_data=True, get one weights file beside the .onnx
(`NAME.onnx.data`). All or nothing: an error, Ctrl-C or SIGTERM leaves no file behind.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Dict, List, Optional

from .export import (DTYPES, Progress, StagedOutput, _say, build_metadata, onnxruntime_backend, parity,
                     reference_outputs, torch_export, write_onnx)
from .variants import int8_precision, set_precision, write_int8
from .official import (ConversionError, build_official_model, infer_config, load_state_dict,
                       official_sampling)

# The parity check fails the conversion (nothing is written) above these relative L2 distances
# between onnxruntime's and PyTorch's (float32) outputs. Measured (trainer/README.md): float32
# 2e-7 .. 8e-7; float16 4.8e-4 .. 5.7e-4 (the test model, B/16 and H/16 with random weights, the
# trained Fashion-MNIST model); the bounds leave room for other weights.
PARITY_TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "int8": 0.1}


def read_class_names(path: str, num_classes: int) -> List[str]:
    """Class names from a JSON list or a text file with one name per line (blank lines ignored)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConversionError(f"{path}: not a valid JSON list of class names ({e})") from e
        if not all(isinstance(n, str) for n in names):
            raise ConversionError(f"{path}: the JSON list must hold strings only")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ConversionError(f"{path} names {len(names)} classes; the checkpoint has {num_classes}: give one name per class, "
                              "in class-index order")
    return [str(n) for n in names]


def _peak_rss_mb() -> Optional[float]:
    """Peak resident memory of this process, MB (onnxruntime-node's child is not in it)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


def convert_official(ckpt: str, out: str, verify: bool = True, class_names: Optional[str] = None, *,
                     external_data: Optional[bool] = None, dtype: str = "float32", fused: bool = True,
                     progress: Progress = None, verify_n: int = 2) -> Dict:
    """Convert; returns a summary (files, sizes, parity). external_data: True always writes the
    weights file, None (default) only when the model needs it (over 2 GB). dtype float16: weights
    and compute in float16, inputs and output float32, its error against PyTorch's float32
    output reported as parity.rel_l2. fused: the graph in onnxruntime's fused forms (fused.py;
    float32 and int8); False keeps standard ONNX ops only. float16 is always plain."""
    if dtype not in DTYPES:
        raise ConversionError(f"--dtype {dtype}: use one of {', '.join(DTYPES)}")
    t0 = time.monotonic()
    _say(progress, f"loading {ckpt} ({os.path.getsize(ckpt) / 1e9:.2f} GB)")
    sd = load_state_dict(ckpt)
    cfg, name = infer_config(sd)
    names = (read_class_names(class_names, cfg.num_classes) if class_names
             else [f"imagenet-{i}" for i in range(cfg.num_classes)])
    _say(progress, f"building pMF-{name} from the checkpoint's tensors")
    net = build_official_model(sd, cfg)
    del sd
    gc.collect()
    params = sum(p.numel() for p in net.parameters())
    s = official_sampling(name)
    noise_scale = s.pop("noise_scale")
    res = 256 if cfg.patch_size == 16 else 512
    meta = build_metadata(
        cfg, net, name=f"pMF-{name} (official, converted)",
        description=f"Official pixel MeanFlow {name} ImageNet {res}x{res} checkpoint "
                    f"({os.path.basename(ckpt)}), converted by pmf_trainer convert-official.",
        noise_scale=noise_scale, t_eps=0.05, data_range=(-1.0, 1.0),
        class_names=names,
        sampling={"steps": 1, **s},
        training={"dataset": "ImageNet-1k", "source": "official pMF checkpoint (Lyy-iiis/pMF)",
                  "converted_from": os.path.basename(ckpt)})
    if verify:
        _say(progress, f"running PyTorch (float32) on {verify_n} reference inputs")
        feeds, ref = reference_outputs(net, cfg, n=verify_n, seed=1)
    with StagedOutput(out, progress) as st:
        raw, inputs = torch_export(net, cfg, st.scratch, progress, fused=fused and dtype != "float16")
        del net  # the exported files hold the weights from here on
        gc.collect()
        if dtype == "int8":  # SmoothQuant-calibrated on generation inputs, as `quantize` does
            calibration = os.path.join(st.dir, "calibration")
            os.mkdir(calibration)
            info = write_int8(raw, st.onnx, meta, inputs, calibration, progress, consume_source=True,
                              external_data=external_data)
        else:
            info = write_onnx(raw, st.onnx, meta, inputs, external_data=external_data, dtype=dtype, progress=progress)
        result: Dict = {"onnx": out, "model": name, "inputs": inputs, "params": params, "dtype": dtype,
                        "fused": fused and dtype != "float16",
                        "external_data": info["external_data"],
                        "weights": (os.path.join(os.path.dirname(os.path.abspath(out)),
                                                 os.path.basename(info["weights"])) if info["weights"] else None),
                        "onnx_bytes": info["onnx_bytes"], "weights_bytes": info["weights_bytes"]}
        if verify:
            _say(progress, f"verifying against PyTorch with onnxruntime ({onnxruntime_backend()}) on {verify_n} inputs")
            par = parity(st.onnx, feeds, ref, cfg.prediction)
            result["parity"] = par
            result["max_abs_diff_vs_pytorch"] = par["max_abs_diff"]
            tol = PARITY_TOLERANCE[dtype]
            if not par["rel_l2"] <= tol:
                raise ConversionError(
                    f"the exported model differs from PyTorch: relative L2 {par['rel_l2']:.3g} > {tol:g} "
                    f"(largest difference {par['max_abs_diff']:.3g}); nothing written")
            if dtype == "int8":
                set_precision(st.onnx, int8_precision(info["quantized"], os.path.basename(ckpt), par["rel_l2"],
                                                      f"{verify_n} random contract inputs, against PyTorch float32"))
        st.commit()
    result["peak_rss_mb"] = _peak_rss_mb()
    result["seconds"] = round(time.monotonic() - t0, 1)
    what = f"{out} ({info['onnx_bytes'] / 1e6:.1f} MB)"
    if info["weights"]:
        what += f" + {os.path.basename(info['weights'])} ({info['weights_bytes'] / 1e6:.0f} MB)"
    _say(progress, f"wrote {what}")
    return result
