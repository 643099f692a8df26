"""Inception-v3 as FID computes it: the network of pytorch-fid (`fid_inception_v3`), the
TensorFlow `inception-2015-12-05` graph ported to PyTorch, for the weights file pytorch-fid
downloads (`pt_inception-2015-12-05-6726825d.pth`).

It differs from torchvision's ImageNet Inception-v3 in its weights (1008 classes, no
auxiliary head) and in its pooling branches, as TensorFlow's graph computes them:

- the average pools of the A, C and first E blocks (Mixed_5b-d, Mixed_6b-e, Mixed_7b) leave the
  zero padding out of the average (`count_include_pad=False`);
- the last E block (Mixed_7c) max-pools where torchvision average-pools.

The module's state-dict keys are those of the weights file (torchvision's names: `Mixed_6b.
branch7x7dbl_3.conv.weight`, `...bn.running_var`, `fc.weight`), so
`FIDInceptionV3().load_state_dict(torch.load(path, map_location="cpu", weights_only=True))`
reads it; `read_weights` and `check_state_dict` do the same with errors that say what is wrong.

`FIDInceptionV3.forward` takes pixel levels 0..255 as floats, [N, 3, H, W] RGB of any size,
and does what pytorch-fid does to an image read from disk (ToTensor, then its InceptionV3 with
resize_input and normalize_input): /255 (after clamping to 0..255, which valid levels pass unchanged), bilinear resize to 299x299 (align_corners=False, no
antialiasing; the identity at 299), 2x - 1; it returns pool3 (the 2048 features FID uses) and
the 1008 logits of the final layer (with its bias).
"""
from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, not PyTorch's 1e-5
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"

Kernel = Union[int, Tuple[int, int]]


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU: torchvision's BasicConv2d, whose
    two children give the keys `conv.weight` and `bn.{weight,bias,running_mean,running_var}`."""

    def __init__(self, cin: int, cout: int, kernel: Kernel, stride: int = 1, padding: Kernel = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Branch(NamedTuple):
    """One branch of a mixed block: an optional pool on the block's input, then convolutions in
    sequence, then optionally two convolutions side by side on the last output (concatenated).
    A convolution is (name, out channels, kernel[, stride]); stride-1 convolutions keep the
    spatial size ("same" padding), stride-2 ones are unpadded (the blocks that halve the size).
    pool: None; "avg" (3x3, stride 1, padding 1, padding left out of the average); "max"
    (3x3, stride 1, padding 1); "reduce" (3x3 max, stride 2, unpadded: a branch without
    convolutions)."""
    convs: Sequence[tuple] = ()
    pool: Optional[str] = None
    split: Sequence[tuple] = ()


def _same_padding(kernel: Kernel) -> Tuple[int, int]:
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return kh // 2, kw // 2


class Mixed(nn.Module):
    """An Inception block: its branches run on the same input and are concatenated along the
    channels in the order given. The convolutions are registered under their own names
    (`branch3x3dbl_2`, ...), as in the weights file."""

    def __init__(self, cin: int, branches: Sequence[Branch]):
        super().__init__()
        self.branches = list(branches)
        self.out_channels = 0
        for br in self.branches:
            c = cin
            for conv in br.convs:
                c = self._add(c, *conv)
            if br.split:
                c = sum(self._add(c, *conv) for conv in br.split)
            self.out_channels += c

    def _add(self, cin: int, name: str, cout: int, kernel: Kernel, stride: int = 1) -> int:
        self.add_module(name, ConvBN(cin, cout, kernel, stride, _same_padding(kernel) if stride == 1 else 0))
        return cout

    @staticmethod
    def _pool(kind: Optional[str], x: torch.Tensor) -> torch.Tensor:
        if kind is None:
            return x
        if kind == "avg":
            return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        if kind == "max":
            return F.max_pool2d(x, 3, stride=1, padding=1)
        if kind == "reduce":
            return F.max_pool2d(x, 3, stride=2)
        raise ValueError(f"unknown pool {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for br in self.branches:
            y = self._pool(br.pool, x)
            for conv in br.convs:
                y = getattr(self, conv[0])(y)
            if br.split:
                y = torch.cat([getattr(self, conv[0])(y) for conv in br.split], 1)
            outs.append(y)
        return torch.cat(outs, 1)


# The blocks, by their TensorFlow roles (Szegedy et al. 2016, figures 5-7 and the grid reductions).

def block_a(pool_features: int) -> List[Branch]:
    """35x35 block (Mixed_5b-d)."""
    return [Branch([("branch1x1", 64, 1)]),
            Branch([("branch5x5_1", 48, 1), ("branch5x5_2", 64, 5)]),
            Branch([("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3)]),
            Branch([("branch_pool", pool_features, 1)], pool="avg")]


def block_b() -> List[Branch]:
    """35x35 -> 17x17 reduction (Mixed_6a)."""
    return [Branch([("branch3x3", 384, 3, 2)]),
            Branch([("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3, 2)]),
            Branch(pool="reduce")]


def block_c(c7: int) -> List[Branch]:
    """17x17 block with factorized 7x7 convolutions (Mixed_6b-e)."""
    return [Branch([("branch1x1", 192, 1)]),
            Branch([("branch7x7_1", c7, 1), ("branch7x7_2", c7, (1, 7)), ("branch7x7_3", 192, (7, 1))]),
            Branch([("branch7x7dbl_1", c7, 1), ("branch7x7dbl_2", c7, (7, 1)), ("branch7x7dbl_3", c7, (1, 7)),
                    ("branch7x7dbl_4", c7, (7, 1)), ("branch7x7dbl_5", 192, (1, 7))]),
            Branch([("branch_pool", 192, 1)], pool="avg")]


def block_d() -> List[Branch]:
    """17x17 -> 8x8 reduction (Mixed_7a)."""
    return [Branch([("branch3x3_1", 192, 1), ("branch3x3_2", 320, 3, 2)]),
            Branch([("branch7x7x3_1", 192, 1), ("branch7x7x3_2", 192, (1, 7)), ("branch7x7x3_3", 192, (7, 1)),
                    ("branch7x7x3_4", 192, 3, 2)]),
            Branch(pool="reduce")]


def block_e(pool: str) -> List[Branch]:
    """8x8 block with split 1x3 / 3x1 outputs (Mixed_7b: pool "avg"; Mixed_7c: pool "max")."""
    return [Branch([("branch1x1", 320, 1)]),
            Branch([("branch3x3_1", 384, 1)], split=[("branch3x3_2a", 384, (1, 3)), ("branch3x3_2b", 384, (3, 1))]),
            Branch([("branch3x3dbl_1", 448, 1), ("branch3x3dbl_2", 384, 3)],
                   split=[("branch3x3dbl_3a", 384, (1, 3)), ("branch3x3dbl_3b", 384, (3, 1))]),
            Branch([("branch_pool", 192, 1)], pool=pool)]


MIXED = (("Mixed_5b", block_a(32)), ("Mixed_5c", block_a(64)), ("Mixed_5d", block_a(64)),
         ("Mixed_6a", block_b()),
         ("Mixed_6b", block_c(128)), ("Mixed_6c", block_c(160)), ("Mixed_6d", block_c(160)), ("Mixed_6e", block_c(192)),
         ("Mixed_7a", block_d()), ("Mixed_7b", block_e("avg")), ("Mixed_7c", block_e("max")))


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception-v3 with its final layer; see the module docstring."""

    def __init__(self):
        super().__init__()
        # the stem: 299 -> 149 -> 147 -> 147 -> (max) 73 -> 73 -> 71 -> (max) 35
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        c = 192
        self.mixed_names = [name for name, _ in MIXED]
        for name, branches in MIXED:
            block = Mixed(c, branches)
            setattr(self, name, block)
            c = block.out_channels
        assert c == FEATURE_DIM, c
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048 pool3 features of images already at the network's scale ([-1, 1]); any size
        from 75x75 works, FID uses 299x299."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in self.mixed_names:
            x = getattr(self, name)(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, levels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """levels: [N, 3, H, W] RGB pixel levels 0..255 (floats). Returns (features [N, 2048],
        logits [N, 1008])."""
        x = levels.clamp(0, 255) / 255.0  # the clamp changes nothing on valid levels
        x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        features = self.pool3(x)
        return features, self.fc(features)


# -- weights -------------------------------------------------------------------------------------

_SHAPES: Optional["OrderedDict[str, torch.Size]"] = None


def expected_shapes() -> "OrderedDict[str, torch.Size]":
    """Every state-dict key of the network (buffers included) and its shape."""
    global _SHAPES
    if _SHAPES is None:
        _SHAPES = OrderedDict((k, v.shape) for k, v in FIDInceptionV3().state_dict().items())
    return _SHAPES


def _optional(key: str) -> bool:
    """Keys a weights file may leave out: BatchNorm's step counter (never read in eval mode;
    PyTorch fills it in when a state dict lacks it)."""
    return key.endswith(".num_batches_tracked")


def random_state_dict(seed: int = 0, num_batches_tracked: bool = True) -> "OrderedDict[str, torch.Tensor]":
    """Random weights of the right shapes, for tests: He-scaled convolutions and batch-norm
    statistics near (0, 1), so activations keep an O(1) scale through the 94 layers."""
    g = torch.Generator().manual_seed(seed)
    sd: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, shape in expected_shapes().items():
        if _optional(key):
            if num_batches_tracked:
                sd[key] = torch.tensor(0, dtype=torch.long)
            continue
        leaf = key.rsplit(".", 1)[1]
        if key.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            t = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif key == "fc.weight":
            t = torch.randn(shape, generator=g) / shape[1] ** 0.5
        elif leaf == "weight":  # batch-norm scale
            t = 0.75 + 0.5 * torch.rand(shape, generator=g)
        elif leaf == "running_var":
            t = 0.75 + 0.5 * torch.rand(shape, generator=g)
        else:  # batch-norm shift and mean, fc bias
            t = 0.1 * torch.randn(shape, generator=g)
        sd[key] = t
    return sd


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())


def read_weights(path: str) -> Dict[str, torch.Tensor]:
    """The state dict in `path`, read with torch.load(weights_only=True): tensors and containers
    are unpickled, nothing in the file runs. Errors name the file and say what it is instead."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file (pytorch-fid keeps {WEIGHTS_FILE} in "
                                f"~/.cache/torch/hub/checkpoints/)")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give the weights file ({WEIGHTS_FILE})")
    if _is_torchscript(path):
        raise ValueError(f"{path} is a TorchScript archive (such as NVIDIA's inception-2015-12-05.pt that clean-fid "
                         f"and StyleGAN use), not a state dict: give pytorch-fid's {WEIGHTS_FILE}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # PyTorch before 1.13
        raise ValueError("this PyTorch cannot read weights safely (torch.load weights_only); use PyTorch >= 1.13")
    except Exception as e:  # noqa: BLE001 - any unpickling failure, reported plainly
        raise ValueError(f"{path}: not a PyTorch state dict that torch.load(weights_only=True) reads "
                         f"({type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}); "
                         f"give pytorch-fid's {WEIGHTS_FILE}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict (a dict of tensors)")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: not a state dict: {_listing(bad)} {'is' if len(bad) == 1 else 'are'} not tensors")
    return obj


def _listing(keys: Iterable[str], limit: int = 6) -> str:
    keys = list(keys)
    shown = ", ".join(str(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_state_dict(sd: Dict[str, torch.Tensor], source: str = "the state dict") -> None:
    """Raise ValueError naming `source` unless `sd` holds exactly this network's tensors with
    their shapes (num_batches_tracked may be absent), all floating point and finite."""
    want = expected_shapes()
    missing = [k for k in want if k not in sd and not _optional(k)]
    unexpected = [k for k in sd if k not in want]
    shapes = [f"{k} is {list(sd[k].shape)}, expected {list(want[k])}"
              for k in want if k in sd and tuple(sd[k].shape) != tuple(want[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key{'s' if len(missing) > 1 else ''} ({_listing(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key{'s' if len(unexpected) > 1 else ''} ({_listing(unexpected)})")
    if shapes:
        problems.append(f"{len(shapes)} wrong shape{'s' if len(shapes) > 1 else ''} ({_listing(shapes, 3)})")
    if problems:
        hint = f"give pytorch-fid's {WEIGHTS_FILE} (or torch-fidelity's weights-inception-2015-12-05-6726825d.pth)"
        fc = sd.get("fc.weight")
        if any(k.startswith("AuxLogits.") for k in sd) or (fc is not None and fc.shape[0] == 1000):
            hint = ("this looks like torchvision's ImageNet Inception-v3 (1000 classes, auxiliary head), whose "
                    "weights and pooling differ from the network FID uses: " + hint)
        elif sd and all(k.startswith("module.") for k in sd):
            hint = "its keys carry a 'module.' prefix (a DataParallel wrapper): " + hint
        raise ValueError(f"{source} is not the FID Inception-v3 weights: {'; '.join(problems)}. {hint}")
    for k in want:
        if k in sd and not _optional(k):
            t = sd[k]
            if not t.is_floating_point():
                raise ValueError(f"{source}: {k} has dtype {t.dtype}, expected floating point")
            if not torch.isfinite(t).all():
                raise ValueError(f"{source}: {k} holds non-finite values (a damaged file?)")


def complete(sd: Dict[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """`sd` with the optional keys it lacks filled in, so a strict load_state_dict takes it."""
    out = OrderedDict(sd)
    for k in expected_shapes():
        if _optional(k) and k not in out:
            out[k] = torch.tensor(0, dtype=torch.long)
    return out


def build(sd: Dict[str, torch.Tensor], source: str = "the state dict") -> FIDInceptionV3:
    """The network with weights `sd` (checked first), in eval mode, without gradients."""
    check_state_dict(sd, source)
    net = FIDInceptionV3()
    net.load_state_dict(complete(sd), strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def load(path: str) -> FIDInceptionV3:
    """The network with the weights in `path` (read_weights, then build)."""
    return build(read_weights(path), path)
