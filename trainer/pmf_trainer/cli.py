"""Command line of the reference trainer and exporter."""
from __future__ import annotations

import argparse
import json
import os
import sys


def cmd_train(a) -> int:
    from .config import preset_run_dict
    from .train import RunConfig, train

    import os

    run = None
    if a.preset:
        run = RunConfig.from_dict(preset_run_dict(a.preset, a.set or []))
        os.makedirs(a.run_dir, exist_ok=True)
        cmd_path = os.path.join(a.run_dir, "command.json")
        if not os.path.exists(cmd_path):
            with open(cmd_path, "w") as f:
                json.dump({"preset": a.preset, "set": a.set or []}, f)
    res = train(a.run_dir, run, max_steps=a.max_steps, max_minutes=a.max_minutes)
    print(json.dumps(res))
    if a.export:
        return _export(a.run_dir, a.export, a.ema)
    return 0


def _export(run_dir: str, out: str, ema: int) -> int:
    from .data import embedding_matrix
    from .config import MLPConfig
    from .export import build_metadata, export_onnx, verify_export
    from .train import trained_model

    run, net, ck = trained_model(run_dir, ema)
    m = run.model
    emb = embedding_matrix(m.dim, run.train.embed_seed) if isinstance(m, MLPConfig) else None
    classes = None
    if run.train.dataset == "fashion-mnist":
        from .data import FASHION_MNIST_CLASSES
        classes = FASHION_MNIST_CLASSES
    meta = build_metadata(m, net, name=os.path.basename(os.path.normpath(run_dir)),
                          description=f"trained by pmf_trainer on {run.train.dataset}",
                          noise_scale=run.loss.noise_scale, t_eps=run.loss.t_eps,
                          data_range=(-2.0, 2.0) if isinstance(m, MLPConfig) else (-1.0, 1.0),
                          class_names=classes, sampling=run.to_dict()["sampling"],
                          training={"dataset": run.train.dataset, "steps": ck["step"],
                                    "train_hours": round(ck["train_seconds"] / 3600, 3),
                                    "hardware": ck.get("hardware", [])},
                          embedding=emb,
                          two_pass_guidance=None if run.loss.class_dropout_prob > 0 else False)
    export_onnx(net, m, out, meta)
    err = verify_export(out, net, m)
    print(json.dumps({"onnx": out, "max_abs_diff_vs_pytorch": err}))
    if err > 1e-3:
        print(f"error: exported model differs from PyTorch by {err:.2e}", file=sys.stderr)
        return 1
    return 0


def cmd_export(a) -> int:
    return _export(a.run_dir, a.out, a.ema)


def cmd_publish_image(a) -> int:
    from .data import FASHION_MNIST_CLASSES
    from .publish import publish_image

    kw = {"omegas": a.omegas} if a.omegas else {}
    m = publish_image(a.run_dir, a.dest, a.classifier, name=a.name, description=a.description,
                      class_names=FASHION_MNIST_CLASSES, ema_index=a.ema,
                      n_per_class=a.n_per_class, storage=a.storage, pytorch=not a.no_pytorch,
                      steps_eval=a.steps_eval or (1, 2), **kw)
    print(json.dumps({k: v for k, v in m.items() if k.startswith(("class_consistency", "fd_vs_test", "default"))
                      and not k.endswith("per_class")}))
    return 0


def cmd_publish_table2(a) -> int:
    from .publish_table2 import publish_table2

    res = publish_table2(a.run_dirs, a.dest, a.classifier, n_per_class=a.n_per_class)
    for r in res["models"]:
        print(f"{r['file']}: class-consistency {r['class_consistency_1nfe']:.3f}, FD {r['fd_vs_test_1nfe']:.3f} "
              f"(omega {r['default_sampling']['omega']:g})")
    return 0


def cmd_rebuild_pytorch(a) -> int:
    from .rebuild import rebuild_pytorch

    print(json.dumps(rebuild_pytorch(a.onnx, a.out, verify=not a.no_verify)))
    return 0


def cmd_publish_toys(a) -> int:
    from .publish import publish_toys

    res = publish_toys(a.run_dirs, a.dest, n=a.n)
    for r in res["models"]:
        print(f"{r['file']}: mean distance {r['mean_roll_distance']:.3f}, off-plane {r['mean_off_plane_norm']:.3f}")
    return 0


def cmd_convert_official(a) -> int:
    import signal

    from .convert import convert_official
    from .export import stderr_progress

    try:
        res = convert_official(a.ckpt, a.out, verify=not a.no_verify, class_names=a.class_names,
                               external_data=a.external_data, dtype=a.dtype, fused=not a.plain,
                               progress=stderr_progress("convert-official"))
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM / SIGHUP (export.Interrupted)
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(signum).name}): nothing written", file=sys.stderr)
        return 128 + signum
    print(json.dumps(res))
    return 0


def cmd_convert_inception(a) -> int:
    from .convert_inception import convert_inception
    return _run_with_progress(lambda p: convert_inception(a.weights, a.out, verify=not a.no_verify, progress=p),
                              "convert-inception")


def _run_with_progress(fn, name: str) -> int:
    import signal

    from .export import stderr_progress
    try:
        res = fn(stderr_progress(name))
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM / SIGHUP (export.Interrupted)
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(signum).name}): nothing written", file=sys.stderr)
        return 128 + signum
    except (ValueError, FileNotFoundError) as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res))
    return 0


def cmd_quantize(a) -> int:
    from .variants import quantize
    return _run_with_progress(lambda p: quantize(a.model, a.out, evaluate_with=a.evaluate, progress=p), "quantize")


def cmd_export_pytorch(a) -> int:
    from .variants import export_pytorch
    return _run_with_progress(lambda p: export_pytorch(a.pytorch, a.out, metadata_from=a.metadata_from,
                                                       dtype=a.dtype, progress=p), "export-pytorch")


def cmd_export_classifier(a) -> int:
    import torch

    from .feature_net import export_classifier
    torch.set_num_threads(a.threads)
    return _run_with_progress(lambda p: export_classifier(a.classifier, a.out, progress=p), "export-classifier")


def cmd_train_classifier(a) -> int:
    from .evaluate import real_reference, load_classifier, train_classifier

    rep = train_classifier(a.out, epochs=a.epochs, seed=a.seed, threads=a.threads)
    rep.update({"reference_" + k: v for k, v in real_reference(load_classifier(a.out)).items()})
    print(json.dumps(rep))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m pmf_trainer",
                                description="pMF reference trainer, exporter and evaluator")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train or resume a run")
    t.add_argument("--run-dir", required=True, help="folder of the run (resumed if it exists)")
    t.add_argument("--preset", help="configuration preset (omit to resume)")
    t.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="override a field")
    t.add_argument("--max-steps", type=int, help="stop this invocation after N steps")
    t.add_argument("--max-minutes", type=float, help="stop this invocation after M minutes")
    t.add_argument("--export", metavar="ONNX", help="export the EMA model to this file afterwards")
    t.add_argument("--ema", type=int, default=0, help="EMA index to export (default 0)")
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("export", help="export a run's EMA model to ONNX (pMF format v1) and verify it")
    e.add_argument("--run-dir", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--ema", type=int, default=0)
    e.set_defaults(fn=cmd_export)
    pi = sub.add_parser("publish-image", help="evaluate, export and write the model card of an image model")
    pi.add_argument("--run-dir", required=True)
    pi.add_argument("--dest", required=True)
    pi.add_argument("--classifier", required=True)
    pi.add_argument("--name", default="Fashion-MNIST pMF")
    pi.add_argument("--description", default="Class-conditional pixel MeanFlow model of Fashion-MNIST "
                    "(28x28 grey), x-prediction, CFG inputs; one-step generation.")
    pi.add_argument("--ema", type=int, default=0)
    pi.add_argument("--n-per-class", type=int, default=1000)
    pi.add_argument("--omegas", type=float, nargs="+", help="the omega sweep (default 1 1.5 2 2.5 3 4)")
    pi.add_argument("--steps-eval", type=int, nargs="+", help="step counts measured at the default omega")
    pi.add_argument("--storage", choices=["float32", "float16"], default="float32",
                    help="float16: weights stored at half size, widened to float32 when loaded")
    pi.add_argument("--no-pytorch", action="store_true", help="write no model.pt beside the ONNX "
                    "(rebuild-pytorch makes one from it)")
    pi.set_defaults(fn=cmd_publish_image)
    p2 = sub.add_parser("publish-table2", help="evaluate, export and write the card of the Table 2 models "
                        "(table2-{x,u}-p{4,16} runs)")
    p2.add_argument("--dest", required=True)
    p2.add_argument("--classifier", required=True)
    p2.add_argument("--n-per-class", type=int, default=1000)
    p2.add_argument("run_dirs", nargs="+")
    p2.set_defaults(fn=cmd_publish_table2)

    rb = sub.add_parser("rebuild-pytorch", help="rebuild a PyTorch model.pt from a pMF Lab ONNX export "
                        "(checked against it)")
    rb.add_argument("--onnx", required=True)
    rb.add_argument("--out", required=True)
    rb.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    rb.set_defaults(fn=cmd_rebuild_pytorch)

    pt = sub.add_parser("publish-toys", help="export and evaluate the Swiss roll toy models")
    pt.add_argument("--dest", required=True)
    pt.add_argument("--n", type=int, default=4000)
    pt.add_argument("run_dirs", nargs="+")
    pt.set_defaults(fn=cmd_publish_toys)
    co = sub.add_parser("convert-official", help="convert an official pMF-{B,L,H}-{16,32}.pt to ONNX")
    co.add_argument("--ckpt", required=True, help="official state dict (.pt)")
    co.add_argument("--out", required=True, help="output .onnx")
    co.add_argument("--no-verify", action="store_true", help="skip the onnxruntime parity check")
    co.add_argument("--class-names", help="class names, one per line in class-index order (or a JSON list); "
                                          "default imagenet-0 ... imagenet-999")
    co.add_argument("--external-data", action="store_true", default=None,
                    help="write the weights into one file beside the .onnx (OUT.data, ONNX external data); "
                         "default: only when they pass the 2 GB protobuf limit (H/16, H/32)")
    co.add_argument("--plain", action="store_true",
                    help="standard ONNX ops only, for runtimes other than onnxruntime (default: attention as "
                         "onnxruntime's MultiHeadAttention and RMSNorm in the form it fuses, about 5-10 %% faster)")
    co.add_argument("--dtype", choices=["float32", "float16", "int8"], default="float32",
                    help="float16: half the size, weights and compute in float16 for GPUs; int8: a quarter of the "
                         "size, int8 matmuls for fast CPU previews; inputs and output stay float32 (the error "
                         "against float32 is printed as parity.rel_l2)")
    co.set_defaults(fn=cmd_convert_official)
    ci = sub.add_parser("convert-inception", help="convert the FID Inception-v3 weights of pytorch-fid "
                                                  "(pt_inception-2015-12-05-6726825d.pth) to an ONNX feature network")
    ci.add_argument("--weights", required=True, help="pt_inception-2015-12-05-6726825d.pth (pytorch-fid keeps it in "
                                                     "~/.cache/torch/hub/checkpoints/)")
    ci.add_argument("--out", required=True, help="the .onnx to write (e.g. inception-fid.onnx)")
    ci.add_argument("--no-verify", action="store_true", help="skip the parity check against PyTorch")
    ci.set_defaults(fn=cmd_convert_inception)
    q = sub.add_parser("quantize", help="write the int8 variant of a float32 pMF ONNX model (fast CPU previews)")
    q.add_argument("--model", required=True, help="float32 pMF model (.onnx)")
    q.add_argument("--out", required=True, help="the int8 variant to write (.onnx)")
    q.add_argument("--evaluate", metavar="CLASSIFIER",
                   help="Fashion-MNIST models: also measure class consistency and FD of both (10,000 samples each) "
                        "with this classifier (models/eval/fashion-mnist-classifier.pt)")
    q.set_defaults(fn=cmd_quantize)
    ep = sub.add_parser("export-pytorch", help="export a pMF Lab PyTorch checkpoint (model.pt) to ONNX again")
    ep.add_argument("--pytorch", required=True, help="model.pt written by publish-image")
    ep.add_argument("--metadata-from", required=True, help="the ONNX model whose metadata (card) the export keeps")
    ep.add_argument("--out", required=True)
    ep.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ep.set_defaults(fn=cmd_export_pytorch)
    c = sub.add_parser("train-classifier", help="train the Fashion-MNIST evaluation classifier")
    c.add_argument("--out", required=True)
    c.add_argument("--epochs", type=int, default=6)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--threads", type=int, default=2)
    c.set_defaults(fn=cmd_train_classifier)
    ec = sub.add_parser("export-classifier", help="export the evaluation classifier to an ONNX feature network "
                                                  "for `pmf eval` (docs/evaluation.md) and verify it")
    ec.add_argument("--classifier", required=True, help="the classifier (models/eval/fashion-mnist-classifier.pt)")
    ec.add_argument("--out", required=True, help="the .onnx to write (models/eval/fashion-mnist-classifier.onnx)")
    ec.add_argument("--threads", type=int, default=1,
                    help="CPU threads (default 1: the real-data figures' last digits depend on it)")
    ec.set_defaults(fn=cmd_export_classifier)
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
