"""Writes the small checkpoint files that test pMF: Inspect Checkpoint (test/core/inspect.test.ts),
and expected.json beside them: for every tensor its name, dtype, shape, where its bytes lie (found
here with Python's own zipfile module, independently of the TypeScript reader) and numpy's
statistics of its values. Seeded; each file is at most a few tens of KB. Rerunning gives the same
files except legacy.pt, whose storage keys are memory addresses (the values stay the same).

    PYTHONPATH=trainer /usr/bin/python3 trainer/tools/make_inspect_fixtures.py test/fixtures/checkpoints

Files:
  tensors.safetensors   written by hand per the safetensors spec: F32, F16, BF16, I64, U8, BOOL, __metadata__
  pmfdit.pt             a tiny pmfDiT saved by publish.save_pytorch (state dict + model_config_json)
  official-tiny.pt      random tensors under the official pMF key names (test_official.official_state_dict)
  official-tiny.onnx    official-tiny.pt converted by convert-official (for comparisons; not in expected.json)
  training.pt           a toy-MLP training checkpoint like train.py's: model, optimizer, EMA, generator state, run
  malicious.pt          a dict with a tensor and an object whose __reduce__ is os.system('touch pwned')
  legacy.pt             torch.save(..., _use_new_zipfile_serialization=False)
  views.pt              a transposed view (non-contiguous), slices that share one storage (storage offsets), a Parameter
  scripted.pt           a TorchScript archive (torch.jit.save)
  numpy.pkl             a plain pickle (not torch.save) holding a numpy array
  truncated.pt          the first 60 % of pmfdit.pt
"""
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # test_official's helper

from pmf_trainer.config import DiTConfig, LossConfig, MLPConfig, SamplingConfig, TrainConfig  # noqa: E402
from pmf_trainer.model_dit import PmfDiT  # noqa: E402
from pmf_trainer.model_mlp import ToyMLP  # noqa: E402
from pmf_trainer.official import infer_config  # noqa: E402
from pmf_trainer.optim import EMA, CombinedOptimizer  # noqa: E402
from pmf_trainer.publish import save_pytorch  # noqa: E402
from pmf_trainer.train import RunConfig  # noqa: E402
from test_official import official_state_dict  # noqa: E402

DTYPE_NAMES = {
    torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float64: "float64",
    torch.int64: "int64", torch.int32: "int32", torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
    torch.bool: "bool", torch.complex64: "complex64", torch.complex128: "complex128",
}


def value_stats(values: np.ndarray):
    """numpy's statistics of the finite values (population std), as the TypeScript tensorStats reports them."""
    v = values.astype(np.float64).ravel()
    finite = v[np.isfinite(v)]
    return {
        "count": int(v.size), "nan": int(np.isnan(v).sum()), "inf": int(np.isinf(v).sum()),
        "zeros": int((v == 0).sum()),
        "min": float(finite.min()), "max": float(finite.max()),
        "mean": float(finite.mean()), "std": float(finite.std()),
    }


def torch_entry(name, t: torch.Tensor):
    e = {"name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "contiguous": t.is_contiguous()}
    if not t.is_complex():
        e["stats"] = value_stats(t.detach().to(torch.float64).numpy())
    return e


def zip_data_offsets(path):
    """Entry name -> absolute offset of its data, from the local file headers (Python's zipfile)."""
    out = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        for info in z.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            out[info.filename] = {"offset": info.header_offset + 30 + name_len + extra_len,
                                  "compressed": info.compress_type != zipfile.ZIP_STORED}
    return out


def storage_key(t: torch.Tensor):
    """The storage's entry key as torch.save names it (data/<key>): the order of first appearance."""
    return t.storage().data_ptr()


def pt_entries(path, tensors, prefix=""):
    """Expected entries for tensors saved in a zip checkpoint, with their absolute data offsets."""
    offsets = zip_data_offsets(path)
    data_entries = sorted((n for n in offsets if "/data/" in n and not n.endswith("/")),
                          key=lambda n: offsets[n]["offset"])
    # torch.save numbers storages 0, 1, ... in the order the pickler meets them, which is the order of
    # the tensors in the dict; map storage pointers to keys in the same way.
    keys = {}
    for t in tensors.values():
        keys.setdefault(storage_key(t), str(len(keys)))
    folder = data_entries[0].rsplit("/data/", 1)[0]
    out = []
    for name, t in tensors.items():
        e = torch_entry(prefix + name, t)
        entry = f"{folder}/data/{keys[storage_key(t)]}"
        e["storage_entry"] = entry
        if t.is_contiguous():
            e["data"] = {"offset": offsets[entry]["offset"] + t.storage_offset() * t.element_size(),
                         "byteLength": t.numel() * t.element_size()}
        out.append(e)
    return out


# ---- safetensors --------------------------------------------------------------------------------

def bf16_bits(values):
    """bfloat16 bit patterns (little-endian uint16) of float values, rounded by torch."""
    t = torch.tensor(values, dtype=torch.float32).to(torch.bfloat16)
    return t.view(torch.int16).numpy().astype("<i2").tobytes(), t.to(torch.float64).numpy()


def write_safetensors(path):
    rng = np.random.default_rng(7)
    f32 = rng.normal(0, 1.5, size=(3, 4)).astype("<f4")
    f16 = np.array([0.5, -2.25, 65504.0, 1e-5, 0.0, -0.0, 3.140625], dtype="<f2")  # max half, a subnormal, signed zeros
    bf_bytes, bf_values = bf16_bits(rng.normal(0, 100, size=(2, 3)).tolist())
    i64 = np.array([-(2 ** 40), -1, 0, 7], dtype="<i8")
    u8 = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    flags = np.array([True, False, True, True], dtype=np.bool_)
    tensors = [  # name, safetensors dtype, our dtype, shape, bytes, values
        ("encoder.weight", "F32", "float32", [3, 4], f32.tobytes(), f32),
        ("encoder.half", "F16", "float16", [7], f16.tobytes(), f16),
        ("encoder.bf16", "BF16", "bfloat16", [2, 3], bf_bytes, bf_values),
        ("counts", "I64", "int64", [4], i64.tobytes(), i64),
        ("pixels", "U8", "uint8", [5, 5], u8.tobytes(), u8),
        ("mask", "BOOL", "bool", [4], flags.tobytes(), flags),
    ]
    header, blob, expected = {}, b"", []
    for name, st, _, shape, data, _ in tensors:
        header[name] = {"dtype": st, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    header["__metadata__"] = {"format": "pt", "source": "make_inspect_fixtures.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the spec allows trailing spaces to align the data
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)
    base = 8 + len(text)
    for name, st, dtype, shape, data, values in tensors:
        begin = header[name]["data_offsets"][0]
        expected.append({"name": name, "dtype": dtype, "shape": shape, "contiguous": True,
                         "data": {"offset": base + begin, "byteLength": len(data)},
                         "stats": value_stats(np.asarray(values))})
    return {"format": "safetensors", "metadata": header["__metadata__"], "tensors": expected}


# ---- PyTorch ------------------------------------------------------------------------------------

class Boom:
    """Pickles as a call of os.system: what a malicious checkpoint does."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def tiny_dit_config():
    return DiTConfig(input_size=8, in_channels=1, patch_size=4, hidden_size=16, depth=2, num_heads=2,
                     aux_head_depth=1, num_classes=3, cfg_inputs=True, bottleneck_channels=4,
                     num_class_tokens=2, num_time_tokens=1, num_cfg_tokens=1, num_interval_tokens=1,
                     frequency_embedding_size=8)


def write_pmfdit(path):
    torch.manual_seed(11)
    cfg = tiny_dit_config()
    net = PmfDiT(cfg)
    with torch.no_grad():  # make the zero-initialised gates and final layer non-trivial
        for n, p in net.named_parameters():
            if "scale" in n or "final_layer" in n:
                p.copy_(torch.randn(p.shape) * 0.1)
    run = RunConfig(cfg, LossConfig(), TrainConfig(), SamplingConfig())
    save_pytorch(net, run, path, step=123, ema_index=0)
    sd = net.state_dict()
    params = sum(p.numel() for p in net.parameters())
    return {"format": "pytorch", "layout": "zip", "tensorPath": "state_dict",
            "topLevel": {"format": "str 'pmf-lab-pytorch-v1'", "step": "int 123", "ema_index": "int 0"},
            "model_config": json.loads(json.dumps(run.to_dict()["model"])), "params": params,
            "tensors": pt_entries(path, sd)}


def write_official(path):
    sd = official_state_dict(d=16, heads=2, shared=1, u_depth=1, patch=4, size=8, ch=3, classes=4,
                             bottleneck=4, freq=8, seed=5)
    torch.save(sd, path)
    cfg, name = infer_config(sd)
    keys = ("input_size", "in_channels", "patch_size", "hidden_size", "depth", "num_heads", "num_classes",
            "aux_head_depth", "bottleneck_channels", "num_class_tokens", "num_time_tokens", "num_cfg_tokens",
            "num_interval_tokens")
    return {"format": "pytorch", "layout": "zip", "tensorPath": "", "official_name": name,
            "config": {k: getattr(cfg, k) for k in keys}, "tensors": pt_entries(path, sd)}


def write_official_onnx(pt_path, path):
    from pmf_trainer.convert import convert_official

    convert_official(pt_path, path, verify=False)


def write_training(path):
    torch.manual_seed(3)
    cfg = MLPConfig(dim=2, hidden=8, layers=3, time_features=4)
    net = ToyMLP(cfg)
    opt = CombinedOptimizer(net, "adam", lr=1e-3)
    ema = EMA(net, [0.9])
    z = torch.randn(4, 2)
    loss = net(z, torch.rand(4), torch.rand(4)).pow(2).mean()
    loss.backward()
    opt.step()
    ema.update(net, 1)
    run = RunConfig(cfg, LossConfig(), TrainConfig(dataset="swiss-roll"), SamplingConfig())
    gen = torch.Generator().manual_seed(0)
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "ema": ema.state_dict(),
                "gen_state": gen.get_state(), "step": 1, "train_seconds": 0.5, "hardware": ["cpu"],
                "run": run.to_dict()}, path)
    return {"format": "pytorch", "layout": "zip", "tensorPath": "model", "model_config": asdict_json(cfg),
            "tensors": pt_entries(path, net.state_dict())}


def asdict_json(cfg):
    import dataclasses
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def write_malicious(path):
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
    torch.save({"weight": w, "payload": Boom()}, path)
    return {"format": "pytorch", "layout": "zip", "tensors": pt_entries(path, {"weight": w})}


def write_legacy(path):
    g = torch.Generator().manual_seed(9)
    tensors = {"conv.weight": torch.randn(2, 3, 2, 2, generator=g),
               "conv.half": (torch.randn(5, generator=g) * 3).to(torch.float16),
               "steps": torch.tensor([1, -2, 3 * 10 ** 9], dtype=torch.int64)}
    torch.save(tensors, path, _use_new_zipfile_serialization=False)
    return {"format": "pytorch", "layout": "legacy", "tensorPath": "",
            "tensors": [torch_entry(n, t) for n, t in tensors.items()]}


def write_views(path):
    g = torch.Generator().manual_seed(4)
    base = torch.randn(4, 6, generator=g)
    shared = torch.linspace(-1, 1, 20)
    tensors = {"base": base, "transposed": base.t(), "row2": base[2], "head": shared[:8], "tail": shared[8:],
               "param": torch.nn.Parameter(torch.full((3,), 0.25))}  # pickled by _rebuild_parameter
    torch.save(tensors, path)
    return {"format": "pytorch", "layout": "zip", "tensorPath": "", "tensors": pt_entries(path, tensors)}


class Scripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x):
        return torch.relu(self.lin(x))


def write_scripted(path):
    torch.manual_seed(2)
    m = torch.jit.script(Scripted())
    torch.jit.save(m, path)
    sd = m.state_dict()
    return {"format": "pytorch", "layout": "torchscript",
            "tensors": [torch_entry(n, t) for n, t in sd.items()]}


def write_numpy_pickle(path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    with open(path, "wb") as f:
        pickle.dump({"w": a, "step": 3}, f, protocol=4)
    return {"format": "pytorch", "layout": "legacy"}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    p = lambda n: os.path.join(out_dir, n)  # noqa: E731
    expected = {
        "tensors.safetensors": write_safetensors(p("tensors.safetensors")),
        "pmfdit.pt": write_pmfdit(p("pmfdit.pt")),
        "official-tiny.pt": write_official(p("official-tiny.pt")),
        "training.pt": write_training(p("training.pt")),
        "malicious.pt": write_malicious(p("malicious.pt")),
        "legacy.pt": write_legacy(p("legacy.pt")),
        "views.pt": write_views(p("views.pt")),
        "scripted.pt": write_scripted(p("scripted.pt")),
        "numpy.pkl": write_numpy_pickle(p("numpy.pkl")),
    }
    write_official_onnx(p("official-tiny.pt"), p("official-tiny.onnx"))
    data = open(p("pmfdit.pt"), "rb").read()
    with open(p("truncated.pt"), "wb") as f:
        f.write(data[: int(len(data) * 0.6)])
    expected["truncated.pt"] = {"truncated_from": "pmfdit.pt", "size": int(len(data) * 0.6)}
    for name, e in expected.items():
        e["size"] = os.path.getsize(p(name))
    with open(p("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(p(n)) for n in expected)
    print(f"wrote {len(expected)} files, {total} bytes, to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/checkpoints")
