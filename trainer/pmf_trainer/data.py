"""Datasets: the toy Swiss roll in D dims, Fashion-MNIST (Debian's package), an image folder.

Every dataset yields data in its model's data range: images in [-1, 1] (NCHW, float32),
toy points as [N, D] float32. Labels are int64 class indices (None when unconditional).
"""
from __future__ import annotations

import gzip
import math
import os
import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

FASHION_MNIST_DIR = os.environ.get("PMF_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@dataclass
class Dataset:
    x: torch.Tensor                  # all samples, in the data range
    y: Optional[torch.Tensor]        # labels or None
    class_names: List[str]
    data_range: Tuple[float, float]
    kind: str                        # "image" | "toy"
    embedding: Optional[np.ndarray] = None  # toy: D x 2 column-orthonormal matrix
    upsample: int = 1                # images: each batch is enlarged this many times (bilinear)

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """The samples at idx, at the model's size (see `upsample`)."""
        x = self.x[idx]
        return upsample_images(x, self.upsample) if self.upsample > 1 else x

    @property
    def size(self) -> int:
        """The image side the model sees (0 for toy data)."""
        return self.x.shape[-1] * self.upsample if self.kind == "image" else 0

    def batches(self, batch_size: int, gen: torch.Generator):
        """Endless shuffled batches (a new permutation each epoch)."""
        n = self.x.shape[0]
        while True:
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n - batch_size + 1, batch_size):
                idx = perm[i:i + batch_size]
                yield self.batch(idx), (None if self.y is None else self.y[idx])


# -- Fashion-MNIST ----------------------------------------------------------------
def _read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:  # unsigned byte data
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {magic:#x})")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated ({arr.size} of {int(np.prod(dims))} values)")
    return arr.reshape(dims)


def load_fashion_mnist(split: str = "train", root: str = FASHION_MNIST_DIR) -> Dataset:
    """Fashion-MNIST from Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)."""
    prefix = {"train": "train", "test": "t10k"}[split]
    img_path = os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")
    lbl_path = os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")
    if not os.path.exists(img_path):
        raise FileNotFoundError(
            f"Fashion-MNIST not found at {img_path}. Install it with "
            "`sudo apt-get install dataset-fashion-mnist` (or run scripts/setup-system.sh), "
            "or set PMF_FASHION_MNIST to a folder holding the four idx .gz files.")
    images = _read_idx(img_path).astype(np.float32) / 127.5 - 1.0
    labels = _read_idx(lbl_path).astype(np.int64)
    return Dataset(torch.from_numpy(images[:, None]), torch.from_numpy(labels),
                   list(FASHION_MNIST_CLASSES), (-1.0, 1.0), "image")


def upsample_images(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear enlargement by an integer factor (values stay in the data range).

    `fashion-mnist@112` is Fashion-MNIST enlarged 4x per batch (not stored: 60,000 images at
    112x112 would be 3 GB): the same data manifold in 16x the ambient dimension, as the
    paper's Table 2 compares ImageNet at 64x64 and 256x256 with the same number of tokens."""
    return torch.nn.functional.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def downsample_images(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Area (mean over factor x factor blocks) reduction, the evaluator's view of an enlarged model."""
    return torch.nn.functional.avg_pool2d(x, factor)


# -- Swiss roll ----------------------------------------------------------------------
def swiss_roll_2d(n: int, gen: torch.Generator, noise: float = 0.0) -> torch.Tensor:
    """The 2D Swiss roll, scaled to roughly unit variance per axis."""
    s = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=gen, dtype=torch.float64))
    pts = torch.stack([s * torch.cos(s), s * torch.sin(s)], dim=1) / 7.5
    if noise > 0:
        pts = pts + noise * torch.randn(pts.shape, generator=gen, dtype=torch.float64)
    return pts.float()


def swiss_roll_curve(samples: int = 2000) -> np.ndarray:
    """The noiseless roll as a dense polyline in the data plane, for distance measurements."""
    s = np.linspace(1.5 * math.pi, 4.5 * math.pi, samples)
    return np.stack([s * np.cos(s), s * np.sin(s)], axis=1) / 7.5


def embedding_matrix(dim: int, seed: int) -> np.ndarray:
    """A fixed column-orthonormal D x 2 matrix P (identity for D = 2)."""
    if dim == 2:
        return np.eye(2)
    g = np.random.default_rng(seed)
    q, _ = np.linalg.qr(g.standard_normal((dim, 2)))
    return q


def load_swiss_roll(dim: int, n: int = 100_000, seed: int = 0, embed_seed: int = 1234) -> Dataset:
    gen = torch.Generator().manual_seed(seed)
    pts = swiss_roll_2d(n, gen)
    P = embedding_matrix(dim, embed_seed)
    x = pts.double() @ torch.from_numpy(P).T
    return Dataset(x.float(), None, [], (-2.0, 2.0), "toy", embedding=P)


# -- Image folder -----------------------------------------------------------------------
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def load_image_folder(root: str, size: int, channels: int) -> Dataset:
    """A folder of images; sub-folders are classes (sorted), else unconditional."""
    from PIL import Image

    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist")
    subdirs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    entries = []
    if subdirs:
        for ci, d in enumerate(subdirs):
            for f in sorted(os.listdir(os.path.join(root, d))):
                if f.lower().endswith(IMAGE_EXTS):
                    entries.append((os.path.join(root, d, f), ci))
    else:
        entries = [(os.path.join(root, f), -1) for f in sorted(os.listdir(root))
                   if f.lower().endswith(IMAGE_EXTS)]
    if not entries:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) found in {root!r}")
    mode = "L" if channels == 1 else "RGB"
    arrs = []
    for path, _ in entries:
        with Image.open(path) as im:
            im = im.convert(mode)
            w, h = im.size  # centre crop to square, then resize
            s = min(w, h)
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            im = im.resize((size, size), Image.BICUBIC)
            a = np.asarray(im, dtype=np.float32)
            arrs.append(a[None] if channels == 1 else a.transpose(2, 0, 1))
    x = torch.from_numpy(np.stack(arrs) / 127.5 - 1.0)
    y = torch.tensor([c for _, c in entries]) if subdirs else None
    return Dataset(x, y, subdirs, (-1.0, 1.0), "image")


def load_dataset(spec: str, *, embed_dim: int = 2, embed_seed: int = 1234, seed: int = 0,
                 size: int = 28, channels: int = 1) -> Dataset:
    if spec == "fashion-mnist":
        return load_fashion_mnist("train")
    if spec.startswith("fashion-mnist@"):
        side = spec[len("fashion-mnist@"):]
        if not side.isdigit() or int(side) % 28 or int(side) < 28:
            raise ValueError(f"dataset {spec!r}: the side after @ must be a multiple of 28 (e.g. fashion-mnist@112)")
        ds = load_fashion_mnist("train")
        ds.upsample = int(side) // 28
        return ds
    if spec == "swiss-roll":
        return load_swiss_roll(embed_dim, seed=seed, embed_seed=embed_seed)
    if spec.startswith("folder:"):
        return load_image_folder(spec[len("folder:"):], size, channels)
    raise ValueError(f"unknown dataset {spec!r} (fashion-mnist | fashion-mnist@SIDE | swiss-roll | folder:PATH)")
