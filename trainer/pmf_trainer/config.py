"""Model and training configurations, with named presets.

Names follow the paper: t (noise level, 1 = noise), r (<= t), h = t - r,
omega (CFG scale), t_min / t_max (guidance interval).

model_type: "mean-flow" (pMF: a network of (z, r, t), x or u output) or "flow-matching"
(a network of (z, t) only, x or v output: JiT's x-prediction, or plain v).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, asdict
from typing import Any, Dict, List, Optional


MODEL_TYPES = ("mean-flow", "flow-matching")


def check_prediction(model_type: str, prediction: str) -> None:
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    allowed = ("x", "v") if model_type == "flow-matching" else ("x", "u")
    if prediction not in allowed:
        raise ValueError(f"prediction must be {allowed[0]!r} or {allowed[1]!r} for a {model_type} model, "
                         f"got {prediction!r}")


@dataclass
class DiTConfig:
    """A pmfDiT (plain ViT, in-context conditioning, no adaLN)."""

    arch: str = "pmfDiT"
    input_size: int = 28
    in_channels: int = 1
    patch_size: int = 4
    hidden_size: int = 192
    depth: int = 6                # total blocks on the u path (shared + u head)
    num_heads: int = 6
    mlp_ratio: float = 8.0 / 3.0
    num_classes: int = 10         # 0 = unconditional (no y input, no class tokens)
    cfg_inputs: bool = True       # omega / t_min / t_max inputs (needs num_classes > 0)
    aux_head_depth: int = 2       # depth of the u head (official: 8); shared = depth - aux_head_depth
    # the official training code's auxiliary v head: not built here (inference needs the u path
    # only); kept so saved configs load
    v_head: bool = False
    bottleneck_channels: int = 128
    num_class_tokens: int = 8
    num_time_tokens: int = 4
    num_cfg_tokens: int = 4
    num_interval_tokens: int = 2
    token_init_constant: float = 1.0
    embedding_init_constant: float = 1.0
    weight_init_constant: float = 0.32
    rope_theta: float = 10000.0
    frequency_embedding_size: int = 256
    prediction: str = "x"         # "x" or "u" ("x" or "v" for flow matching): what the network outputs
    model_type: str = "mean-flow"  # or "flow-matching": the time tokens then carry t (no h, no r)

    def validate(self) -> None:
        check_prediction(self.model_type, self.prediction)
        if self.input_size % self.patch_size:
            raise ValueError("input_size must be a multiple of patch_size")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        if (self.hidden_size // self.num_heads) % 4:
            raise ValueError("head_dim must be a multiple of 4 for 2D RoPE")
        if not 0 <= self.aux_head_depth <= self.depth:
            raise ValueError("aux_head_depth must lie in [0, depth]")
        if self.cfg_inputs and self.num_classes <= 0:
            raise ValueError("CFG inputs need a class-conditional model (num_classes > 0)")

    @property
    def mlp_hidden(self) -> int:
        hidden = int(self.hidden_size * self.mlp_ratio)
        if self.hidden_size > 1024:  # the official H models round to a multiple of 8
            hidden = (hidden + 7) // 8 * 8
        return hidden


@dataclass
class MLPConfig:
    """The toy MLP of the paper's Fig. 2 (ReLU, fixed width)."""

    arch: str = "toyMLP"
    dim: int = 2                  # D, the ambient dimension
    hidden: int = 256
    layers: int = 7               # linear layers in total
    time_features: int = 16       # sinusoidal features for each of t and h (flow matching: t only)
    prediction: str = "x"
    model_type: str = "mean-flow"

    def validate(self) -> None:
        check_prediction(self.model_type, self.prediction)
        if self.layers < 2:
            raise ValueError("layers must be >= 2")


@dataclass
class LossConfig:
    P_mean: float = 0.8
    P_std: float = 0.8
    data_proportion: float = 0.5     # fraction of the batch with r = t
    noise_scale: float = 1.0
    t_eps: float = 0.05              # clamp of t in u = (z - x) / t
    norm_eps: float = 0.01           # adaptive weighting L / sg(L + eps)
    norm_p: float = 1.0
    cfg_max: float = 7.0             # omega in [1, 1 + cfg_max]
    cfg_beta: float = 1.0            # p(omega) ~ omega^-beta
    class_dropout_prob: float = 0.1
    perceptual_weight: float = 0.0   # optional feature-distance term on x (t < t_thr)
    perceptual_t_thr: float = 0.8


@dataclass
class TrainConfig:
    dataset: str = "fashion-mnist"   # fashion-mnist | swiss-roll | folder:PATH
    steps: int = 10000
    batch_size: int = 128
    optimizer: str = "adam"          # adam | muon
    lr: float = 1e-3
    adam_b1: float = 0.9
    adam_b2: float = 0.95
    weight_decay: float = 0.0
    warmup_steps: int = 0
    ema_decays: List[float] = field(default_factory=lambda: [0.999])
    seed: int = 0
    threads: int = 1                 # one thread per process is fastest on these CPUs (see README)
    log_every: int = 50
    ckpt_every: int = 200
    sample_every: int = 0
    embed_seed: int = 1234            # toy: seed of the D x 2 embedding
    embed_dim: int = 2                # toy: D
    perceptual_net: str = ""          # feature net for loss.perceptual_weight (train-classifier output)


@dataclass
class SamplingConfig:
    steps: int = 1
    omega: float = 1.0
    t_min: float = 0.0
    t_max: float = 1.0
    solver: str = "euler"            # flow-matching models: euler | heun (MeanFlow models ignore it)


def to_dict(obj: Any) -> Dict[str, Any]:
    return asdict(obj)


def model_config_from_dict(d: Dict[str, Any]):
    d = dict(d)
    arch = d.get("arch", "pmfDiT")
    cls = DiTConfig if arch == "pmfDiT" else MLPConfig if arch == "toyMLP" else None
    if cls is None:
        raise ValueError(f"unknown architecture {arch!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {arch} config keys: {sorted(unknown)}")
    cfg = cls(**d)
    cfg.validate()
    return cfg


def dataclass_from_dict(cls, d: Optional[Dict[str, Any]]):
    if d is None:
        return cls()
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**d)


# Official sizes (paper Sec. 5 / official code). /32 variants run at 512^2.
OFFICIAL_SIZES = {
    "B": dict(depth=16, hidden_size=768, num_heads=12),
    "L": dict(depth=32, hidden_size=1024, num_heads=16),
    "H": dict(depth=48, hidden_size=1280, num_heads=16),
}
OFFICIAL_SAMPLING = {
    "B/16": dict(omega=8.5, t_min=0.1, t_max=0.7, noise_scale=1.0),
    "L/16": dict(omega=7.0, t_min=0.2, t_max=0.7, noise_scale=1.0),
    "H/16": dict(omega=7.0, t_min=0.2, t_max=0.6, noise_scale=2.0),
    "B/32": dict(omega=6.5, t_min=0.1, t_max=0.7, noise_scale=2.0),
    "L/32": dict(omega=7.5, t_min=0.2, t_max=0.6, noise_scale=4.0),
    "H/32": dict(omega=5.5, t_min=0.1, t_max=0.6, noise_scale=4.0),
}


def official_config(name: str) -> DiTConfig:
    """DiTConfig of an official pMF model, e.g. 'B/16' or 'H/32'."""
    size, patch = name.split("/")
    patch = int(patch)
    if size not in OFFICIAL_SIZES or patch not in (16, 32):
        raise ValueError(f"unknown official model {name!r} (expected B|L|H / 16|32)")
    s = OFFICIAL_SIZES[size]
    return DiTConfig(
        input_size=256 if patch == 16 else 512,
        in_channels=3,
        patch_size=patch,
        num_classes=1000,
        cfg_inputs=True,
        aux_head_depth=8,
        bottleneck_channels=128 if s["hidden_size"] <= 1024 else 256,
        num_class_tokens=8,
        num_time_tokens=4,
        num_cfg_tokens=4,
        num_interval_tokens=2,
        prediction="x",
        **s,
    )


PRESETS: Dict[str, Dict[str, Any]] = {
    # A tiny model for tests and quick experiments.
    "dit-tiny": dict(
        model=dict(hidden_size=64, depth=2, num_heads=2, aux_head_depth=1,
                   bottleneck_channels=32, num_class_tokens=2, num_time_tokens=2,
                   num_cfg_tokens=1, num_interval_tokens=1),
    ),
    # The bundled Fashion-MNIST model.
    "fashion-mnist": dict(
        model=dict(input_size=28, in_channels=1, patch_size=7, hidden_size=192,
                   depth=6, num_heads=6, aux_head_depth=2, bottleneck_channels=64,
                   num_class_tokens=4, num_time_tokens=2, num_cfg_tokens=1,
                   num_interval_tokens=1, num_classes=10, cfg_inputs=True),
        loss=dict(P_mean=-0.4, P_std=1.0, cfg_max=4.0),
        train=dict(dataset="fashion-mnist", steps=40000, batch_size=128, optimizer="muon",
                   lr=2e-3, ema_decays=[0.999, 0.9995], log_every=50, ckpt_every=100),
        sampling=dict(steps=1, omega=2.0, t_min=0.0, t_max=1.0),
    ),
}

# A tiny flow-matching model, JiT's recipe: x-prediction, the loss in v-space (plain L2: norm_p 0),
# label dropout 0.1 and CFG by two passes at sampling; Heun steps.
PRESETS["fm-tiny"] = dict(
    model=dict(model_type="flow-matching", prediction="x", cfg_inputs=False, hidden_size=64, depth=2,
               num_heads=2, aux_head_depth=1, bottleneck_channels=32, num_class_tokens=2, num_time_tokens=2),
    loss=dict(P_mean=-0.4, P_std=1.0, norm_p=0.0, class_dropout_prob=0.1),
    train=dict(dataset="fashion-mnist", steps=2000, batch_size=64, optimizer="adam", lr=1e-3),
    sampling=dict(steps=16, omega=2.0, t_min=0.0, t_max=1.0, solver="heun"),
)

# Table 2's direction at laptop scale: x- and u-prediction pMF models on Fashion-MNIST with the
# same network (width 96) and the same 49 image tokens, at a low patch dimension (28x28, 4x4
# patches: 16 values per token, well under the width) and a high one (the same images enlarged
# to 112x112, 16x16 patches: 256 values, above the width). As in the paper (ImageNet 64x64 with
# 4x4 patches against 256x256 with 16x16), only the patch size and the resolution change, so the
# compute per step is matched up to the patch embedding and the output projection.
TABLE2_MODEL = dict(hidden_size=96, depth=4, num_heads=4, aux_head_depth=1, bottleneck_channels=32,
                    num_class_tokens=2, num_time_tokens=2, num_cfg_tokens=1, num_interval_tokens=1,
                    num_classes=10, cfg_inputs=True)
TABLE2_TRAIN = dict(steps=3000, batch_size=64, optimizer="muon", lr=2e-3, ema_decays=[0.999],
                    log_every=50, ckpt_every=100)
for _pred in ("x", "u"):
    PRESETS[f"table2-{_pred}-p4"] = dict(
        model=dict(TABLE2_MODEL, input_size=28, patch_size=4, prediction=_pred),
        loss=dict(P_mean=-0.4, P_std=1.0, cfg_max=4.0),
        train=dict(TABLE2_TRAIN, dataset="fashion-mnist"),
        sampling=dict(steps=1, omega=2.0, t_min=0.0, t_max=1.0),
    )
    PRESETS[f"table2-{_pred}-p16"] = dict(
        model=dict(TABLE2_MODEL, input_size=112, patch_size=16, prediction=_pred),
        loss=dict(P_mean=-0.4, P_std=1.0, cfg_max=4.0),
        train=dict(TABLE2_TRAIN, dataset="fashion-mnist@112"),
        sampling=dict(steps=1, omega=2.0, t_min=0.0, t_max=1.0),
    )

# The flow-matching model of Fig. 1 (JiT's recipe on the same data and network as table2-x-p4):
# x-prediction, the loss in v-space, CFG by two passes, Heun steps.
PRESETS["fm-fig1"] = dict(
    model=dict(TABLE2_MODEL, input_size=28, patch_size=4, model_type="flow-matching", prediction="x",
               cfg_inputs=False),
    loss=dict(P_mean=-0.4, P_std=1.0, norm_p=0.0, class_dropout_prob=0.1),
    train=dict(TABLE2_TRAIN, dataset="fashion-mnist", optimizer="muon"),
    sampling=dict(steps=16, omega=2.0, t_min=0.0, t_max=1.0, solver="heun"),
)

# The toy Swiss roll models of Fig. 2: toy-{x,u}-D{2,8,16,512}.
for _pred in ("x", "u"):
    for _dim in (2, 8, 16, 512):
        PRESETS[f"toy-{_pred}-D{_dim}"] = dict(
            model=dict(arch="toyMLP", dim=_dim, prediction=_pred),
            loss=dict(P_mean=-0.4, P_std=1.0, class_dropout_prob=0.0),
            train=dict(dataset="swiss-roll", embed_dim=_dim, steps=8000, batch_size=256,
                       optimizer="adam", lr=1e-3, ema_decays=[0.999], log_every=200, ckpt_every=1000),
            sampling=dict(steps=1),
        )


def _parse_value(text: str):
    import json
    try:
        return json.loads(text)
    except ValueError:
        return text


def preset_run_dict(name: str, overrides=()) -> Dict[str, Any]:
    """A run configuration (model/loss/train/sampling dicts) from a preset and KEY=VALUE overrides.

    Overrides name a section and a field, e.g. `model.hidden_size=128` or `train.steps=500`;
    values are JSON (numbers, booleans, lists) or plain strings.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    p = PRESETS[name]
    d = {sec: dict(p.get(sec, {})) for sec in ("model", "loss", "train", "sampling")}
    for ov in overrides:
        key, sep, value = ov.partition("=")
        sec, dot, fld = key.partition(".")
        if not sep or not dot or sec not in d:
            raise ValueError(f"override {ov!r} is not SECTION.FIELD=VALUE (sections: model, loss, train, sampling)")
        d[sec][fld] = _parse_value(value)
    base_model = asdict(MLPConfig() if d["model"].get("arch") == "toyMLP" else DiTConfig())
    base_model.update(d["model"])
    return {"model": base_model,
            "loss": {**asdict(LossConfig()), **d["loss"]},
            "train": {**asdict(TrainConfig()), **d["train"]},
            "sampling": {**asdict(SamplingConfig()), **d["sampling"]}}
