import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
torch.set_num_threads(1)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FASHION = os.path.join(os.environ.get("PMF_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"),
                       "t10k-images-idx3-ubyte.gz")


def has_fashion_mnist() -> bool:
    return os.path.exists(FASHION)


def has_onnxruntime_node() -> bool:
    return os.path.isdir(os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node"))


def has_onnxruntime_python() -> bool:
    try:
        import onnxruntime  # noqa: F401
        return True
    except ImportError:
        return False


def onnxruntime_backends():
    """The export checkers this machine can run (see pmf_trainer.export.onnxruntime_backend)."""
    return [b for b, ok in (("node", has_onnxruntime_node()), ("python", has_onnxruntime_python())) if ok]


needs_ort = pytest.mark.skipif(not onnxruntime_backends(),
                               reason="no onnxruntime: run `npm ci` in the repo root (onnxruntime-node)")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def randomize_zero_inits(net, std=0.2, seed=0):
    """Give the zero-initialised gates and final layer random values, so tests see a
    non-trivial function (a fresh pmfDiT outputs exactly 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "scale" in name or "final_layer" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return net


@pytest.fixture(scope="session")
def fashion_pt(tmp_path_factory):
    """The bundled Fashion-MNIST model as model.pt, rebuilt from models/fashion-mnist/model.onnx
    (the tree keeps one copy of its weights; rebuild-pytorch checks the result against the ONNX)."""
    from pmf_trainer.rebuild import rebuild_pytorch

    out = str(tmp_path_factory.mktemp("fashion") / "model.pt")
    rebuild_pytorch(os.path.join(REPO_ROOT, "models", "fashion-mnist", "model.onnx"), out)
    return out
