"""PyTorch baseline for bench/inspector.ts: what looking into a checkpoint costs in Python.

  make OUT       writes a state dict with the official pMF-B/16 key names and shapes (random
                 float32 values, v head included, as the official training checkpoints hold it)
  measure FILE   torch.load(weights_only=True), then min/max/mean/std of every real tensor;
                 prints one JSON line {"load_s", "stats_s", "tensors", "params"}
"""
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "trainer", "tests"))

import torch  # noqa: E402


def make(out):
    from test_official import official_state_dict  # the official names and shapes (pMF-B/16: depth 16 = 8 shared + 8 u-head)

    sd = official_state_dict(d=768, heads=12, shared=8, u_depth=8, patch=16, size=256, ch=3, classes=1000,
                             bottleneck=128, seed=0)
    torch.save(sd, out)


def measure(path):
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    sd = torch.load(path, map_location="cpu", weights_only=True)
    t1 = time.perf_counter()
    params = 0
    for t in sd.values():
        params += t.numel()
        if t.is_complex():
            continue
        x = t.double()
        (x.min().item(), x.max().item(), x.mean().item(), x.std(unbiased=False).item())
    t2 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "stats_s": t2 - t1, "tensors": len(sd), "params": params}))


if __name__ == "__main__":
    {"make": make, "measure": measure}[sys.argv[1]](sys.argv[2])
