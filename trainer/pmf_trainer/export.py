"""Export to the pMF checkpoint format (docs/checkpoint-format.md, version 1).

An ONNX graph whose inputs are named after the paper (z, t, h, y, omega, t_min, t_max;
a model declares only those it uses) and whose single output is the raw network
prediction, named `x` or `u` (a flow-matching model: `x` or `v`, inputs without `h`), plus
`pmf.*` metadata_props. Field conversions stay out
of the graph: the runtime does them.
"""
from __future__ import annotations

import contextlib
import ctypes
import inspect
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from .config import DiTConfig, MLPConfig
from .fused import MS_DOMAIN, fuse_for_onnx
from .model_dit import PmfDiT
from .models import count_params
from .quantize import to_int8

FORMAT_VERSION = 1
OPSET = 17
INPUT_ORDER = ("z", "t", "h", "y", "omega", "t_min", "t_max")
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORT_RUN = os.path.join(REPO_ROOT, "trainer", "tools", "ort_run.mjs")


def declared_inputs(model_cfg) -> List[str]:
    """The contract inputs a model uses, in canonical order."""
    flow = model_cfg.model_type == "flow-matching"  # a network of (z, t): no r, so no h
    if isinstance(model_cfg, MLPConfig):
        return ["z", "t"] if flow else ["z", "t", "h"]
    # the MeanFlow transformer conditions on h only (t is used by the runtime); flow matching on t
    names = ["z", "t" if flow else "h"]
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
        return self.net(a["z"], a.get("t"), a.get("h"), a.get("omega"), a.get("t_min"), a.get("t_max"), a.get("y"))


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
                   embedding: Optional[np.ndarray] = None,
                   two_pass_guidance: Optional[bool] = None) -> Dict[str, str]:
    """The pmf.* metadata. two_pass_guidance (flow-matching models): declare pmf.guidance
    "two-pass"; None: whenever the model is class-conditional without CFG inputs (trained
    with label dropout, as the flow-matching presets are)."""
    is_toy = isinstance(model_cfg, MLPConfig)
    num_classes = 0 if is_toy else model_cfg.num_classes
    flow = model_cfg.model_type == "flow-matching"
    sampling = dict(sampling or {"steps": 1, "omega": 1.0, "t_min": 0.0, "t_max": 1.0})
    if not flow:
        sampling.pop("solver", None)  # MeanFlow sampling has no solver
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
        "pmf.default_sampling": sampling,
        "pmf.architecture": architecture_summary(model_cfg, net),
        "pmf.training": training or {},
    }
    if flow:
        meta["pmf.model_type"] = "flow-matching"
        cfg_inputs = getattr(model_cfg, "cfg_inputs", False)
        two_pass = num_classes > 0 and not cfg_inputs if two_pass_guidance is None else two_pass_guidance
        if two_pass and (num_classes == 0 or cfg_inputs):
            raise ValueError("two-pass guidance needs a class-conditional model without CFG inputs")
        if two_pass:
            meta["pmf.guidance"] = "two-pass"
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


Progress = Optional[Callable[[str], None]]


def stderr_progress(prefix: str) -> Callable[[str], None]:
    """Progress lines on stderr: `prefix: [  12.3 s] message`."""
    t0 = time.monotonic()

    def say(msg: str) -> None:
        print(f"{prefix}: [{time.monotonic() - t0:7.1f} s] {msg}", file=sys.stderr, flush=True)
    return say


def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def export_onnx(net: nn.Module, model_cfg, path: str, metadata: Dict[str, str], *,
                external_data: Optional[bool] = None, dtype: str = "float32",
                progress: Progress = None) -> List[str]:
    """Write the ONNX file (and, with external data, its weights file beside it), all or
    nothing; returns the declared input names. See write_onnx for external_data and dtype."""
    with StagedOutput(path, progress) as st:
        raw, inputs = torch_export(net, model_cfg, st.scratch, progress, fused=dtype != "float16")
        write_onnx(raw, st.onnx, metadata, inputs, external_data=external_data, dtype=dtype, progress=progress)
        st.commit()
    return inputs


# -- writing a model: staging, torch export, external data, float16 ---------------------------

PROTOBUF_LIMIT = 2 ** 31 - 1          # what one serialized ModelProto may hold
INLINE_LIMIT = PROTOBUF_LIMIT - (128 << 20)  # weights above this go to an external-data file
EXTERNAL_MIN_BYTES = 1024             # smaller tensors stay inside the .onnx (onnx's own default)
ALIGN = 4096                          # offset of every tensor in the weights file (a page)
DTYPES = ("float32", "float16", "int8")


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived while a model was being written (SIGINT raises KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def weights_file_name(onnx_path: str) -> str:
    """The external-data file of a model: its file name plus `.data`, in the same folder."""
    return os.path.basename(onnx_path) + ".data"


def _malloc_trim() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class StagedOutput:
    """Writes `path` and its weights file all or nothing.

    Everything is written in a temporary folder beside `path` (`.NAME.partial-XXXX`, on the same
    file system); `commit()` renames the weights file into place first and the .onnx last, so a
    present .onnx always has its weights. Leaving the block without commit() (an error, Ctrl-C,
    SIGTERM, SIGHUP) removes the folder: nothing new is left behind. SIGTERM and SIGHUP raise
    `Interrupted` while the block runs (in the main thread); Python takes a signal when the
    current step returns to the interpreter, so Ctrl-C during torch.onnx.export waits for it.
    """

    def __init__(self, path: str, progress: Progress = None):
        self.final = os.path.abspath(path)
        self.folder, self.name = os.path.split(self.final)
        self.final_data = os.path.join(self.folder, weights_file_name(self.final))
        self.progress = progress
        self.dir = self.onnx = self.data = self.scratch = None
        self._created_folder = False
        self._old_handlers: Dict[int, Any] = {}

    def __enter__(self) -> "StagedOutput":
        if os.path.isdir(self.final):
            raise ValueError(f"{self.final} is a folder; give the path of the .onnx file to write")
        if not os.path.isdir(self.folder):
            os.makedirs(self.folder)
            self._created_folder = True
        self.dir = tempfile.mkdtemp(prefix=f".{self.name}.partial-", dir=self.folder)
        self.onnx = os.path.join(self.dir, self.name)
        self.data = os.path.join(self.dir, weights_file_name(self.final))
        self.scratch = os.path.join(self.dir, "torch-export")
        os.mkdir(self.scratch)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    @staticmethod
    def _on_signal(signum, frame):
        raise Interrupted(signum)

    def commit(self) -> None:
        """Move the staged files into place: weights first, then the .onnx."""
        has_data = os.path.exists(self.data)
        if os.path.lexists(self.final):  # the old model goes first, so it never meets the new weights
            os.replace(self.final, os.path.join(self.dir, "previous.onnx"))
            if not has_data and os.path.exists(self.final_data):
                os.remove(self.final_data)  # the old model's weights (this file's name says so)
        if has_data:
            _fsync(self.data)
            os.replace(self.data, self.final_data)
        _fsync(self.onnx)
        os.replace(self.onnx, self.final)
        self._created_folder = False

    def __exit__(self, et, ev, tb) -> bool:
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        self._old_handlers.clear()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self._created_folder:
            with contextlib.suppress(OSError):
                os.rmdir(self.folder)
        if et is not None and issubclass(et, KeyboardInterrupt):
            _say(self.progress, "interrupted: removed the partial output, nothing written")
        elif et is not None:
            _say(self.progress, "failed: removed the partial output, nothing written")
        return False


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _tracer_does_not_clone_parameters(net: nn.Module) -> Iterator[None]:
    """PyTorch 1.13's tracer clones every input and parameter before it traces
    (torch/jit/_trace.py, ONNXTracedModule.forward: `ret_inputs`, which torch.onnx.export never
    reads; PyTorch 2.x clones only when asked): a second full copy of the weights. Inside that
    one expression, a parameter's or buffer's clone is the tensor itself."""
    real = torch.Tensor.clone
    ids = {id(t) for t in net.parameters()} | {id(t) for t in net.buffers()}

    def clone(self, *args, **kwargs):
        if id(self) in ids:
            caller = sys._getframe(1).f_code
            if caller.co_name == "<genexpr>" and caller.co_filename.replace("\\", "/").endswith("torch/jit/_trace.py"):
                return self
        return real(self, *args, **kwargs)

    torch.Tensor.clone = clone
    try:
        yield
    finally:
        torch.Tensor.clone = real


@contextlib.contextmanager
def _shape_inference_without_weights() -> Iterator[None]:
    """torch.onnx.export's graph-wide ONNX shape inference, given the parameters, turns every
    node that reads one into a one-node ONNX model holding that weight and keeps the constants it
    computes from them (the transposed Linear weights): about 0.7x the weights more memory
    (measured at B/16). The parameters' shapes and types are in the traced graph already; without
    their values the exported file is byte-identical (checked with PyTorch 1.13 at B/16 and with
    PyTorch 1.13 and 2.6 on the test model)."""
    name = "_jit_pass_onnx_graph_shape_type_inference"
    real = getattr(torch._C, name, None)
    if real is None:
        yield
        return

    def infer(graph, params_dict, *args, **kwargs):
        return real(graph, {}, *args, **kwargs)

    setattr(torch._C, name, infer)
    try:
        yield
    finally:
        setattr(torch._C, name, real)


def _large_allocations_from_mmap() -> None:
    """glibc serves allocations under a threshold that grows up to 32 MB from its heap and keeps
    what is freed there; the exporter's many weight-sized temporaries then pile up. A fixed 1 MiB
    threshold gives each large block back to the system when it is freed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD


def torch_export(net: nn.Module, model_cfg, folder: str, progress: Progress = None, *,
                 fused: bool = False) -> Tuple[str, List[str]]:
    """torch.onnx.export into `folder` (PyTorch writes loose tensor files there for models over
    2 GB). Returns the graph file and the declared inputs. Memory: one copy of the weights (the
    model's) and the activations of one traced forward; see the three helpers above.
    fused: a transformer is exported in its fused form (fused.py; changes `net` in place)."""
    inputs = declared_inputs(model_cfg)
    custom_opsets = {}
    if fused and isinstance(net, PmfDiT):
        _say(progress, "fusing RMSNorm, attention, RoPE and the q/k/v and SwiGLU projections for onnxruntime")
        fuse_for_onnx(net)
        custom_opsets = {MS_DOMAIN: 1}
    wrapper = ContractWrapper(net, inputs).eval()
    ex = example_inputs(model_cfg, 2)
    args = tuple(ex[n] for n in inputs)
    raw = os.path.join(folder, "graph.onnx")
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch >= 2.9 defaults to the dynamo exporter; keep one path
    _large_allocations_from_mmap()
    _say(progress, "exporting the graph (torch.onnx.export: traces the model, then writes it; "
                   "no progress inside this step)")
    with torch.no_grad(), _tracer_does_not_clone_parameters(net), _shape_inference_without_weights(), \
            warnings.catch_warnings():
        # the symbolic of fused.py's MultiHeadAttention gives its output type; PyTorch still warns
        warnings.filterwarnings("ignore", message="The shape inference of com.microsoft::")
        torch.onnx.export(wrapper, args, raw, input_names=inputs, output_names=[model_cfg.prediction],
                          dynamic_axes={n: {0: "N"} for n in inputs + [model_cfg.prediction]},
                          opset_version=OPSET, do_constant_folding=True, custom_opsets=custom_opsets, **kwargs)
    del wrapper
    _malloc_trim()
    return raw, inputs


def _graph_tensors(g: onnx.GraphProto, initializers: bool = True) -> Iterator[onnx.TensorProto]:
    """Initializers (unless initializers=False) and attribute tensors (Constant values ...),
    subgraphs included."""
    if initializers:
        yield from g.initializer
    for n in g.node:
        for a in n.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("g"):
                yield from _graph_tensors(a.g)
            for sg in a.graphs:
                yield from _graph_tensors(sg)


_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")


def _np_dtype(data_type: int) -> np.dtype:
    if hasattr(helper, "tensor_dtype_to_np_dtype"):  # onnx >= 1.13
        return np.dtype(helper.tensor_dtype_to_np_dtype(data_type))
    return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[data_type])


def _nbytes(t: onnx.TensorProto) -> Optional[int]:
    """Bytes of a numeric tensor's data; None for strings."""
    if t.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        return None
    return int(np.prod(t.dims, dtype=np.int64)) * _np_dtype(t.data_type).itemsize


class _Source:
    """Reads tensor bytes from the raw export: inline fields, or PyTorch's loose tensor files
    (each removed once its last tensor is read, so the disk holds the weights about once)."""

    def __init__(self, folder: str, tensors: List[onnx.TensorProto], consume: bool = True):
        self.folder = os.path.realpath(folder)
        self.consume = consume
        self.refs: Dict[str, int] = defaultdict(int)
        for t in tensors:
            if t.data_location == TensorProto.EXTERNAL:
                self.refs[self._info(t)[0]] += 1

    def _info(self, t) -> Tuple[str, int, Optional[int]]:
        info = {e.key: e.value for e in t.external_data}
        path = os.path.realpath(os.path.join(self.folder, info["location"]))
        if os.path.dirname(path) != self.folder:
            raise RuntimeError(f"tensor {t.name}: external data outside the export folder ({info['location']})")
        length = info.get("length")
        return path, int(info.get("offset", 0) or 0), int(length) if length else None

    def read(self, t: onnx.TensorProto) -> bytes:
        want = _nbytes(t)
        if t.data_location == TensorProto.EXTERNAL:
            path, off, length = self._info(t)
            with open(path, "rb") as f:
                f.seek(off)
                data = f.read(length if length is not None else -1)
            self.refs[path] -= 1
            if self.refs[path] == 0 and self.consume:
                os.remove(path)
        elif t.HasField("raw_data"):
            data = t.raw_data
        else:
            data = numpy_helper.to_array(t).tobytes()
        if want is not None and len(data) != want:
            raise RuntimeError(f"tensor {t.name}: {len(data)} bytes, expected {want}")
        return data


def _half_bytes(name: str, data: bytes) -> bytes:
    a = np.frombuffer(data, dtype="<f4")
    with np.errstate(over="ignore"):
        h = a.astype("<f2")
    if np.isfinite(a).all() and not np.isfinite(h).all():
        raise ValueError(f"tensor {name} holds values beyond float16's range (largest |value| "
                         f"{float(np.abs(a).max()):.4g} > 65504); keep --dtype float32")
    return h.tobytes()


def _set_inline(t: onnx.TensorProto, data: bytes) -> None:
    for f in _TYPED_FIELDS:
        t.ClearField(f)
    del t.external_data[:]
    t.data_location = TensorProto.DEFAULT
    t.raw_data = data


def write_onnx(raw: str, dest: str, metadata: Dict[str, str], inputs: List[str], *,
               external_data: Optional[bool] = None, dtype: str = "float32",
               progress: Progress = None, consume_source: bool = True,
               smoothing: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, Any]:
    """Turn torch.onnx.export's output `raw` into the pMF file `dest` (a staged path).

    external_data: True writes the tensors of 1 KiB and more into ONE file beside `dest`
    (weights_file_name: `NAME.onnx.data`), as the ONNX external-data spec describes
    (data_location EXTERNAL, location = that plain file name, offset aligned to 4096, length);
    None (the default) does so only when the weights would not fit in one 2 GB protobuf (judged
    at float32, as PyTorch exported them: H/16 and H/32 keep external data at float16 too).
    dtype "float16" stores the weights and computes in float16 (see to_float16); inputs and
    the output stay float32. dtype "int8" stores the MatMul weights as int8 (quantize.py).
    The tensors are streamed one at a time. consume_source: `raw`'s folder is PyTorch's scratch
    output, removed as it is copied; False leaves it (an existing model read as the source).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    m = onnx.load(raw, load_external_data=False)
    graph_inputs = [i.name for i in m.graph.input]
    if graph_inputs != inputs:
        raise RuntimeError(f"exported graph declares inputs {graph_inputs}, expected {inputs}")
    src_dir = os.path.dirname(os.path.abspath(raw))

    def numeric_tensors(model: onnx.ModelProto) -> List[Tuple[onnx.TensorProto, bool]]:
        """(tensor, is an initializer) for every numeric tensor of the model."""
        out = [(t, True) for t in model.graph.initializer]
        out += [(t, False) for t in _graph_tensors(model.graph, initializers=False)]
        return [(t, init) for t, init in out if _nbytes(t) is not None]

    src = _Source(src_dir, [t for t, _ in numeric_tensors(m)], consume=consume_source)
    half: Set[str] = set()
    quantized: Optional[Dict[str, int]] = None
    if dtype == "float16":
        _say(progress, "rewriting the graph for float16 (float32 inputs and output, RMSNorm statistics in float32)")
        half = to_float16(m, src)
    elif dtype == "int8":
        _say(progress, "quantizing the MatMul weights to int8 (one scale per output column; DynamicQuantizeMatMul)")
        quantized = to_int8(m, src.read, smoothing)
    tensors = numeric_tensors(m)
    final_size = [(_nbytes(t) // 2 if init and t.name in half else _nbytes(t)) for t, init in tensors]
    total = sum(final_size)
    # PyTorch wrote loose tensor files when the float32 model passed 2 GB: such a model keeps its
    # weights outside (also at float16), so they are never all in memory at once.
    raw_external = any(t.data_location == TensorProto.EXTERNAL for t, _ in tensors)
    external = external_data if external_data is not None else (total > INLINE_LIMIT or raw_external)
    if not external and total > INLINE_LIMIT:
        raise ValueError(f"the weights ({total / 1e9:.2f} GB) do not fit in one ONNX file (2 GB protobuf limit): "
                         "write them as external data")
    data_name = weights_file_name(dest)
    data_path = os.path.join(os.path.dirname(dest), data_name)
    written, step = 0, max(total // 10, 64 << 20)
    next_report = step
    _say(progress, f"writing weights ({total / 1e6:.0f} MB{' into ' + data_name if external else ''})")
    f = open(data_path, "wb") if external else None
    try:
        for (t, init), size in zip(tensors, final_size):
            to_half = init and t.name in half
            goes_out = external and size >= EXTERNAL_MIN_BYTES
            if not (goes_out or to_half or t.data_location == TensorProto.EXTERNAL):
                continue  # stays inline as it is
            data = src.read(t)
            if to_half:
                data = _half_bytes(t.name, data)
                t.data_type = TensorProto.FLOAT16
            if goes_out:
                f.write(b"\0" * ((-f.tell()) % ALIGN))
                offset = f.tell()
                f.write(data)
                for fld in _TYPED_FIELDS + ("raw_data",):
                    t.ClearField(fld)
                del t.external_data[:]
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(data)))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
            else:
                _set_inline(t, data)
            written += len(data)
            del data
            if written >= next_report or written == total:
                _say(progress, f"writing weights {written / 1e6:.0f} of {total / 1e6:.0f} MB")
                next_report = written + step
    finally:
        if f is not None:
            f.close()
    if consume_source:
        shutil.rmtree(src_dir, ignore_errors=True)  # PyTorch's loose files and graph, now copied
    del m.metadata_props[:]
    for k, v in metadata.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.producer_name = "pmf-lab-trainer"
    m.doc_string = metadata.get("pmf.description", "")
    if m.ByteSize() > PROTOBUF_LIMIT:
        raise ValueError("the model does not fit in one ONNX file: write it with external data")
    with open(dest, "wb") as out:
        out.write(m.SerializeToString())
    del m
    _malloc_trim()
    onnx.checker.check_model(dest)  # by path: checks that external data stays in the model's folder
    return {"external_data": bool(external), "weights": data_path if external else None,
            "onnx_bytes": os.path.getsize(dest), "weights_bytes": os.path.getsize(data_path) if external else 0,
            "tensor_bytes": total, "dtype": dtype, "quantized": quantized}


_FLOAT, _HALF = TensorProto.FLOAT, TensorProto.FLOAT16


def _fp32_islands(nodes) -> Set[int]:
    """Nodes kept in float32 in a float16 graph: the statistics of every RMSNorm,
    Mul(x, x) -> ReduceMean -> Add(eps) -> Sqrt -> Div(1, .) (or Reciprocal). x * x
    overflows float16 once |x| passes 256, which the residual stream of a large model can."""
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}
    consumers: Dict[str, List[int]] = defaultdict(list)
    for i, n in enumerate(nodes):
        for x in n.input:
            consumers[x].append(i)
    constant = {n.output[0] for n in nodes if n.op_type == "Constant"}
    island: Set[int] = set()
    for i, n in enumerate(nodes):
        if n.op_type != "ReduceMean":
            continue
        p = producer.get(n.input[0])
        if p is None or nodes[p].op_type != "Mul" or nodes[p].input[0] != nodes[p].input[1]:
            continue
        chain, cur = [p, i], i
        while True:
            nxt = consumers.get(nodes[cur].output[0], [])
            if len(nxt) != 1 or nodes[nxt[0]].op_type not in ("Add", "Sqrt", "Div", "Reciprocal"):
                break
            c = nodes[nxt[0]]
            if any(x != nodes[cur].output[0] and x not in constant for x in c.input):
                break
            chain.append(nxt[0])
            cur = nxt[0]
            if c.op_type in ("Div", "Reciprocal"):
                break
        island.update(chain)
    return island


def to_float16(m: onnx.ModelProto, src: "_Source") -> Set[str]:
    """Rewrite m's graph to hold its weights and compute in float16, keeping the pMF contract's
    float32 inputs and output (docs/checkpoint-format.md): a Cast to float16 after each float32
    input, a Cast to float32 before the output. The RMSNorm statistics stay float32
    (_fp32_islands). Constant values are converted here; returns the names of the float32
    initializers the caller converts while it streams them."""
    g = m.graph
    for n in g.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in n.attribute):
            raise ValueError(f"float16: node {n.name} ({n.op_type}) has a subgraph, which this converter does not handle")
    nodes = list(g.node)
    island = _fp32_islands(nodes)
    consumers: Dict[str, List[int]] = defaultdict(list)
    for i, n in enumerate(nodes):
        for x in n.input:
            consumers[x].append(i)
    used = {x for n in nodes for x in list(n.input) + list(n.output)} | {i.name for i in g.input}

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    def only_island(x: str) -> bool:
        return bool(consumers[x]) and all(c in island for c in consumers[x])

    float_inputs = {i.name for i in g.input if i.type.tensor_type.elem_type == _FLOAT}
    init_names = {t.name for t in g.initializer}
    half = {t.name for t in g.initializer if t.data_type == _FLOAT and not only_island(t.name)}
    for i in g.input:  # initializers listed as inputs (keep_initializers_as_inputs)
        if i.name in half:
            i.type.tensor_type.elem_type = _HALF
    kept32 = {t.name for t in g.initializer if t.data_type == _FLOAT and t.name not in half}
    const32 = {n.output[0] for n in nodes if n.op_type == "Constant" and only_island(n.output[0])}
    out_float = {o.name for o in g.output if o.type.tensor_type.elem_type == _FLOAT}

    def cast(x: str, y: str, to: int, why: str) -> onnx.NodeProto:
        return helper.make_node("Cast", [x], [y], name=fresh(f"/pmf_fp16/{why}"), to=to)

    new: List[onnx.NodeProto] = []
    in16: Dict[str, str] = {}          # float32 graph input -> its float16 copy
    for x in sorted(float_inputs - init_names):
        if any(c not in island for c in consumers[x]):
            in16[x] = fresh(f"{x}/fp16")
            new.append(cast(x, in16[x], _HALF, f"input_{x}"))
    to32: Dict[str, str] = {}          # float16 tensor -> its float32 copy, for island nodes
    island_out: Dict[str, str] = {}    # island output -> its float32 name
    for i, n in enumerate(nodes):
        if i in island:
            for k, x in enumerate(n.input):
                if x in island_out:
                    n.input[k] = island_out[x]
                elif x in float_inputs or x in kept32 or x in const32:
                    continue  # float32 already
                else:
                    if x not in to32:
                        to32[x] = fresh(f"{x}/fp32")
                        new.append(cast(x, to32[x], _FLOAT, "to_fp32"))
                    n.input[k] = to32[x]
            outs = []
            for k, y in enumerate(n.output):
                if any(c not in island for c in consumers[y]) or y in out_float:
                    y32 = fresh(f"{y}/fp32")
                    island_out[y] = y32
                    n.output[k] = y32
                    if y in out_float:  # an output in float32 already; float16 users get a copy
                        outs.append(helper.make_node("Identity", [y32], [y], name=fresh("/pmf_fp16/output")))
                    else:
                        outs.append(cast(y32, y, _HALF, "to_fp16"))
                else:
                    island_out[y] = y
            new.append(n)
            new.extend(outs)
            continue
        for k, x in enumerate(n.input):
            if x in in16:
                n.input[k] = in16[x]
        if n.op_type == "Constant" and not only_island(n.output[0]):
            _constant_to_half(n, src)
        for a in n.attribute:
            if a.name in ("to", "dtype") and a.type == onnx.AttributeProto.INT and a.i == _FLOAT:
                a.i = _HALF
            if n.op_type == "ConstantOfShape" and a.name == "value" and a.t.data_type == _FLOAT:
                _tensor_to_half(a.t, src)
        outs = []
        for k, y in enumerate(n.output):
            if y in out_float:
                y16 = fresh(f"{y}/fp16")
                n.output[k] = y16
                outs.append(cast(y16, y, _FLOAT, "output"))
                for c in consumers[y]:  # other readers of the output read the float16 copy
                    if c != i:
                        nodes[c].input[:] = [y16 if z == y else z for z in nodes[c].input]
        new.append(n)
        new.extend(outs)
    del g.node[:]
    g.node.extend(new)
    del g.value_info[:]  # types changed; runtimes infer them again
    return half


def _tensor_to_half(t: onnx.TensorProto, src: "_Source") -> None:
    data = _half_bytes(t.name or "constant", src.read(t))
    t.data_type = _HALF
    _set_inline(t, data)


def _constant_to_half(n: onnx.NodeProto, src: "_Source") -> None:
    """A Constant node's float32 value (tensor, value_float or value_floats) as float16."""
    for a in list(n.attribute):
        if a.name == "value" and a.t.data_type == _FLOAT:
            _tensor_to_half(a.t, src)
        elif a.name in ("value_float", "value_floats"):
            vals = np.asarray(a.f if a.name == "value_float" else list(a.floats), dtype=np.float32)
            n.attribute.remove(a)
            n.attribute.append(helper.make_attribute("value", numpy_helper.from_array(vals.astype(np.float16))))


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


def reference_outputs(net: nn.Module, model_cfg, n: int = 4, seed: int = 1) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Random contract inputs (example_inputs) and PyTorch's output on them."""
    inputs = declared_inputs(model_cfg)
    ex = example_inputs(model_cfg, n, seed)
    with torch.no_grad():
        ref = ContractWrapper(net, inputs).eval()(*(ex[k] for k in inputs)).float().numpy()
    return {k: ex[k].numpy() for k in inputs}, ref


def parity(path: str, feeds: Dict[str, np.ndarray], ref: np.ndarray, output: str) -> Dict[str, float]:
    """onnxruntime's output of the model at `path` (external data is found beside it) against
    `ref`: the largest absolute difference and the relative L2 distance ||got - ref|| / ||ref||."""
    got = run_onnxruntime(path, feeds)[output]
    if got.shape != ref.shape:
        raise AssertionError(f"ONNX output shape {got.shape} != PyTorch {ref.shape}")
    diff = got.astype(np.float64) - ref.astype(np.float64)
    if not np.isfinite(got).all():
        return {"max_abs_diff": float("inf"), "rel_l2": float("inf")}
    return {"max_abs_diff": float(np.abs(diff).max()),
            "rel_l2": float(np.linalg.norm(diff) / max(np.linalg.norm(ref.astype(np.float64)), 1e-30))}


def verify_export(path: str, net: nn.Module, model_cfg, n: int = 4, seed: int = 1) -> float:
    """Max abs difference between PyTorch and onnxruntime on random contract inputs."""
    feeds, ref = reference_outputs(net, model_cfg, n, seed)
    return parity(path, feeds, ref, model_cfg.prediction)["max_abs_diff"]


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
