"""Writes the small pMF checkpoints the TypeScript tests use for model variants the bundled models
do not cover: an image u-prediction model, an unconditional image model and a class-conditional
model without CFG inputs. Random weights (seeded), zero-initialised gates made non-zero, so their
fields are non-trivial. Usage: scripts/pmf-trainer is not needed:

    PYTHONPATH=trainer /usr/bin/python3 trainer/tools/make_test_fixtures.py test/fixtures/models
"""
import os
import sys

import torch

from pmf_trainer.config import DiTConfig
from pmf_trainer.export import build_metadata, export_onnx, verify_export
from pmf_trainer.models import build_model

BASE = dict(input_size=16, in_channels=1, patch_size=4, hidden_size=32, depth=2, num_heads=2, aux_head_depth=1,
            bottleneck_channels=8, num_class_tokens=2, num_time_tokens=1, num_cfg_tokens=1, num_interval_tokens=1)
VARIANTS = {
    "image-u-prediction": dict(num_classes=3, cfg_inputs=True, prediction="u"),
    "image-unconditional": dict(num_classes=0, cfg_inputs=False),
    "image-no-cfg": dict(num_classes=3, cfg_inputs=False),
}


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for i, (name, kw) in enumerate(VARIANTS.items()):
        torch.manual_seed(100 + i)
        cfg = DiTConfig(**{**BASE, **kw})
        net = build_model(cfg).eval()
        g = torch.Generator().manual_seed(200 + i)
        with torch.no_grad():
            for pname, p in net.named_parameters():
                if "scale" in pname or "final_layer" in pname:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        classes = ["circle", "square", "stripe"][: cfg.num_classes] if cfg.num_classes else None
        meta = build_metadata(cfg, net, name=f"test fixture: {name}",
                              description="Random weights; for pMF Lab's tests of model variants.",
                              class_names=classes,
                              sampling={"steps": 2, "omega": 2.0 if cfg.cfg_inputs else 1.0, "t_min": 0.0, "t_max": 1.0},
                              training={"dataset": "none (random weights)"})
        path = os.path.join(out_dir, f"{name}.onnx")
        export_onnx(net, cfg, path, meta)
        print(f"{path}: max |onnx - torch| = {verify_export(path, net, cfg):.2e}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/models")
