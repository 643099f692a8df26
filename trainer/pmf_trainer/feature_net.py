"""Feature networks: an evaluation network exported to ONNX for the TypeScript engine.

`pmf eval` (issue 12) runs these with onnxruntime-node on the CPU. The contract
(docs/evaluation.md, "Feature networks (ONNX contract)"):

- Input: one, named `images`, float32 [N, C, H, W], N dynamic. It holds uint8 pixel levels
  0..255 as floats: what a generated image becomes after the usual uint8 conversion,
  round(clip((x + 1) / 2, 0, 1) * 255) for x in [-1, 1]. Real images are fed as their stored
  levels. Any normalisation the network needs is inside the graph; for the Fashion-MNIST
  classifier that is clip(images, 0, 255) / 127.5 - 1, the trainer's [-1, 1] range.
- Outputs: `features`, float32 [N, D] (the features the Frechet distance and friends use), and
  optionally `logits`, float32 [N, K] (class logits, for class consistency and the Inception
  Score). Here D = 128 (the penultimate layer, FMNISTClassifier.features) and K = 10.
- metadata_props key `pmf_feature_net`: JSON, {"format_version": 1, "name", "channels",
  "input_size": [H, W] or null (any size), "resize": the resizing the graph does itself,
  "none" or "<method>-<size>" such as "bilinear-299" (the engine never resizes: it feeds
  input_size, or any size when that is null), "feature_dim", "logit_classes" (0 without
  `logits`), "class_names" (null when the classes have no names), "source": {"file", "sha256"}
  (what the graph was exported from), "real_data": {"test_accuracy", "fd_train_vs_test",
  "route", "protocol"} (the figures real data scores, computed as the engine feeds images)}.
- Standard ONNX ops at opset 17 that onnxruntime(-node) 1.2x runs on the CPU: Constant, Clip, Div, Sub,
  Conv (BatchNorm folded in), Relu, MaxPool, GlobalAveragePool, Flatten, Gemm.

`export_classifier` writes the file all or nothing (export.StagedOutput) and checks it with
onnxruntime against PyTorch on real test images before it is renamed into place.
"""
from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import time
from typing import Any, Callable, Dict, Optional

import numpy as np
import onnx
import torch
import torch.nn as nn

from .data import FASHION_MNIST_CLASSES, load_fashion_mnist
from .evaluate import FMNISTClassifier, load_classifier, real_reference
from .export import OPSET, StagedOutput, run_onnxruntime

Progress = Optional[Callable[[str], None]]

FORMAT_VERSION = 1
METADATA_KEY = "pmf_feature_net"
INPUT = "images"
OUTPUTS = ("features", "logits")
ALLOWED_OPS = frozenset({"Constant", "Clip", "Div", "Sub", "Conv", "Relu", "MaxPool", "GlobalAveragePool",
                         "Flatten", "Gemm"})
REAL_DATA_ROUTE = "uint8"
REAL_DATA_PROTOCOL = ("test_accuracy: the 10,000 test images; fd_train_vs_test: Frechet distance "
                      "in `features` between 10,000 training images (the first 10,000 of "
                      "torch.randperm(60000) seeded 0) and the 10,000 test images "
                      "(pmf_trainer.evaluate.real_reference)")
# The parity check: onnxruntime against PyTorch on the first VERIFY_N test images.
VERIFY_N = 512
MAX_REL_L2 = 1e-5
MAX_ABS_REL = 1e-4   # largest |difference| over the largest |value| of the output


class FeatureNet(nn.Module):
    """What the ONNX graph computes: uint8 levels in, (features, logits) out."""

    def __init__(self, classifier: FMNISTClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor):
        x = images.clamp(0, 255) / 127.5 - 1.0
        f = self.classifier.features(x)
        return f, self.classifier.head(f)


def to_levels(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] to the uint8 levels 0..255 (as float32) the engine feeds."""
    return torch.round(torch.clamp((x + 1) / 2, 0, 1) * 255)


class _Uint8Route(nn.Module):
    """The classifier as the engine runs it, for evaluate.real_reference: images in [-1, 1]
    are quantised to uint8 levels and go through the exported graph's function."""

    def __init__(self, net: FeatureNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(to_levels(x))[1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(to_levels(x))[0]


def real_data_figures(classifier: FMNISTClassifier) -> Dict[str, Any]:
    """evaluate.real_reference through the uint8 route (about a minute on one CPU thread)."""
    ref = real_reference(_Uint8Route(FeatureNet(classifier).eval()).eval())
    return {"test_accuracy": round(ref["test_accuracy"], 6), "fd_train_vs_test": ref["fd_train_vs_test"],
            "route": REAL_DATA_ROUTE, "protocol": REAL_DATA_PROTOCOL}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_metadata(classifier_path: str, real_data: Dict[str, Any]) -> Dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "name": "fashion-mnist-classifier", "channels": 1,
            "input_size": [28, 28], "resize": "none", "feature_dim": FMNISTClassifier.feature_dim,
            "logit_classes": len(FASHION_MNIST_CLASSES), "class_names": list(FASHION_MNIST_CLASSES),
            "source": {"file": os.path.basename(classifier_path), "sha256": sha256_file(classifier_path)},
            "real_data": real_data}


def read_metadata(model: onnx.ModelProto) -> Dict[str, Any]:
    """The `pmf_feature_net` JSON of a loaded feature network."""
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            return json.loads(p.value)
    raise ValueError(f"no {METADATA_KEY} metadata: not a pMF feature network")


def to_onnx(net: FeatureNet, metadata: Dict[str, Any]) -> onnx.ModelProto:
    """Trace the feature network (eval mode: BatchNorm folds into the convolutions)."""
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch >= 2.9 defaults to the dynamo exporter; keep one path
    buf = io.BytesIO()
    example = torch.zeros(2, metadata["channels"], *metadata["input_size"])
    with torch.no_grad():
        torch.onnx.export(net.eval(), (example,), buf, input_names=[INPUT], output_names=list(OUTPUTS),
                          dynamic_axes={n: {0: "N"} for n in (INPUT,) + OUTPUTS},
                          opset_version=OPSET, do_constant_folding=True, **kwargs)
    m = onnx.load_from_string(buf.getvalue())
    ops = {n.op_type for n in m.graph.node}
    if not ops <= ALLOWED_OPS:
        raise RuntimeError(f"the exported graph uses {sorted(ops - ALLOWED_OPS)}, outside the "
                           f"feature-network op set {sorted(ALLOWED_OPS)}")
    del m.metadata_props[:]
    p = m.metadata_props.add()
    p.key, p.value = METADATA_KEY, json.dumps(metadata)
    m.producer_name = "pmf_trainer.feature_net"
    m.doc_string = (f"pMF Lab feature network {metadata['name']}: input `images` float32 [N, C, H, W] "
                    "holding uint8 levels 0..255; outputs `features` [N, D] and `logits` [N, K]. "
                    f"See the {METADATA_KEY} metadata and docs/evaluation.md.")
    onnx.checker.check_model(m)
    return m


def reference_images(n: int = VERIFY_N) -> np.ndarray:
    """The first n Fashion-MNIST test images as uint8 levels (float32 [n, 1, 28, 28])."""
    return to_levels(load_fashion_mnist("test").x[:n]).numpy()


def parity(path: str, net: FeatureNet, images: np.ndarray) -> Dict[str, Any]:
    """onnxruntime's outputs of the model at `path` against PyTorch's on `images`."""
    with torch.no_grad():
        ref = dict(zip(OUTPUTS, (t.double().numpy() for t in net(torch.from_numpy(images)))))
    got = run_onnxruntime(path, {INPUT: images})
    res: Dict[str, Any] = {"images": int(images.shape[0])}
    for name in OUTPUTS:
        g, r = got[name].astype(np.float64), ref[name]
        if g.shape != r.shape:
            raise RuntimeError(f"onnxruntime's `{name}` has shape {list(g.shape)}, PyTorch's {list(r.shape)}")
        d = np.abs(g - r)
        res[name] = {"max_abs_diff": float(d.max()),
                     "max_abs_rel": float(d.max() / max(np.abs(r).max(), 1e-30)),
                     "rel_l2": float(np.linalg.norm(g - r) / max(np.linalg.norm(r), 1e-30))}
        if not np.isfinite(g).all():
            res[name]["max_abs_diff"] = res[name]["max_abs_rel"] = res[name]["rel_l2"] = float("inf")
    res["argmax_agreement"] = float((got["logits"].argmax(1) == ref["logits"].argmax(1)).mean())
    return res


def _check_parity(res: Dict[str, Any]) -> None:
    for name in OUTPUTS:
        r = res[name]
        if not (r["rel_l2"] <= MAX_REL_L2 and r["max_abs_rel"] <= MAX_ABS_REL):
            raise RuntimeError(f"the exported `{name}` differs from PyTorch's: relative L2 {r['rel_l2']:.2e} "
                               f"(limit {MAX_REL_L2:.0e}), largest difference {r['max_abs_rel']:.2e} of the "
                               f"largest value (limit {MAX_ABS_REL:.0e}); nothing written")


def export_classifier(classifier_path: str, out: str, *, real_data: Optional[Dict[str, Any]] = None,
                      verify_images: Optional[np.ndarray] = None, progress: Progress = None) -> Dict[str, Any]:
    """Export the Fashion-MNIST evaluation classifier as a feature network and verify it.

    real_data: the `real_data` metadata; None computes it (real_data_figures, about a minute).
    verify_images: uint8 levels [n, 1, 28, 28] for the parity check; None takes the first
    VERIFY_N test images. The file appears only once it has passed the check."""
    say = progress or (lambda msg: None)
    net = FeatureNet(load_classifier(classifier_path)).eval()
    if real_data is None:
        say("computing the real-data figures through the uint8 route (10k train vs 10k test)")
        t0 = time.time()
        real_data = real_data_figures(net.classifier)
        say(f"  test accuracy {real_data['test_accuracy']:.4f}, FD train vs test "
            f"{real_data['fd_train_vs_test']:.4f} ({time.time() - t0:.0f} s)")
    metadata = build_metadata(classifier_path, real_data)
    if verify_images is None:
        verify_images = reference_images()
    with StagedOutput(out, progress) as st:
        say("exporting the graph")
        onnx.save(to_onnx(net, metadata), st.onnx)
        say(f"checking it with onnxruntime against PyTorch on {verify_images.shape[0]} images")
        check = parity(st.onnx, net, np.ascontiguousarray(verify_images, dtype=np.float32))
        # a batch of one too: the batch axis is dynamic
        check["batch_1"] = parity(st.onnx, net, np.ascontiguousarray(verify_images[:1], dtype=np.float32))
        _check_parity(check)
        _check_parity(check["batch_1"])
        st.commit()
    return {"onnx": out, "bytes": os.path.getsize(out), "sha256": sha256_file(out),
            "verification": check, "metadata": metadata}
