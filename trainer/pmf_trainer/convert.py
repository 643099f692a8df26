"""convert-official: an official pMF state dict -> a pMF-format ONNX file."""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

from .export import build_metadata, export_onnx, verify_export
from .model_dit import PmfDiT
from .official import ConversionError, convert_state_dict, infer_config, load_state_dict, official_sampling


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


def convert_official(ckpt: str, out: str, verify: bool = True, class_names: Optional[str] = None) -> Dict:
    sd = load_state_dict(ckpt)
    cfg, name = infer_config(sd)
    names = (read_class_names(class_names, cfg.num_classes) if class_names
             else [f"imagenet-{i}" for i in range(cfg.num_classes)])
    net = PmfDiT(cfg).eval()
    net.load_state_dict(convert_state_dict(sd, net))
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
    inputs = export_onnx(net, cfg, out, meta)
    res_d = {"onnx": out, "model": name, "inputs": inputs, "params": sum(p.numel() for p in net.parameters())}
    if verify:
        res_d["max_abs_diff_vs_pytorch"] = verify_export(out, net, cfg, n=1)
    return res_d
