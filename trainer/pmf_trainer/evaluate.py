"""Evaluation of class-conditional image models with a small Fashion-MNIST classifier.

- class-consistency: the share of 1-NFE samples that the classifier assigns to the
  class they were conditioned on (real test images score the classifier's accuracy);
- Frechet distance in the classifier's penultimate features (an FID in a feature space
  that exists offline), against the test set, with the real-vs-real figure beside it
  (10k training images against the 10k test images).
"""
from __future__ import annotations

import json
import os
import time
from typing import Dict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import load_fashion_mnist


class FMNISTClassifier(nn.Module):
    """A small CNN: 3 conv stages and a 128-d feature layer."""

    feature_dim = 128

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(128, self.feature_dim), nn.ReLU())
        self.head = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train_classifier(out_path: str, epochs: int = 6, seed: int = 0, threads: int = 2,
                     batch_size: int = 128, quiet: bool = False) -> Dict[str, float]:
    """Train the evaluation classifier on the training split; report test accuracy."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    net = FMNISTClassifier()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (train.x.shape[0] // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    step = 0
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(train.x.shape[0], generator=g)
        for i in range(0, train.x.shape[0] - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            x = train.x[idx]
            # light augmentation: horizontal flips and 2-pixel shifts
            flip = torch.rand(x.shape[0], generator=g) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
            x = torch.roll(x, (dy, dx), dims=(2, 3))
            loss = F.cross_entropy(net(x), train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        acc = accuracy(net, test.x, test.y)
        if not quiet:
            print(f"epoch {epoch + 1}/{epochs}  loss {loss.item():.3f}  test acc {acc:.4f}  "
                  f"{time.time() - t0:.0f}s", flush=True)
    net.eval()
    report = {"test_accuracy": accuracy(net, test.x, test.y), "epochs": epochs, "seed": seed,
              "train_seconds": round(time.time() - t0, 1)}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    # The report travels as JSON text so that torch.load(weights_only=True) reads the file on
    # PyTorch 1.13 too (its safe unpickler knows no floats).
    torch.save({"state_dict": net.state_dict(), "report_json": json.dumps(report)}, out_path)
    return report


def load_classifier(path: str) -> FMNISTClassifier:
    if not os.path.exists(path):
        raise FileNotFoundError(f"classifier {path} not found; train it with "
                                "`python3 -m pmf_trainer train-classifier --out {path}`")
    ck = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: nothing executes
    net = FMNISTClassifier()
    net.load_state_dict(ck["state_dict"])
    return net.eval()


@torch.no_grad()
def _batched(fn, x: torch.Tensor, bs: int = 500) -> torch.Tensor:
    return torch.cat([fn(x[i:i + bs]) for i in range(0, x.shape[0], bs)])


@torch.no_grad()
def accuracy(net: FMNISTClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    was_training = net.training
    net.eval()
    pred = _batched(net, x).argmax(1)
    net.train(was_training)
    return float((pred == y).float().mean())


@torch.no_grad()
def features(net: FMNISTClassifier, x: torch.Tensor) -> np.ndarray:
    return _batched(net.features, x.clamp(-1, 1)).double().numpy()


def frechet_distance(fa: np.ndarray, fb: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)."""
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    w, V = np.linalg.eigh(sa)
    sqrt_sa = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    m = sqrt_sa @ sb @ sqrt_sa
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * tr_sqrt)


def real_reference(classifier: FMNISTClassifier, view=None) -> Dict[str, float]:
    """The figures real data scores: test accuracy and FD(10k train, 10k test). view: what the
    classifier sees of a model's data (e.g. the images enlarged and reduced again, for a model
    trained on enlarged images), applied to the real images too."""
    view = view or (lambda x: x)
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(train.x.shape[0], generator=g)[:10000]
    tx = view(test.x)
    return {"test_accuracy": accuracy(classifier, tx, test.y),
            "fd_train_vs_test": frechet_distance(features(classifier, view(train.x[idx])),
                                                 features(classifier, tx))}


@torch.no_grad()
def test_features(classifier: FMNISTClassifier, view=None) -> np.ndarray:
    """The classifier's features of the 10k test images (seen through view, as real_reference says)."""
    x = load_fashion_mnist("test").x
    return features(classifier, x if view is None else view(x))


@torch.no_grad()
def evaluate_generator(generate, classifier: FMNISTClassifier, n_per_class: int = 1000,
                       num_classes: int = 10, seed: int = 0, batch: int = 500, view=None,
                       reference: np.ndarray = None) -> Dict[str, float]:
    """generate(y, gen) -> images in [-1, 1]; returns class-consistency and FD vs the test set
    (seen through view; reference: test_features(classifier, view), computed once by a sweep)."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.arange(num_classes).repeat_interleave(n_per_class)
    imgs = torch.cat([generate(ys[i:i + batch], g) for i in range(0, ys.shape[0], batch)])
    pred = _batched(classifier, imgs.clamp(-1, 1)).argmax(1)
    per_class = [float((pred[ys == c] == c).float().mean()) for c in range(num_classes)]
    if reference is None:
        reference = test_features(classifier, view)
    return {"class_consistency": float((pred == ys).float().mean()),
            "class_consistency_per_class": per_class,
            "fd_vs_test": frechet_distance(features(classifier, imgs), reference),
            "num_samples": int(ys.shape[0])}


def save_json(obj, path: str) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
