"""Writes the small flow-matching checkpoints the TypeScript tests use (docs/checkpoint-format.md,
section 3a) and what the trainer's sampler makes of them, for the engine's sampler to match:

    fm-x-two-pass.onnx   x-prediction, 3 classes, CFG by two passes (JiT-style), Heun by default
    fm-v-cfg.onnx        v-prediction, 3 classes, omega / t_min / t_max inputs, Euler by default
    fm-expected.json     per model: z_1 (given noise), labels, guidance, and z_0 from
                         pmf_trainer.sample.flow_sample for Euler and Heun

Random weights (seeded), zero-initialised gates made non-zero; 8 x 8 single-channel images.
Usage: PYTHONPATH=trainer /usr/bin/python3 trainer/tools/make_fm_fixtures.py test/fixtures/models
"""
import json
import os
import sys

import torch

from pmf_trainer.config import DiTConfig
from pmf_trainer.export import build_metadata, export_onnx, verify_export
from pmf_trainer.models import build_model
from pmf_trainer.sample import flow_sample

BASE = dict(input_size=8, in_channels=1, patch_size=2, hidden_size=16, depth=2, num_heads=2, aux_head_depth=1,
            bottleneck_channels=4, num_classes=3, num_class_tokens=1, num_time_tokens=1, num_cfg_tokens=1,
            num_interval_tokens=1, frequency_embedding_size=32, model_type="flow-matching")
VARIANTS = {
    "fm-x-two-pass": dict(prediction="x", cfg_inputs=False, solver="heun"),
    "fm-v-cfg": dict(prediction="v", cfg_inputs=True, solver="euler"),
}
STEPS = 4
LABELS = [0, 2, 3]  # 3 = the null class
GUIDANCE = dict(omega=2.0, t_min=0.2, t_max=0.8)


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    expected = {}
    for i, (name, kw) in enumerate(VARIANTS.items()):
        kw = dict(kw)
        solver = kw.pop("solver")
        torch.manual_seed(300 + i)
        cfg = DiTConfig(**{**BASE, **kw})
        net = build_model(cfg).eval()
        g = torch.Generator().manual_seed(400 + i)
        with torch.no_grad():
            for pname, p in net.named_parameters():
                if "scale" in pname or "final_layer" in pname:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        sampling = {"steps": STEPS, "omega": GUIDANCE["omega"], "t_min": GUIDANCE["t_min"],
                    "t_max": GUIDANCE["t_max"], "solver": solver}
        meta = build_metadata(cfg, net, name=f"test fixture: {name}",
                              description="Random weights; for pMF Lab's tests of flow-matching models.",
                              class_names=["circle", "square", "stripe"], sampling=sampling,
                              training={"dataset": "none (random weights)"})
        path = os.path.join(out_dir, f"{name}.onnx")
        export_onnx(net, cfg, path, meta)
        print(f"{path}: {os.path.getsize(path)} bytes, max |onnx - torch| = {verify_export(path, net, cfg):.2e}")
        z1 = torch.randn(len(LABELS), 1, 8, 8, generator=torch.Generator().manual_seed(500 + i))
        y = torch.tensor(LABELS)
        runs = {s: flow_sample(net, z1, prediction=cfg.prediction, steps=STEPS, solver=s, y=y, num_classes=3,
                               cfg_inputs=cfg.cfg_inputs, two_pass=not cfg.cfg_inputs, **GUIDANCE).flatten().tolist()
                for s in ("euler", "heun")}
        expected[name] = {"steps": STEPS, "labels": LABELS, **GUIDANCE, "z1": z1.flatten().tolist(), "z0": runs}
    with open(os.path.join(out_dir, "fm-expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/models")
