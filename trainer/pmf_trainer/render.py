"""Figures for model cards: a labelled sample grid, and the toy models' scatter plots."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np


def to_uint8(images: np.ndarray, data_range: Tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """[N, C, H, W] in data_range -> [N, H, W, C] uint8 (round half up, clipped)."""
    lo, hi = data_range
    a = (np.asarray(images, dtype=np.float64) - lo) / (hi - lo)
    return np.clip(np.floor(a * 255 + 0.5), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def sample_grid(images: np.ndarray, rows: int, row_labels: Sequence[str], path: str,
                scale: int = 2, pad: int = 2, label_width: int = 96,
                data_range=(-1.0, 1.0)) -> None:
    """Save a PNG of images laid out rows x (N / rows), with a label per row."""
    from PIL import Image, ImageDraw

    tiles = to_uint8(images, data_range)
    n, h, w, c = tiles.shape
    cols = n // rows
    H = rows * (h * scale + pad) + pad
    W = label_width + cols * (w * scale + pad) + pad
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(rows):
        y0 = pad + i * (h * scale + pad)
        draw.text((4, y0 + h * scale // 2 - 6), str(row_labels[i])[:14], fill=(0, 0, 0))
        for j in range(cols):
            t = tiles[i * cols + j]
            im = Image.fromarray(t[..., 0] if c == 1 else t, "L" if c == 1 else "RGB").convert("RGB")
            im = im.resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(im, (label_width + pad + j * (w * scale + pad), y0))
    canvas.save(path)


def toy_figure(panels: List[Dict], path: str, curve: np.ndarray) -> None:
    """panels: [{title, points2d, subtitle}] drawn over the roll, in a grid of 2 rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = (len(panels) + 1) // 2
    fig, axes = plt.subplots(2, cols, figsize=(3.2 * cols, 6.6), squeeze=False)
    for ax, p in zip(axes.flat, panels):
        ax.plot(curve[:, 0], curve[:, 1], color="#999999", lw=1.0, zorder=1)
        pts = p["points2d"]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, color="#1f77b4", zorder=2)
        ax.set_title(p["title"], fontsize=10)
        ax.set_xlabel(p.get("subtitle", ""), fontsize=8)
        ax.set_xlim(-2.6, 2.6)
        ax.set_ylim(-2.6, 2.6)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
