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
from typing import Dict, List, Sequence

import torch

from .data import embedding_matrix, swiss_roll_curve
from .evaluate import evaluate_generator, load_classifier, real_reference, save_json
from .export import build_metadata, export_onnx, verify_export
from .models import count_params
from .sample import sample
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


def image_generator(net, run, steps: int, omega: float, t_min: float, t_max: float, noise_scale: float):
    m = run.model
    _, cfg_inputs = model_conditioning(m)

    def gen(y, g):
        z1 = torch.randn(y.shape[0], m.in_channels, m.input_size, m.input_size, generator=g) * noise_scale
        return sample(net, z1, prediction=m.prediction, steps=steps, y=y, cfg_inputs=cfg_inputs,
                      omega=omega, t_min=t_min, t_max=t_max, t_eps=run.loss.t_eps)
    return gen


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


def publish_image(run_dir: str, dest: str, classifier_path: str, *, name: str, description: str,
                  class_names: Sequence[str], ema_index: int = 0,
                  omegas: Sequence[float] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
                  n_per_class: int = 1000, steps_eval: Sequence[int] = (1, 2)) -> Dict:
    run, net, ck = trained_model(run_dir, ema_index)
    m, ns = run.model, run.loss.noise_scale
    cls = load_classifier(classifier_path)
    ref = real_reference(cls)
    t_min, t_max = run.sampling.t_min, run.sampling.t_max
    sweep = []
    for om in omegas:
        r = evaluate_generator(image_generator(net, run, 1, om, t_min, t_max, ns), cls, n_per_class)
        sweep.append({"omega": om, "steps": 1, **r})
        print(f"omega {om}: consistency {r['class_consistency']:.3f}  FD {r['fd_vs_test']:.3f}", flush=True)
    # Rule: the default omega is the one with the lowest Frechet distance at 1 NFE.
    best = min(sweep, key=lambda s: s["fd_vs_test"])
    default = {"steps": 1, "omega": best["omega"], "t_min": t_min, "t_max": t_max}
    multi = []
    for st in steps_eval:
        if st == 1:
            continue
        r = evaluate_generator(image_generator(net, run, st, default["omega"], t_min, t_max, ns), cls, n_per_class)
        multi.append({"omega": default["omega"], "steps": st, **r})
    metrics = {
        "default_sampling": default,
        "class_consistency_1nfe": best["class_consistency"],
        "fd_vs_test_1nfe": best["fd_vs_test"],
        "reference_real_test_accuracy": ref["test_accuracy"],
        "reference_fd_train_vs_test": ref["fd_train_vs_test"],
        "omega_sweep": sweep,
        "multi_step": multi,
        "classifier": os.path.basename(classifier_path),
        "ema_index": ema_index, "training_step": ck["step"],
        "samples_per_class": n_per_class,
    }
    training = _training_summary(run, ck, run_dir, "fashion-mnist (60k train)", 60000)
    training["metrics"] = {"class_consistency_1nfe": round(best["class_consistency"], 4),
                           "fd_vs_test_1nfe": round(best["fd_vs_test"], 3),
                           "fd_real_train_vs_test": round(ref["fd_train_vs_test"], 3)}
    os.makedirs(dest, exist_ok=True)
    onnx_path = os.path.join(dest, "model.onnx")
    meta = build_metadata(m, net, name=name, description=description, noise_scale=ns,
                          t_eps=run.loss.t_eps, class_names=list(class_names), sampling=default,
                          training=training)
    export_onnx(net, m, onnx_path, meta)
    metrics["onnx_max_abs_diff_vs_pytorch"] = verify_export(onnx_path, net, m)
    save_pytorch(net, run, os.path.join(dest, "model.pt"), step=ck["step"], ema_index=ema_index)
    # sample grid: one row per class, 10 seeds
    from .render import sample_grid
    g = torch.Generator().manual_seed(0)
    y = torch.arange(m.num_classes).repeat_interleave(10)
    imgs = image_generator(net, run, 1, default["omega"], t_min, t_max, ns)(y, g)
    sample_grid(imgs.numpy(), m.num_classes, class_names, os.path.join(dest, "samples.png"))
    save_json(metrics, os.path.join(dest, "metrics.json"))
    _write_image_card(dest, name, description, run, ck, training, metrics, count_params(net))
    return metrics


def _write_image_card(dest, name, description, run, ck, training, metrics, params):
    m = run.model
    sweep_rows = "\n".join(
        f"| {s['omega']:g} | {s['class_consistency'] * 100:.1f} % | {s['fd_vs_test']:.3f} |"
        for s in metrics["omega_sweep"])
    multi_rows = "\n".join(
        f"| {s['steps']} | {s['omega']:g} | {s['class_consistency'] * 100:.1f} % | {s['fd_vs_test']:.3f} |"
        for s in metrics["multi_step"])
    d = metrics["default_sampling"]
    bar = "meets" if metrics["class_consistency_1nfe"] >= 0.8 else "does NOT yet meet"
    text = f"""# {name}

{description}

![1-NFE samples, one row per class, seeds 0-9 of the grid generator](samples.png)

*1-NFE samples at the default settings (omega {d['omega']:g}, interval [{d['t_min']:g}, {d['t_max']:g}]),
one row per class. Generated by `publish-image` from the EMA weights.*

## Contract
`model.onnx`, pMF checkpoint format v1 (see `docs/checkpoint-format.md`): inputs
`z` [N, {m.in_channels}, {m.input_size}, {m.input_size}], `h`, `y` (0-{m.num_classes - 1}; {m.num_classes} = unconditional),
`omega`, `t_min`, `t_max`; output `{m.prediction}` ({m.prediction}-prediction). Data range [-1, 1], noise scale
{run.loss.noise_scale:g}, t_eps {run.loss.t_eps:g}.

## Architecture
pmfDiT, {params / 1e6:.2f} M parameters: patch {m.patch_size} ({(m.input_size // m.patch_size) ** 2} image tokens),
width {m.hidden_size}, depth {m.depth} ({m.depth - m.aux_head_depth} shared + {m.aux_head_depth} u-head blocks),
{m.num_heads} heads, SwiGLU hidden {m.mlp_hidden}, bottleneck patch embedding ({m.bottleneck_channels} channels),
prefix tokens: {m.num_class_tokens} class, {m.num_cfg_tokens} omega, {m.num_interval_tokens}+{m.num_interval_tokens} interval, {m.num_time_tokens} time.

## Training
- Command: `{training['command']}` (resumable; re-run it to continue).
- Steps: {training['steps']} at batch {training['batch_size']} ({training['epochs']} epochs),
  {training['optimizer']} lr {training['lr']:g}, EMA {training['ema_decays']}.
- Loss: pMF objective with exact JVP, adaptive weighting, logit-normal(t, r)
  ({run.loss.P_mean:g}, {run.loss.P_std:g}), r = t for {run.loss.data_proportion * 100:.0f} %, CFG conditioning with omega in
  [1, {1 + run.loss.cfg_max:g}] (beta {run.loss.cfg_beta:g}), label dropout {run.loss.class_dropout_prob:g}. No perceptual loss.
- Hardware: {'; '.join(training['hardware']) or 'not recorded'}; training time {training['train_hours']} h.

## Metrics (measured by `scripts/pmf-trainer publish-image`)
Evaluation classifier: a small CNN trained by `train-classifier`, test accuracy
{metrics['reference_real_test_accuracy'] * 100:.1f} %. Frechet distance (FD) is computed in its 128-d
feature space against the 10k test images; real data (10k train vs test) scores
**{metrics['reference_fd_train_vs_test']:.3f}**. {metrics['samples_per_class']} samples per class.

**1-NFE class-consistency: {metrics['class_consistency_1nfe'] * 100:.1f} %** (bar: >= 80 %; this model {bar} it),
**FD {metrics['fd_vs_test_1nfe']:.3f}** at the default omega {d['omega']:g} (chosen as the lowest FD of the sweep).

| omega (1 NFE) | class-consistency | FD vs test |
|---|---|---|
{sweep_rows}

| steps | omega | class-consistency | FD vs test |
|---|---|---|---|
{multi_rows}

ONNX vs PyTorch, max abs difference on random inputs: {metrics['onnx_max_abs_diff_vs_pytorch']:.2e}.

## Files
- `model.onnx`: the checkpoint pMF Lab runs (EMA weights, EMA index {metrics['ema_index']}).
- `model.pt`: the same weights for PyTorch (`pmf_trainer.publish.load_pytorch`), loadable with
  `torch.load(weights_only=True)`.
- `samples.png`, `metrics.json`: the figures above.
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
