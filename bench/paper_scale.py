"""Python side of bench/paper-scale.ts: official-size checkpoints and the PyTorch eager baseline.

  make NAME OUT                 a state dict in the official pMF-NAME.pt layout (NAME: B/16 ... H/32;
                                random float32 values, v head included, as the official files hold it)
  eager CKPT BATCH RUNS THREADS one-step generation in PyTorch eager (pmf_trainer's reference model,
                                which matches the official forward to 1e-6, trainer/tests/test_official.py):
                                noise, one forward, the x -> u conversion and the step; prints one JSON
                                line {"s_per_batch": [...], "batch", "threads", "rss_mb"}
  matmul OUT M K N              an ONNX model of one float32 MatMul [M, K] x [K, N] (random weights):
                                the CPU's float32 matmul ceiling in onnxruntime, measured by paper-scale.ts
"""
import json
import os
import resource
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "trainer"))
sys.path.insert(0, os.path.join(ROOT, "trainer", "tests"))

import torch  # noqa: E402

from pmf_trainer.config import OFFICIAL_SIZES  # noqa: E402

U_HEAD_DEPTH = 8  # the official u (and v) heads: 8 blocks each


def make(name: str, out: str) -> None:
    from test_official import official_state_dict  # the official names and shapes

    size, patch = name.split("/")
    s = OFFICIAL_SIZES[size]
    patch = int(patch)
    sd = official_state_dict(d=s["hidden_size"], heads=s["num_heads"], shared=s["depth"] - U_HEAD_DEPTH,
                             u_depth=U_HEAD_DEPTH, patch=patch, size=256 if patch == 16 else 512, ch=3,
                             classes=1000, bottleneck=128, seed=0)
    torch.save(sd, out)


def eager(ckpt: str, batch: int, runs: int, threads: int) -> None:
    from pmf_trainer.official import build_official_model, infer_config, load_state_dict, official_sampling
    from pmf_trainer.sample import sample

    torch.set_num_threads(threads)
    sd = load_state_dict(ckpt)
    cfg, name = infer_config(sd)
    net = build_official_model(sd, cfg).eval()
    del sd
    s = official_sampling(name)
    g = torch.Generator().manual_seed(0)
    shape = (batch, cfg.in_channels, cfg.input_size, cfg.input_size)

    def one_batch():
        z1 = torch.randn(shape, generator=g) * s["noise_scale"]
        y = torch.randint(0, cfg.num_classes, (batch,), generator=g)
        return sample(net, z1, prediction=cfg.prediction, steps=1, y=y, cfg_inputs=cfg.cfg_inputs,
                      omega=s["omega"], t_min=s["t_min"], t_max=s["t_max"])

    times = []
    with torch.no_grad():
        one_batch()  # warm-up
        for _ in range(runs):
            t0 = time.perf_counter()
            one_batch()
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"s_per_batch": times, "batch": batch, "threads": threads, "peak_rss_mb": round(rss)}))


def matmul(out: str, m: int, k: int, n: int) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n), dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["a", "w"], ["y"])], "matmul",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "matmul":
        matmul(sys.argv[2], *(int(x) for x in sys.argv[3:6]))
    elif cmd == "make":
        make(sys.argv[2], sys.argv[3])
    elif cmd == "eager":
        eager(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit(__doc__)
