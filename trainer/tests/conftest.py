import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
torch.set_num_threads(1)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def has_fashion_mnist() -> bool:
    return os.path.exists(FASHION)


def has_onnxruntime_node() -> bool:
    return os.path.isdir(os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node"))


needs_ort = pytest.mark.skipif(not has_onnxruntime_node(),
                               reason="onnxruntime-node not installed: run `npm ci` in the repo root")


def randomize_zero_inits(net, std=0.2, seed=0):
    """Give the zero-initialised gates and final layer random values, so tests see a
    non-trivial function (a fresh pmfDiT outputs exactly 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "scale" in name or "final_layer" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return net
