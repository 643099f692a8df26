"""convert-official: an official pMF state dict -> a pMF-format ONNX file."""
from __future__ import annotations

import os
from typing import Dict

from .export import build_metadata, export_onnx, verify_export
from .model_dit import PmfDiT
from .official import convert_state_dict, infer_config, load_state_dict, official_sampling


def convert_official(ckpt: str, out: str, verify: bool = True) -> Dict:
    sd = load_state_dict(ckpt)
    cfg, name = infer_config(sd)
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
        class_names=[f"imagenet-{i}" for i in range(cfg.num_classes)],
        sampling={"steps": 1, **s},
        training={"dataset": "ImageNet-1k", "source": "official pMF checkpoint (Lyy-iiis/pMF)",
                  "converted_from": os.path.basename(ckpt)})
    inputs = export_onnx(net, cfg, out, meta)
    res_d = {"onnx": out, "model": name, "inputs": inputs, "params": sum(p.numel() for p in net.parameters())}
    if verify:
        res_d["max_abs_diff_vs_pytorch"] = verify_export(out, net, cfg, n=1)
    return res_d
