"""convert-official: official key names and shapes -> our pmfDiT, numerically equivalent.

The official weights cannot be downloaded here. These tests build state dicts with the
official key names and shapes (from the official code's module tree: `net.` prefix,
`_flax_linear` / `_flax_embedding` wrappers, a complex `rope_freqs` buffer, a v head)
filled with random values, and compare our converted model with an independent
re-statement of the official forward written directly over those raw tensors, in the
official style (complex RoPE, einsum attention, float32 softmax).
"""
import json
import math
import os

import pytest
import torch
import torch.nn.functional as F

from conftest import needs_ort
from pmf_trainer.config import official_config
from pmf_trainer.convert import convert_official
from pmf_trainer.model_dit import PmfDiT
from pmf_trainer.official import ConversionError, convert_state_dict, infer_config, load_state_dict


def official_state_dict(d=64, heads=4, shared=1, u_depth=2, patch=4, size=16, ch=3, classes=10,
                        bottleneck=16, n_cls=8, n_cfg=4, n_int=2, n_time=4, freq=256, seed=0):
    """Random tensors under the official names and shapes (pmfDiT with v head)."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *s: torch.randn(*s, generator=g) * 0.2  # noqa: E731
    sd = {}
    sd["net.x_embedder.proj1.weight"] = rnd(bottleneck, ch, patch, patch)
    sd["net.x_embedder.proj1.bias"] = rnd(bottleneck)
    sd["net.x_embedder.proj2.weight"] = rnd(d, bottleneck, 1, 1)
    sd["net.x_embedder.proj2.bias"] = rnd(d)
    for e in ("h", "omega", "cfg_t_start", "cfg_t_end"):
        sd[f"net.{e}_embedder.mlp.0._flax_linear.weight"] = rnd(d, freq) / 4
        sd[f"net.{e}_embedder.mlp.0._flax_linear.bias"] = rnd(d)
        sd[f"net.{e}_embedder.mlp.2._flax_linear.weight"] = rnd(d, d) / 2
        sd[f"net.{e}_embedder.mlp.2._flax_linear.bias"] = rnd(d)
    sd["net.y_embedder.embedding_table._flax_embedding.weight"] = rnd(classes + 1, d)
    for name, n in (("time", n_time), ("class", n_cls), ("omega", n_cfg), ("t_min", n_int), ("t_max", n_int)):
        sd[f"net.{name}_tokens"] = rnd(1, n, d)
    grid = size // patch
    sd["net.pos_embed"] = rnd(1, n_cls + n_cfg + 2 * n_int + n_time + grid * grid, d)
    hidden = int(d * 8 / 3)
    if d > 1024:  # the official H models round the SwiGLU width up to a multiple of 8
        hidden = (hidden + 7) // 8 * 8
    hd = d // heads
    for group, depth in (("shared_blocks", shared), ("u_heads", u_depth), ("v_heads", u_depth)):
        for i in range(depth):
            p = f"net.{group}.{i}."
            sd[p + "norm1.weight"] = 1 + rnd(d)
            sd[p + "norm2.weight"] = 1 + rnd(d)
            for q in ("q", "k", "v", "out"):
                sd[p + f"attn.{q}_proj._flax_linear.weight"] = rnd(d, d) / math.sqrt(d) * 4
            sd[p + "attn.q_norm.weight"] = 1 + rnd(hd)
            sd[p + "attn.k_norm.weight"] = 1 + rnd(hd)
            sd[p + "mlp.w1._flax_linear.weight"] = rnd(hidden, d) / math.sqrt(d) * 4
            sd[p + "mlp.w3._flax_linear.weight"] = rnd(hidden, d) / math.sqrt(d) * 4
            sd[p + "mlp.w2._flax_linear.weight"] = rnd(d, hidden) / math.sqrt(hidden) * 4
            sd[p + "attn_scale"] = rnd(d)
            sd[p + "mlp_scale"] = rnd(d)
    for head in ("u", "v"):
        sd[f"net.{head}_final_layer.norm.weight"] = 1 + rnd(d)
        sd[f"net.{head}_final_layer.linear._flax_linear.weight"] = rnd(patch * patch * ch, d)
        sd[f"net.{head}_final_layer.linear._flax_linear.bias"] = rnd(patch * patch * ch)
    # the official complex RoPE table: rows then columns, theta 10000
    dim = hd // 2
    freqs = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    pos = torch.arange(grid, dtype=torch.float32)
    fh = torch.einsum("i,j->ij", pos, freqs)
    f2 = torch.cat([fh[:, None, :].repeat(1, grid, 1), fh[None, :, :].repeat(grid, 1, 1)], -1)
    sd["net.rope_freqs"] = torch.complex(torch.cos(f2).reshape(grid * grid, dim), torch.sin(f2).reshape(grid * grid, dim))
    return sd


def official_forward(sd, z, t, h, omega, t_min, t_max, y, heads):
    """The official pmfDiT u-path forward, re-stated over raw official tensors. Returns (x_out, u)."""
    W = lambda k: sd["net." + k]  # noqa: E731

    def lin(x, k, bias=True):
        b = W(k + "._flax_linear.bias") if bias else None
        return F.linear(x, W(k + "._flax_linear.weight"), b)

    def rms(x, w):
        return x * torch.rsqrt(torch.mean(torch.square(x), -1, keepdim=True) + 1e-6) * w

    def temb(s, name):
        half = 128
        fr = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half)
        a = s[:, None].float() * fr[None]
        e = torch.cat([torch.cos(a), torch.sin(a)], -1)
        return lin(F.silu(lin(e, f"{name}_embedder.mlp.0")), f"{name}_embedder.mlp.2")

    x = F.conv2d(z, W("x_embedder.proj1.weight"), W("x_embedder.proj1.bias"), stride=W("x_embedder.proj1.weight").shape[-1])
    x = F.conv2d(x, W("x_embedder.proj2.weight"), W("x_embedder.proj2.bias"))
    B = z.shape[0]
    x = x.permute(0, 2, 3, 1).reshape(B, -1, x.shape[1])
    seq = torch.cat([
        W("class_tokens") + W("y_embedder.embedding_table._flax_embedding.weight")[y][:, None],
        W("omega_tokens") + temb(1 - 1 / omega, "omega")[:, None],
        W("t_min_tokens") + temb(t_min, "cfg_t_start")[:, None],
        W("t_max_tokens") + temb(t_max, "cfg_t_end")[:, None],
        W("time_tokens") + temb(h, "h")[:, None],
        x], 1) + W("pos_embed")
    cis = sd["net.rope_freqs"][None, :, None, :]
    T = cis.shape[1]

    def rope(q):
        qc = torch.view_as_complex(q.float().reshape(*q.shape[:-1], -1, 2).contiguous())
        out = qc.clone()
        out[:, -T:] = qc[:, -T:] * cis
        return torch.view_as_real(out).flatten(-2)

    def block(s, p):
        b, n, d = s.shape
        hd = d // heads
        a = rms(s, W(p + "norm1.weight"))
        q = rms(lin(a, p + "attn.q_proj", False).reshape(b, n, heads, hd), W(p + "attn.q_norm.weight"))
        k = rms(lin(a, p + "attn.k_proj", False).reshape(b, n, heads, hd), W(p + "attn.k_norm.weight"))
        v = lin(a, p + "attn.v_proj", False).reshape(b, n, heads, hd)
        q, k = rope(q), rope(k)
        w = F.softmax(torch.einsum("bqhd,bkhd->bhqk", q / math.sqrt(hd), k), dim=-1, dtype=torch.float32)
        att = torch.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, n, d)
        s = s + lin(att, p + "attn.out_proj", False) * W(p + "attn_scale")
        m = rms(s, W(p + "norm2.weight"))
        mlp = lin(F.silu(lin(m, p + "mlp.w1", False)) * lin(m, p + "mlp.w3", False), p + "mlp.w2", False)
        return s + mlp * W(p + "mlp_scale")

    groups = {}
    for key in sd:
        parts = key.split(".")
        if parts[1] in ("shared_blocks", "u_heads"):
            groups.setdefault(parts[1], set()).add(int(parts[2]))
    for g in ("shared_blocks", "u_heads"):
        for i in sorted(groups.get(g, ())):
            seq = block(seq, f"{g}.{i}.")
    n_img = T
    tok = seq[:, -n_img:]
    out = lin(rms(tok, W("u_final_layer.norm.weight")), "u_final_layer.linear")
    p = W("x_embedder.proj1.weight").shape[-1]
    c = W("x_embedder.proj1.weight").shape[1]
    gsz = int(n_img ** 0.5)
    out = out.reshape(B, gsz, gsz, p, p, c)
    out = torch.einsum("nhwpqc->nchpwq", out).reshape(B, c, gsz * p, gsz * p)
    u = (z - out) / torch.clamp(t.reshape(B, 1, 1, 1), min=0.05)
    return out, u


def batch(cfg, n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, cfg.in_channels, cfg.input_size, cfg.input_size, generator=g)
    t = torch.tensor([1.0, 0.5, 0.02][:n])
    h = torch.tensor([1.0, 0.25, 0.0][:n])
    omega = torch.tensor([7.0, 1.0, 3.0][:n])
    t_min = torch.tensor([0.1, 0.0, 0.2][:n])
    t_max = torch.tensor([0.7, 1.0, 0.6][:n])
    y = torch.tensor([3, 10, 0][:n])  # 10 = null class
    return z, t, h, omega, t_min, t_max, y


def test_converted_model_equals_official_forward():
    sd = official_state_dict()
    cfg, name = infer_config(sd)
    assert (cfg.hidden_size, cfg.depth, cfg.aux_head_depth, cfg.num_heads, cfg.patch_size) == (64, 3, 2, 4, 4)
    assert (cfg.num_class_tokens, cfg.num_cfg_tokens, cfg.num_interval_tokens, cfg.num_time_tokens) == (8, 4, 2, 4)
    net = PmfDiT(cfg).eval()
    net.load_state_dict(convert_state_dict(sd, net))
    z, t, h, omega, t_min, t_max, y = batch(cfg)
    with torch.no_grad():
        ours = net(z, t, h, omega, t_min, t_max, y)
        ref_x, ref_u = official_forward(sd, z, t, h, omega, t_min, t_max, y, heads=4)
    assert float(ref_x.abs().mean()) > 0.05  # a non-trivial output
    torch.testing.assert_close(ours, ref_x, rtol=1e-4, atol=1e-5)
    u = (z - ours) / torch.clamp(t, min=0.05).reshape(-1, 1, 1, 1)
    torch.testing.assert_close(u, ref_u, rtol=1e-4, atol=1e-4)


def test_official_size_configs_have_the_paper_parameter_counts():
    """B/16 118M, L/16 410M, H/16 956M parameters without the v head (paper Sec. 5)."""
    net = PmfDiT(official_config("B/16"))  # L and H take too long to build in a unit test
    assert 115e6 < sum(p.numel() for p in net.parameters()) < 122e6


def test_conversion_rejects_foreign_and_broken_dicts(tmp_path):
    sd = official_state_dict()
    cfg, _ = infer_config(sd)
    net = PmfDiT(cfg)
    bad = dict(sd)
    bad["net.pos_embed"] = bad["net.pos_embed"][:, :-1]
    with pytest.raises(ConversionError, match="pos_embed"):
        convert_state_dict(bad, net)
    missing = {k: v for k, v in sd.items() if "u_heads.1.mlp" not in k}
    with pytest.raises(ConversionError, match="lacks"):
        convert_state_dict(missing, net)
    with pytest.raises(ConversionError, match="not an official pMF checkpoint"):
        infer_config({"weight": torch.zeros(3)})
    p = tmp_path / "foreign.pt"
    torch.save([1, 2, 3], p)
    with pytest.raises(ConversionError, match="dict of tensors"):
        load_state_dict(str(p))
    p2 = tmp_path / "garbage.pt"
    p2.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ConversionError, match="not a loadable"):
        load_state_dict(str(p2))


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_malicious_pickle_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "evil.pt"
    torch.save({"net.pos_embed": torch.zeros(1), "payload": _Boom()}, p)
    with pytest.raises(ConversionError):
        load_state_dict(str(p))
    assert not (tmp_path / "pwned-by-pickle").exists()


def _saved_official(tmp_path, seed):
    """An official-named state dict (random values) saved as tmp_path/pMF-tiny.pt."""
    ck = tmp_path / "pMF-tiny.pt"
    torch.save(official_state_dict(seed=seed), ck)
    return ck


def _onnx_metadata(path):
    import onnx
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@needs_ort
def test_convert_official_end_to_end(tmp_path):
    ck = _saved_official(tmp_path, seed=3)
    out = tmp_path / "tiny.onnx"
    res = convert_official(str(ck), str(out))
    assert res["inputs"] == ["z", "h", "y", "omega", "t_min", "t_max"]
    assert res["max_abs_diff_vs_pytorch"] < 1e-4
    meta = _onnx_metadata(out)
    assert meta["pmf.prediction"] == "x" and meta["pmf.num_classes"] == "10"
    assert "converted" in meta["pmf.name"]


@needs_ort
def test_convert_official_with_class_names(tmp_path):
    ck = _saved_official(tmp_path, seed=4)
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(f"class {i}, with a comma" for i in range(10)) + "\n\n", encoding="utf-8")
    out = tmp_path / "tiny.onnx"
    convert_official(str(ck), str(out), verify=False, class_names=str(names))
    assert json.loads(_onnx_metadata(out)["pmf.class_names"]) == [f"class {i}, with a comma" for i in range(10)]
    short = tmp_path / "short.json"
    short.write_text(json.dumps(["a", "b"]), encoding="utf-8")
    with pytest.raises(ConversionError, match="names 2 classes; the checkpoint has 10"):
        convert_official(str(ck), str(tmp_path / "x.onnx"), verify=False, class_names=str(short))
    assert not (tmp_path / "x.onnx").exists()


def test_infer_config_reads_the_frequency_embedding_size():
    cfg, _ = infer_config(official_state_dict(freq=8))
    assert cfg.frequency_embedding_size == 8
    cfg, _ = infer_config(official_state_dict())
    assert cfg.frequency_embedding_size == 256
