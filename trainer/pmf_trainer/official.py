"""Convert official pMF PyTorch checkpoints (pMF-{B,L,H}-{16,32}.pt) to the pMF format.

The official file is a state dict of the `pixelMeanFlow` wrapper: keys start with
`net.`, linear layers sit under `._flax_linear`, the class table under
`._flax_embedding`, and `net.rope_freqs` is a complex buffer. The mapping onto our
PmfDiT strips those wrappers; everything else keeps its name. The v head
(`net.v_heads.*`, `net.v_final_layer.*`) serves training only and is dropped. The
file is read with `torch.load(weights_only=True)`, which unpickles tensors and
containers only and never runs code from the file.
"""
from __future__ import annotations

import contextlib
import math
import re
from typing import Dict, Iterator, List, Tuple

import torch
import torch.nn as nn

from .config import OFFICIAL_SAMPLING, DiTConfig

PREFIX = "net."


class ConversionError(ValueError):
    pass


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # very old torch without weights_only
        raise ConversionError("this PyTorch cannot load checkpoints safely (needs weights_only); use >= 1.13")
    except Exception as e:  # noqa: BLE001 - report any unpickling failure plainly
        raise ConversionError(f"{path}: not a loadable PyTorch state dict ({type(e).__name__}: {e})")
    for key in ("state_dict", "model", "ema"):  # tolerate a wrapping dict
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError(f"{path}: expected a dict of tensors (a state dict)")
    return obj


def map_key(key: str) -> str:
    if not key.startswith(PREFIX):
        raise ConversionError(f"key {key!r} lacks the official 'net.' prefix")
    k = key[len(PREFIX):]
    return k.replace("._flax_linear", "").replace("._flax_embedding", "")


def _count_blocks(keys: List[str], group: str) -> int:
    idx = {int(m.group(1)) for k in keys for m in [re.match(rf"{group}\.(\d+)\.", k)] if m}
    if idx and idx != set(range(len(idx))):
        raise ConversionError(f"{group} block indices are not contiguous: {sorted(idx)}")
    return len(idx)


def infer_config(sd: Dict[str, torch.Tensor]) -> Tuple[DiTConfig, str]:
    """Recover the DiTConfig from tensor shapes; also returns the official name (e.g. 'B/16')."""
    need = ["net.pos_embed", "net.x_embedder.proj1.weight", "net.rope_freqs",
            "net.y_embedder.embedding_table._flax_embedding.weight"]
    missing = [k for k in need if k not in sd]
    if missing:
        raise ConversionError(f"not an official pMF checkpoint: missing {', '.join(missing)}")
    keys = [map_key(k) for k in sd]
    d = sd["net.pos_embed"].shape[-1]
    w1 = sd["net.x_embedder.proj1.weight"]
    bottleneck, in_ch, p = w1.shape[0], w1.shape[1], w1.shape[2]
    rope = sd["net.rope_freqs"]
    num_patches, half_head = rope.shape[0], rope.shape[1]
    head_dim = 2 * half_head
    grid = int(round(math.sqrt(num_patches)))
    if grid * grid != num_patches:
        raise ConversionError(f"rope_freqs has {num_patches} positions, not a square grid")
    shared, u_heads = _count_blocks(keys, "shared_blocks"), _count_blocks(keys, "u_heads")
    n_tok = {k: sd[f"net.{k}"].shape[1] for k in
             ("class_tokens", "omega_tokens", "t_min_tokens", "time_tokens")}
    cfg = DiTConfig(
        input_size=grid * p, in_channels=in_ch, patch_size=p, hidden_size=d,
        depth=shared + u_heads, num_heads=d // head_dim,
        num_classes=sd["net.y_embedder.embedding_table._flax_embedding.weight"].shape[0] - 1,
        cfg_inputs=True, aux_head_depth=u_heads, v_head=False, bottleneck_channels=bottleneck,
        num_class_tokens=n_tok["class_tokens"], num_time_tokens=n_tok["time_tokens"],
        num_cfg_tokens=n_tok["omega_tokens"], num_interval_tokens=n_tok["t_min_tokens"],
        prediction="x")
    freq = sd.get("net.h_embedder.mlp.0._flax_linear.weight")
    if freq is not None and freq.dim() == 2:
        cfg.frequency_embedding_size = int(freq.shape[1])  # 256 in the official models
    mlp = sd.get("net.shared_blocks.0.mlp.w1._flax_linear.weight",
                 sd.get("net.u_heads.0.mlp.w1._flax_linear.weight"))
    if mlp is not None and mlp.shape[0] != cfg.mlp_hidden:
        cfg.mlp_ratio = mlp.shape[0] / d
        if cfg.mlp_hidden != mlp.shape[0]:
            raise ConversionError(f"cannot express MLP width {mlp.shape[0]} for width {d}")
    size = {768: "B", 1024: "L", 1280: "H"}.get(d)
    name = f"{size}/{p}" if size and p in (16, 32) else f"custom d{d}/p{p}"
    return cfg, name


def convert_state_dict(sd: Dict[str, torch.Tensor], model) -> Dict[str, torch.Tensor]:
    """Official tensors -> our state dict, checked key by key and shape by shape."""
    ours = model.state_dict()
    out, unused = {}, []
    for k, v in sd.items():
        if k == "net.rope_freqs":
            cos, sin = model.rope_cos, model.rope_sin
            if v.is_complex():
                err = max(float((v.real - cos).abs().max()), float((v.imag - sin).abs().max()))
                if err > 1e-4:
                    raise ConversionError(f"rope_freqs differ from the 2D RoPE table by {err:.2e}")
            continue
        mk = map_key(k)
        if mk.startswith(("v_heads.", "v_final_layer.")):
            unused.append(k)
            continue
        if mk not in ours:
            raise ConversionError(f"unexpected key {k!r} (maps to {mk!r})")
        if tuple(ours[mk].shape) != tuple(v.shape):
            raise ConversionError(f"{k}: shape {tuple(v.shape)}, expected {tuple(ours[mk].shape)}")
        out[mk] = v.float()
    missing = sorted(set(ours) - set(out))
    if missing:
        raise ConversionError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")
    return out


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Modules built inside get their parameters on the meta device: shapes without memory
    or random initialisation (buffers stay real: the RoPE tables are computed)."""
    orig = nn.Module.register_parameter

    def register(self, name, param):
        orig(self, name, param)
        p = self._parameters.get(name)
        if p is not None and p.device.type != "meta":
            self._parameters[name] = nn.Parameter(p.detach().to("meta"), requires_grad=p.requires_grad)

    nn.Module.register_parameter = register
    try:
        yield
    finally:
        nn.Module.register_parameter = orig


def build_official_model(sd: Dict[str, torch.Tensor], cfg: DiTConfig):
    """A PmfDiT whose parameters are the checkpoint's own tensors: no second copy of the
    weights and no random initialisation. `sd` is emptied, which frees what the model does not
    use (the v head). Checked key by key and shape by shape (convert_state_dict)."""
    from .model_dit import PmfDiT

    with _parameters_on_meta():
        net = PmfDiT(cfg)
    conv = convert_state_dict(sd, net)
    sd.clear()
    for key in list(conv):
        value = conv.pop(key)
        mod_name, _, attr = key.rpartition(".")
        mod = net.get_submodule(mod_name) if mod_name else net
        if attr in mod._parameters:
            mod._parameters[attr] = nn.Parameter(value, requires_grad=False)
        elif attr in mod._buffers:
            mod._buffers[attr] = value
        else:
            raise ConversionError(f"{key}: no such parameter or buffer in the model")
    left = [n for n, p in net.named_parameters() if p.is_meta]
    if left:
        raise ConversionError(f"checkpoint lacks {len(left)} tensors, e.g. {left[:3]}")
    return net.eval()


def official_sampling(name: str) -> Dict[str, float]:
    s = OFFICIAL_SAMPLING.get(name, dict(omega=1.0, t_min=0.0, t_max=1.0, noise_scale=1.0))
    return dict(s)
