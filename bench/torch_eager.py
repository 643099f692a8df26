"""PyTorch eager baseline for bench/throughput.ts: one-step images/s of a bundled model.pt.

Prints one JSON line {"images_per_s", "batch", "threads", "n"}. Runs the same work as the
engine's one-step generation: noise, one forward pass, the x -> u conversion and the step.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "trainer"))

import torch  # noqa: E402

from pmf_trainer.publish import load_pytorch  # noqa: E402
from pmf_trainer.sample import sample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--omega", type=float, default=2.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, net = load_pytorch(a.model)
    g = torch.Generator().manual_seed(0)
    shape = (a.batch, cfg.in_channels, cfg.input_size, cfg.input_size)

    def one_batch():
        z1 = torch.randn(shape, generator=g)
        y = torch.randint(0, cfg.num_classes, (a.batch,), generator=g)
        return sample(net, z1, prediction=cfg.prediction, steps=1, y=y, cfg_inputs=cfg.cfg_inputs, omega=a.omega)

    with torch.no_grad():
        one_batch()  # warm-up
        batches = max(1, a.n // a.batch)
        t0 = time.perf_counter()
        for _ in range(batches):
            one_batch()
        dt = time.perf_counter() - t0
    print(json.dumps({"images_per_s": batches * a.batch / dt, "batch": a.batch, "threads": a.threads,
                      "n": batches * a.batch}))


if __name__ == "__main__":
    main()
