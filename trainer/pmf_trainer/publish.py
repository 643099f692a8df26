"""Turn a trained run into a bundled model: ONNX + model card, with every figure measured.

`publish-image`: evaluates the EMA model over a sweep of omega (class-consistency and
Frechet distance in the evaluation classifier's features), picks the default omega by a
stated rule, exports the ONNX with its metadata, checks it against PyTorch in
onnxruntime, renders a sample grid, and writes metrics.json and README.md.
`publish-toys`: the same for the Swiss roll family, with a scatter figure.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence

import torch

from .data import downsample_images, embedding_matrix, swiss_roll_curve, upsample_images
from .evaluate import evaluate_generator, load_classifier, real_reference, save_json, test_features
from .export import build_metadata, export_onnx, verify_export
from .models import count_params
from .sample import flow_sample, sample
from .toy_eval import toy_sample_stats, toy_samples
from .train import model_conditioning, trained_model


def _command(run_dir: str) -> str:
    p = os.path.join(run_dir, "command.json")
    if not os.path.exists(p):
        return f"scripts/pmf-trainer train --run-dir runs/{os.path.basename(run_dir)}"
    c = json.load(open(p))
    sets = "".join(f" --set {s}" for s in c.get("set", []))
    return f"scripts/pmf-trainer train --preset {c['preset']}{sets} --run-dir runs/{os.path.basename(run_dir)}"


def _training_summary(run, ck, run_dir: str, dataset: str, n_train: int) -> Dict:
    tc = run.train
    return {
        "dataset": dataset,
        "steps": ck["step"],
        "epochs": round(ck["step"] * tc.batch_size / n_train, 2),
        "batch_size": tc.batch_size,
        "optimizer": tc.optimizer,
        "lr": tc.lr,
        "ema_decays": tc.ema_decays,
        "loss": {k: v for k, v in run.to_dict()["loss"].items()},
        "hardware": ck.get("hardware", []),
        "train_hours": round(ck["train_seconds"] / 3600, 2),
        "command": _command(run_dir),
    }


def image_generator(net, run, steps: int, omega: float, t_min: float, t_max: float, noise_scale: float,
                    solver: Optional[str] = None):
    """gen(y, g) -> images at the model's size: pMF's N-step sampler, or a flow-matching model's
    N-step Euler / Heun solve (CFG by its inputs or by two passes, as the runtime does it)."""
    m = run.model
    num_classes, cfg_inputs = model_conditioning(m)
    flow = m.model_type == "flow-matching"

    def gen(y, g):
        z1 = torch.randn(y.shape[0], m.in_channels, m.input_size, m.input_size, generator=g) * noise_scale
        if flow:
            return flow_sample(net, z1, prediction=m.prediction, steps=steps, solver=solver or run.sampling.solver,
                               y=y, num_classes=num_classes, cfg_inputs=cfg_inputs,
                               two_pass=num_classes > 0 and not cfg_inputs, omega=omega, t_min=t_min,
                               t_max=t_max, t_eps=run.loss.t_eps)
        return sample(net, z1, prediction=m.prediction, steps=steps, y=y, cfg_inputs=cfg_inputs,
                      omega=omega, t_min=t_min, t_max=t_max, t_eps=run.loss.t_eps)
    return gen


def at_classifier_size(gen, size: int, classifier_size: int = 28):
    """The evaluator's view of a model larger than the classifier's 28x28 input: the mean over
    each (size / 28)^2 block (fashion-mnist@112 models are Fashion-MNIST enlarged 4x)."""
    if size == classifier_size:
        return gen
    if size % classifier_size:
        raise ValueError(f"the evaluation classifier takes {classifier_size}x{classifier_size} images; "
                         f"a {size}x{size} model cannot be reduced to that by whole blocks")
    return lambda y, g: downsample_images(gen(y, g), size // classifier_size)


def save_pytorch(net, run, path: str, *, step: int, ema_index: int) -> None:
    """The same weights as model.onnx, as a plain PyTorch checkpoint: tensors, ints and strings
    only, so torch.load(weights_only=True) reads it (PyTorch 1.13's safe unpickler cannot read
    pickled floats; the configuration is stored as JSON text)."""
    torch.save({"format": "pmf-lab-pytorch-v1", "model_config_json": json.dumps(run.to_dict()["model"]),
                "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
                "step": step, "ema_index": ema_index}, path)


def load_pytorch(path: str):
    """(model config, network in eval mode) from a save_pytorch file."""
    from .config import model_config_from_dict
    from .models import build_model

    ck = torch.load(path, map_location="cpu", weights_only=True)
    cfg = model_config_from_dict(json.loads(ck["model_config_json"]))
    net = build_model(cfg)
    net.load_state_dict(ck["state_dict"])
    return cfg, net.eval()


def _dataset_label(dataset: str) -> str:
    if dataset.startswith("fashion-mnist@"):
        side = int(dataset.split("@")[1])
        return f"fashion-mnist (60k train) enlarged {side // 28}x to {side}x{side} (bilinear)"
    return "fashion-mnist (60k train)"


_REAL_FIGURES: Dict = {}  # (classifier, mtime, enlargement) -> (real_reference, test features)


def measure_image_model(net, run, classifier_path: str, *, omegas: Sequence[float], n_per_class: int,
                        steps_eval: Sequence[int]) -> Dict:
    """Class-consistency and FD over an omega sweep at the model's sampling steps (1 for pMF),
    the default omega (lowest FD), and the other step counts at that omega."""
    m, ns = run.model, run.loss.noise_scale
    flow = m.model_type == "flow-matching"
    steps = run.sampling.steps if flow else 1
    solver = run.sampling.solver if flow else None
    cls = load_classifier(classifier_path)
    # A model of enlarged images is compared with real images that went the same way (enlarged,
    # then reduced by block means): a perfect model then scores what real data scores.
    factor = m.input_size // 28
    view = None if factor == 1 else (lambda x: downsample_images(upsample_images(x, factor), factor))
    key = (os.path.abspath(classifier_path), os.path.getmtime(classifier_path), factor)
    if key not in _REAL_FIGURES:  # the models of one publish-table2 share them
        _REAL_FIGURES[key] = (real_reference(cls, view), test_features(cls, view))
    ref, reference = _REAL_FIGURES[key]
    t_min, t_max = run.sampling.t_min, run.sampling.t_max

    def measure(st: int, om: float) -> Dict:
        gen = at_classifier_size(image_generator(net, run, st, om, t_min, t_max, ns, solver), m.input_size)
        return evaluate_generator(gen, cls, n_per_class, reference=reference)
    sweep = []
    for om in omegas:
        r = measure(steps, om)
        sweep.append({"omega": om, "steps": steps, **r})
        print(f"omega {om}: consistency {r['class_consistency']:.3f}  FD {r['fd_vs_test']:.3f}", flush=True)
    # Rule: the default omega is the one with the lowest Frechet distance at the default steps.
    best = min(sweep, key=lambda s: s["fd_vs_test"])
    default = {"steps": steps, "omega": best["omega"], "t_min": t_min, "t_max": t_max}
    if flow:
        default["solver"] = solver
    multi = [{"omega": best["omega"], "steps": st, **measure(st, best["omega"])} for st in steps_eval if st != steps]
    return {
        "default_sampling": default,
        "class_consistency_1nfe" if not flow else "class_consistency": best["class_consistency"],
        "fd_vs_test_1nfe" if not flow else "fd_vs_test": best["fd_vs_test"],
        "reference_real_test_accuracy": ref["test_accuracy"],
        "reference_fd_train_vs_test": ref["fd_train_vs_test"],
        "omega_sweep": sweep,
        "multi_step": multi,
        "classifier": os.path.basename(classifier_path),
        "classifier_view": ("28x28" if m.input_size == 28 else
                            f"{m.input_size}x{m.input_size} samples reduced to 28x28 by the mean of each "
                            f"{factor}x{factor} block; the real images it is compared with are enlarged "
                            f"{factor}x (bilinear) and reduced the same way"),
        "samples_per_class": n_per_class,
    }


MAX_EXPORT_DIFF = 1e-4  # ONNX vs PyTorch on random inputs: more, and nothing is published


def staged_publish(dest: str, write) -> None:
    """All or nothing: write(stage) fills a fresh folder beside dest; only when it returns are its
    files moved into dest (a failure midway leaves dest as it was and no stage behind)."""
    import shutil
    import tempfile

    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    stage = tempfile.mkdtemp(prefix=".publish-", dir=parent)
    try:
        write(stage)
        os.makedirs(dest, exist_ok=True)
        for f in sorted(os.listdir(stage)):
            os.replace(os.path.join(stage, f), os.path.join(dest, f))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish_image(run_dir: str, dest: str, classifier_path: str, *, name: str, description: str,
                  class_names: Sequence[str], ema_index: int = 0,
                  omegas: Sequence[float] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
                  n_per_class: int = 1000, steps_eval: Sequence[int] = (1, 2),
                  filename: str = "model.onnx", storage: str = "float32", pytorch: bool = True,
                  card: bool = True, grid_seeds: int = 10) -> Dict:
    """Measure, export (dest/filename; float16 storage on request), render dest/<stem>-samples.png
    (samples.png for model.onnx) and, with card, write metrics.json and README.md; all or nothing
    (staged_publish)."""
    out: Dict = {}
    staged_publish(dest, lambda stage: out.update(_publish_image(
        run_dir, stage, classifier_path, name=name, description=description, class_names=class_names,
        ema_index=ema_index, omegas=omegas, n_per_class=n_per_class, steps_eval=steps_eval, filename=filename,
        storage=storage, pytorch=pytorch, card=card, grid_seeds=grid_seeds)))
    return out


def _publish_image(run_dir: str, dest: str, classifier_path: str, *, name: str, description: str,
                   class_names: Sequence[str], ema_index: int, omegas: Sequence[float], n_per_class: int,
                   steps_eval: Sequence[int], filename: str, storage: str, pytorch: bool, card: bool,
                   grid_seeds: int) -> Dict:
    from .storage import round_weights_float16, store_float16

    if storage not in ("float32", "float16"):
        raise ValueError(f"storage must be float32 or float16, got {storage!r}")
    run, net, ck = trained_model(run_dir, ema_index)
    m, ns = run.model, run.loss.noise_scale
    rounding = round_weights_float16(net) if storage == "float16" else None
    metrics = measure_image_model(net, run, classifier_path, omegas=omegas, n_per_class=n_per_class,
                                  steps_eval=steps_eval)
    metrics.update({"ema_index": ema_index, "training_step": ck["step"], "storage": storage})
    if rounding:
        metrics["float16_rounding"] = rounding
    default = metrics["default_sampling"]
    flow = m.model_type == "flow-matching"
    training = _training_summary(run, ck, run_dir, _dataset_label(run.train.dataset), 60000)
    training["metrics"] = {("class_consistency" if flow else "class_consistency_1nfe"):
                           round(metrics["class_consistency" if flow else "class_consistency_1nfe"], 4),
                           ("fd_vs_test" if flow else "fd_vs_test_1nfe"):
                           round(metrics["fd_vs_test" if flow else "fd_vs_test_1nfe"], 3),
                           "fd_real_train_vs_test": round(metrics["reference_fd_train_vs_test"], 3)}
    os.makedirs(dest, exist_ok=True)
    onnx_path = os.path.join(dest, filename)
    meta = build_metadata(m, net, name=name, description=description, noise_scale=ns,
                          t_eps=run.loss.t_eps, class_names=list(class_names), sampling=default,
                          training=training)
    export_onnx(net, m, onnx_path, meta)
    if storage == "float16":
        metrics["storage_bytes"] = store_float16(onnx_path)
    metrics["onnx_max_abs_diff_vs_pytorch"] = verify_export(onnx_path, net, m)
    if not metrics["onnx_max_abs_diff_vs_pytorch"] <= MAX_EXPORT_DIFF:
        raise RuntimeError(f"{filename}: the export differs from PyTorch by {metrics['onnx_max_abs_diff_vs_pytorch']:.2e} "
                           f"(more than {MAX_EXPORT_DIFF:g}); nothing published")
    if pytorch:
        save_pytorch(net, run, os.path.join(dest, "model.pt"), step=ck["step"], ema_index=ema_index)
    # sample grid: one row per class, 10 seeds
    from .render import sample_grid
    g = torch.Generator().manual_seed(0)
    y = torch.arange(m.num_classes).repeat_interleave(grid_seeds)
    imgs = image_generator(net, run, default["steps"], default["omega"], default["t_min"], default["t_max"], ns,
                           default.get("solver"))(y, g)
    stem = filename[:-len(".onnx")]
    metrics["samples_png"] = "samples.png" if filename == "model.onnx" else f"{stem}-samples.png"
    sample_grid(imgs.numpy(), m.num_classes, class_names, os.path.join(dest, metrics["samples_png"]),
                scale=max(1, 56 // m.input_size))
    metrics.update(params=count_params(net), training=training)
    if card:
        save_json(metrics, os.path.join(dest, "metrics.json"))
        _write_image_card(dest, name, description, run, ck, training, metrics, count_params(net))
    return metrics


def _write_image_card(dest, name, description, run, ck, training, metrics, params):
    m = run.model
    flow = m.model_type == "flow-matching"
    d = metrics["default_sampling"]
    nfe = f"{d['steps']} {d.get('solver', '').capitalize()} steps".strip() if flow else "1 NFE"
    sweep_rows = "\n".join(
        f"| {s['omega']:g} | {s['class_consistency'] * 100:.1f} % | {s['fd_vs_test']:.3f} |"
        for s in metrics["omega_sweep"])
    multi_rows = "\n".join(
        f"| {s['steps']} | {s['omega']:g} | {s['class_consistency'] * 100:.1f} % | {s['fd_vs_test']:.3f} |"
        for s in metrics["multi_step"])
    cc = metrics["class_consistency" if flow else "class_consistency_1nfe"]
    fd = metrics["fd_vs_test" if flow else "fd_vs_test_1nfe"]
    bar = "meets" if cc >= 0.8 else "does NOT yet meet"
    fname = "model.onnx"
    if flow:
        two_pass = m.num_classes > 0 and not m.cfg_inputs
        contract = (f"inputs `z` [N, {m.in_channels}, {m.input_size}, {m.input_size}], `t`, `y` (0-{m.num_classes - 1}; "
                    f"{m.num_classes} = unconditional); output `{m.prediction}` ({m.prediction}-prediction; "
                    f"v = (z - x) / t). `pmf.model_type` flow-matching"
                    + (", `pmf.guidance` two-pass (CFG as v_uncond + omega (v_cond - v_uncond))" if two_pass else ""))
        loss = (f"flow matching, the JiT recipe: {m.prediction}-prediction with the loss on v = (z - x) / t "
                f"(plain L2, t clamped at {run.loss.t_eps:g}), logit-normal t ({run.loss.P_mean:g}, {run.loss.P_std:g}), "
                f"label dropout {run.loss.class_dropout_prob:g} (for two-pass CFG).")
        heads = f"depth {m.depth}"
        prefix = f"{m.num_class_tokens} class, {m.num_time_tokens} time"
    else:
        contract = (f"inputs `z` [N, {m.in_channels}, {m.input_size}, {m.input_size}], `h`, `y` (0-{m.num_classes - 1}; "
                    f"{m.num_classes} = unconditional), `omega`, `t_min`, `t_max`; output `{m.prediction}` "
                    f"({m.prediction}-prediction)")
        loss = (f"pMF objective with exact JVP, adaptive weighting, logit-normal(t, r) ({run.loss.P_mean:g}, "
                f"{run.loss.P_std:g}), r = t for {run.loss.data_proportion * 100:.0f} %, CFG conditioning with omega in "
                f"[1, {1 + run.loss.cfg_max:g}] (beta {run.loss.cfg_beta:g}), label dropout "
                f"{run.loss.class_dropout_prob:g}. No perceptual loss.")
        heads = f"depth {m.depth} ({m.depth - m.aux_head_depth} shared + {m.aux_head_depth} u-head blocks)"
        prefix = (f"{m.num_class_tokens} class, {m.num_cfg_tokens} omega, {m.num_interval_tokens}+"
                  f"{m.num_interval_tokens} interval, {m.num_time_tokens} time")
    storage = metrics.get("storage", "float32")
    storage_line = ("" if storage == "float32" else
                    f" Weights are stored as float16 and widened to float32 when onnxruntime loads the model "
                    f"(each weight rounded to float16 before the metrics were measured: largest relative change "
                    f"of a tensor {metrics['float16_rounding']['max_rel_l2_weight_change']:.1e}).")
    pt_line = ("- `model.pt`: the same weights for PyTorch (`pmf_trainer.publish.load_pytorch`), loadable with\n"
               "  `torch.load(weights_only=True)`.\n" if os.path.exists(os.path.join(dest, "model.pt")) else
               "- No `model.pt`: `scripts/pmf-trainer rebuild-pytorch --onnx model.onnx --out model.pt` rebuilds the\n"
               "  PyTorch network from the ONNX weights (checked against it).\n")
    text = f"""# {name}

{description}

![{nfe} samples, one row per class, seeds 0-9 of the grid generator]({metrics['samples_png']})

*{nfe} samples at the default settings (omega {d['omega']:g}, interval [{d['t_min']:g}, {d['t_max']:g}]),
one row per class. Generated by `publish-image` from the EMA weights.*

## Contract
`{fname}`, pMF checkpoint format v1 (see `docs/checkpoint-format.md`): {contract}.
Data range [-1, 1], noise scale {run.loss.noise_scale:g}, t_eps {run.loss.t_eps:g}.{storage_line}

## Architecture
pmfDiT, {params / 1e6:.2f} M parameters: patch {m.patch_size} ({(m.input_size // m.patch_size) ** 2} image tokens,
{m.patch_size ** 2 * m.in_channels} values per patch), width {m.hidden_size}, {heads},
{m.num_heads} heads, SwiGLU hidden {m.mlp_hidden}, bottleneck patch embedding ({m.bottleneck_channels} channels),
prefix tokens: {prefix}.

## Training
- Data: {training['dataset']}.
- Command: `{training['command']}` (resumable; re-run it to continue).
- Steps: {training['steps']} at batch {training['batch_size']} ({training['epochs']} epochs),
  {training['optimizer']} lr {training['lr']:g}, EMA {training['ema_decays']}.
- Loss: {loss}
- Hardware: {'; '.join(training['hardware']) or 'not recorded'}; training time {training['train_hours']} h.

## Metrics (measured by `scripts/pmf-trainer publish-image`)
Evaluation classifier: a small CNN trained by `train-classifier`, test accuracy
{metrics['reference_real_test_accuracy'] * 100:.1f} %, fed {metrics['classifier_view']}. Frechet distance (FD) is
computed in its 128-d feature space against the 10k test images; real data (10k train vs test) scores
**{metrics['reference_fd_train_vs_test']:.3f}**. {metrics['samples_per_class']} samples per class.

**Class-consistency at {nfe}: {cc * 100:.1f} %** (bar: >= 80 %; this model {bar} it),
**FD {fd:.3f}** at the default omega {d['omega']:g} (chosen as the lowest FD of the sweep).

| omega ({nfe}) | class-consistency | FD vs test |
|---|---|---|
{sweep_rows}
""" + (f"""
| steps | omega | class-consistency | FD vs test |
|---|---|---|---|
{multi_rows}
""" if multi_rows else "") + f"""
ONNX vs PyTorch, max abs difference on random inputs: {metrics['onnx_max_abs_diff_vs_pytorch']:.2e}.

## Files
- `{fname}`: the checkpoint pMF Lab runs (EMA weights, EMA index {metrics['ema_index']}).
{pt_line}- `{metrics['samples_png']}`, `metrics.json`: the figures above.
"""
    with open(os.path.join(dest, "README.md"), "w") as f:
        f.write(text)


def publish_toys(run_dirs: List[str], dest: str, n: int = 4000) -> Dict:
    """Export each toy run to dest/{pred}-D{dim}.onnx; write metrics.json, figure.png, README.md."""
    from .render import toy_figure

    os.makedirs(dest, exist_ok=True)
    results, panels = [], []
    for rd in run_dirs:
        run, net, ck = trained_model(rd, 0)
        m = run.model
        P = embedding_matrix(m.dim, run.train.embed_seed)
        samples = toy_samples(net, m.prediction, m.dim, n=n, noise_scale=run.loss.noise_scale)
        stats = toy_sample_stats(samples, P)
        training = _training_summary(run, ck, rd, f"swiss roll in D={m.dim}", 100_000)
        training["metrics"] = {k: round(v, 4) for k, v in stats.items() if isinstance(v, float)}
        fname = f"{m.prediction}-D{m.dim}.onnx"
        meta = build_metadata(m, net, name=f"Swiss roll, {m.prediction}-prediction, D={m.dim}",
                              description="Toy pMF model of the paper's Fig. 2 (1-NFE MeanFlow sampling).",
                              noise_scale=run.loss.noise_scale, t_eps=run.loss.t_eps, data_range=(-2.0, 2.0),
                              sampling={"steps": 1, "omega": 1.0, "t_min": 0.0, "t_max": 1.0},
                              training=training, embedding=P)
        export_onnx(net, m, os.path.join(dest, fname), meta)
        err = verify_export(os.path.join(dest, fname), net, m)
        results.append({"file": fname, "prediction": m.prediction, "dim": m.dim, **stats,
                        "onnx_max_abs_diff_vs_pytorch": err, "steps": ck["step"],
                        "train_minutes": round(ck["train_seconds"] / 60, 1), "command": training["command"],
                        "hardware": training["hardware"]})
        panels.append({"title": f"{m.prediction}-pred, D={m.dim}", "points2d": samples[:1500] @ P,
                       "subtitle": f"mean dist {stats['mean_roll_distance']:.3f}"})
    order = sorted(range(len(results)), key=lambda i: (results[i]["prediction"], results[i]["dim"]))
    results = [results[i] for i in order]
    panels = [panels[i] for i in order]
    toy_figure(panels, os.path.join(dest, "figure.png"), swiss_roll_curve())
    save_json({"models": results, "evaluated": n}, os.path.join(dest, "metrics.json"))
    rows = "\n".join(
        f"| `{r['file']}` | {r['prediction']} | {r['dim']} | {r['mean_roll_distance']:.3f} | "
        f"{r['within_0.1'] * 100:.1f} % | {r['mean_off_plane_norm']:.3f} | {r['steps']} | {r['train_minutes']} |"
        for r in results)
    text = f"""# Swiss roll toy models (the paper's Fig. 2)

A 2D Swiss roll embedded in D dimensions by a fixed column-orthonormal D x 2 matrix
(stored in each model's `pmf.embedding` metadata), learned by a 7-layer ReLU MLP of width 256 as
x-prediction or u-prediction, sampled with one step (1 NFE). The paper's claim: u-prediction
degrades as D grows, x-prediction does not.

![1-NFE samples (blue) over the roll (grey), projected to the data plane](figure.png)

## Metrics (measured by `scripts/pmf-trainer publish-toys`, {n} samples each)
Distance is from the in-plane part of each sample to the roll curve (the roll spans about
[-1.9, 1.9]); off-plane norm is the length of the part outside the data plane (0 for data).

| file | prediction | D | mean distance to roll | within 0.1 | mean off-plane norm | steps | train minutes |
|---|---|---|---|---|---|---|---|
{rows}

## Training
`scripts/pmf-trainer train --preset toy-{{x,u}}-D{{2,16,512}} --run-dir runs/toy-...` (Adam, batch 256,
logit-normal(-0.4, 1.0) time sampling, r = t for half the batch). Hardware: {'; '.join(results[0]['hardware']) if results else ''}.
Contract: inputs `z` [N, D], `t`, `h`; output `x` or `u`; `pmf.kind` = toy (see `docs/checkpoint-format.md`).
"""
    with open(os.path.join(dest, "README.md"), "w") as f:
        f.write(text)
    return {"models": results}
