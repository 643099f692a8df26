"""The training loop: deterministic with a seed, checkpointed, resumable.

A run lives in one folder: `run.json` (the full configuration), `checkpoint.pt` (model,
optimizer, EMA, RNG and data-order state, written atomically), `log.jsonl` (one line per
log step). Re-running the same command resumes from the checkpoint and reaches the
same weights as an uninterrupted run. SIGINT / SIGTERM save a checkpoint before exiting.
"""
from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict
from typing import Any, Dict, Optional

import torch

from .config import (DiTConfig, LossConfig, MLPConfig, SamplingConfig, TrainConfig,
                     dataclass_from_dict, model_config_from_dict)
from .data import Dataset, load_dataset
from .flow_loss import flow_matching_loss
from .loss import pmf_loss
from .models import build_model, count_params
from .optim import EMA, CombinedOptimizer


class BatchOrder:
    """Shuffled epochs from (seed, epoch); its state is two integers."""

    def __init__(self, n: int, batch_size: int, seed: int):
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} exceeds the dataset size {n}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.pos = 0, 0
        self._perm = None

    def _permutation(self):
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            self._perm = torch.randperm(self.n, generator=g)
        return self._perm

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        idx = self._permutation()[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self):
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, s):
        self.epoch, self.pos, self._perm = s["epoch"], s["pos"], None


class RunConfig:
    """Everything that defines a run; stored as run.json."""

    def __init__(self, model, loss: LossConfig, train: TrainConfig, sampling: SamplingConfig):
        self.model, self.loss, self.train, self.sampling = model, loss, train, sampling

    def to_dict(self) -> Dict[str, Any]:
        return {"model": asdict(self.model), "loss": asdict(self.loss),
                "train": asdict(self.train), "sampling": asdict(self.sampling)}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "RunConfig":
        return cls(model_config_from_dict(d["model"]), dataclass_from_dict(LossConfig, d.get("loss")),
                   dataclass_from_dict(TrainConfig, d.get("train")),
                   dataclass_from_dict(SamplingConfig, d.get("sampling")))


def model_conditioning(model_cfg):
    """(num_classes, cfg_inputs) of a model config."""
    if isinstance(model_cfg, DiTConfig):
        return model_cfg.num_classes, model_cfg.cfg_inputs
    return 0, False


def dataset_for(run: RunConfig) -> Dataset:
    tc = run.train
    m = run.model
    if isinstance(m, MLPConfig):
        return load_dataset(tc.dataset, embed_dim=m.dim, embed_seed=tc.embed_seed, seed=tc.seed)
    ds = load_dataset(tc.dataset, size=m.input_size, channels=m.in_channels, seed=tc.seed)
    if ds.size != m.input_size:
        raise ValueError(f"dataset {tc.dataset!r} gives {ds.size}x{ds.size} images; the model takes "
                         f"{m.input_size}x{m.input_size} (set train.dataset=fashion-mnist@{m.input_size} "
                         "or model.input_size)")
    return ds


def _atomic_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(run_dir: str, device: str = "cpu"):
    """The run's own resumable checkpoint (written by this trainer, so fully unpickled; PyTorch
    >= 2.6 would otherwise refuse its optimizer and RNG state by default). Never point this at a
    file from elsewhere: checkpoints from others go through official.load_state_dict.
    Tensors land on `device`, so a run started on the CPU resumes on a GPU and back."""
    path = os.path.join(run_dir, "checkpoint.pt")
    return torch.load(path, map_location=device, weights_only=False)


def training_device() -> str:
    """CUDA when PyTorch sees a GPU, unless PMF_DEVICE=cpu; PMF_DEVICE=cuda insists on one."""
    want = os.environ.get("PMF_DEVICE", "").strip().lower()
    if want not in ("", "cpu", "cuda"):
        raise ValueError(f"PMF_DEVICE={want!r}: use cpu or cuda")
    if want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("PMF_DEVICE=cuda but this PyTorch sees no CUDA GPU "
                           f"(torch {torch.__version__}, built with CUDA {torch.version.cuda})")
    return "cuda" if want != "cpu" and torch.cuda.is_available() else "cpu"


def restore_generator(gen: torch.Generator, state: Optional[torch.Tensor], saved_device: str,
                      seed: int, step: int) -> bool:
    """Put the loss's noise generator back where the checkpoint left it.

    CPU and CUDA generators keep different states (a Mersenne Twister vs a Philox seed and
    offset), so a run moved between devices cannot continue the same noise stream: it is
    reseeded from (seed, step) instead, which is deterministic but not bit-identical to an
    unmoved run. Returns True when the stream continues exactly."""
    if state is not None and saved_device == gen.device.type:
        gen.set_state(state.cpu())
        return True
    gen.manual_seed(seed * 1_000_003 + step)
    return False


def train(run_dir: str, run: Optional[RunConfig] = None, *, max_steps: Optional[int] = None,
          max_minutes: Optional[float] = None, quiet: bool = False) -> Dict[str, Any]:
    """Train (or resume) the run in run_dir. Returns a summary dict.

    max_steps / max_minutes stop this invocation early (the run stays resumable).
    """
    os.makedirs(run_dir, exist_ok=True)
    cfg_path = os.path.join(run_dir, "run.json")
    if os.path.exists(cfg_path):
        stored = RunConfig.from_dict(json.load(open(cfg_path)))
        if run is not None and run.to_dict() != stored.to_dict():
            raise ValueError(f"{run_dir} holds a run with another configuration; "
                             "use a new folder or omit the configuration to resume it")
        run = stored
    elif run is None:
        raise ValueError(f"{run_dir} holds no run.json: give a configuration to start a run")
    else:
        with open(cfg_path, "w") as f:
            json.dump(run.to_dict(), f, indent=2)

    tc, lc = run.train, run.loss
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    device = training_device()
    ds = dataset_for(run)
    net = build_model(run.model).to(device)
    opt = CombinedOptimizer(net, tc.optimizer, tc.lr, (tc.adam_b1, tc.adam_b2), tc.weight_decay)
    ema = EMA(net, tc.ema_decays)
    gen = torch.Generator(device=device).manual_seed(tc.seed)
    order = BatchOrder(ds.x.shape[0], tc.batch_size, tc.seed)
    num_classes, cfg_inputs = model_conditioning(run.model)
    prediction = run.model.prediction
    flow = run.model.model_type == "flow-matching"
    perceptual = None
    if lc.perceptual_weight > 0 and flow:
        raise ValueError("loss.perceptual_weight is for MeanFlow models; the flow-matching loss has no perceptual term")
    if lc.perceptual_weight > 0:
        if not tc.perceptual_net:
            raise ValueError("loss.perceptual_weight > 0 needs train.perceptual_net (a train-classifier checkpoint)")
        from .perceptual import make_perceptual
        perceptual = make_perceptual(tc.perceptual_net).to(device)
    step, train_seconds, hardware = 0, 0.0, []
    ckpt_path = os.path.join(run_dir, "checkpoint.pt")
    if os.path.exists(ckpt_path):
        ck = load_checkpoint(run_dir, device)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        ema.load_state_dict(ck["ema"])
        order.load_state_dict(ck["order"])
        step, train_seconds = ck["step"], ck["train_seconds"]
        hardware = list(ck.get("hardware", []))
        saved_device = ck.get("gen_device", "cpu")  # runs saved before this key trained on the CPU
        exact = restore_generator(gen, ck["gen_state"], saved_device, tc.seed, step)
        if not quiet:
            print(f"resumed {run_dir} at step {step}", flush=True)
            if not exact:
                print(f"note: the run moves from {saved_device} to {device}; its noise stream is "
                      f"reseeded from (seed, step), so it will not match an unmoved run bit for bit",
                      flush=True)

    from .export import hardware_summary

    if hardware_summary() not in hardware:
        hardware.append(hardware_summary())

    def save():
        _atomic_save({"model": net.state_dict(), "optimizer": opt.state_dict(), "ema": ema.state_dict(),
                      "gen_state": gen.get_state(), "gen_device": gen.device.type, "order": order.state_dict(), "step": step,
                      "train_seconds": train_seconds, "hardware": hardware, "run": run.to_dict()},
                     ckpt_path)

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    old_handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    if not quiet:
        print(f"{run.model.arch} {count_params(net) / 1e6:.2f}M params, {ds.x.shape[0]} samples, "
              f"device {device}, {tc.threads} threads", flush=True)
    log = open(os.path.join(run_dir, "log.jsonl"), "a")
    end_step = tc.steps if max_steps is None else min(tc.steps, step + max_steps)
    t_start = time.time()
    window_t, window_n, window_loss, window_steps = time.time(), 0, 0.0, 0
    try:
        while step < end_step and not stop["flag"]:
            if max_minutes is not None and time.time() - t_start > 60 * max_minutes:
                break
            t0 = time.time()
            lr = tc.lr * min(1.0, (step + 1) / tc.warmup_steps) if tc.warmup_steps else tc.lr
            opt.set_lr(lr)
            idx = order.next()
            x = ds.batch(idx).to(device)
            y = None if ds.y is None or num_classes == 0 else ds.y[idx].to(device)
            if flow:
                out = flow_matching_loss(net, x, y, lc, prediction, num_classes, cfg_inputs, gen)
            else:
                out = pmf_loss(net, x, y, lc, prediction, num_classes, cfg_inputs, gen, perceptual)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            step += 1
            ema.update(net, step)
            train_seconds += time.time() - t0
            window_n += x.shape[0]
            window_loss += float(out["loss_v"])
            window_steps += 1
            if step % tc.log_every == 0 or step == end_step:
                dt = time.time() - window_t
                rec = {"step": step, "loss_v": window_loss / window_steps,
                       "img_per_s": window_n / dt, "lr": lr, "epoch": order.epoch,
                       "train_seconds": round(train_seconds, 1)}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if not quiet:
                    print(f"step {step}/{tc.steps}  loss_v {rec['loss_v']:.4f}  "
                          f"{rec['img_per_s']:.1f} img/s  epoch {order.epoch}  "
                          f"{train_seconds / 3600:.2f} h", flush=True)
                window_t, window_n, window_loss, window_steps = time.time(), 0, 0.0, 0
            if step % tc.ckpt_every == 0:
                save()
    finally:
        save()
        log.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)
    return {"step": step, "train_seconds": train_seconds, "done": step >= tc.steps}


def trained_model(run_dir: str, ema_index: Optional[int] = 0):
    """(model config, network in eval mode, run config) from a run folder; EMA weights by default."""
    ck = load_checkpoint(run_dir)
    run = RunConfig.from_dict(ck["run"])
    net = build_model(run.model)
    state = ck["model"] if ema_index is None else ck["ema"]["shadows"][ema_index]
    net.load_state_dict(state)
    net.eval()
    return run, net, ck
