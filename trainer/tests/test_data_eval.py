"""Datasets, the optimizer, the toy distance and the Frechet distance."""
import gzip
import struct

import numpy as np
import pytest
import torch

from conftest import has_fashion_mnist
from pmf_trainer.data import (_read_idx, embedding_matrix, load_fashion_mnist, load_swiss_roll,
                              swiss_roll_curve)
from pmf_trainer.evaluate import frechet_distance
from pmf_trainer.optim import EMA, CombinedOptimizer, newton_schulz
from pmf_trainer.toy_eval import roll_distance, toy_sample_stats


def test_idx_reader_round_trip_and_rejects_foreign_files(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "a-idx3-ubyte.gz"
    with gzip.open(p, "wb") as f:
        f.write(struct.pack(">I", 0x0803) + struct.pack(">III", 2, 3, 4) + arr.tobytes())
    np.testing.assert_array_equal(_read_idx(str(p)), arr)
    bad = tmp_path / "b.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    with pytest.raises(ValueError, match="not an IDX"):
        _read_idx(str(bad))
    trunc = tmp_path / "c.gz"
    with gzip.open(trunc, "wb") as f:
        f.write(struct.pack(">I", 0x0803) + struct.pack(">III", 2, 3, 4) + arr.tobytes()[:10])
    with pytest.raises(ValueError, match="truncated"):
        _read_idx(str(trunc))


@pytest.mark.skipif(not has_fashion_mnist(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_loads_in_the_data_range():
    ds = load_fashion_mnist("test")
    assert ds.x.shape == (10000, 1, 28, 28) and ds.y.shape == (10000,)
    assert float(ds.x.min()) == -1.0 and float(ds.x.max()) == 1.0
    assert sorted(set(ds.y.tolist())) == list(range(10)) and len(ds.class_names) == 10


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", root=str(tmp_path))


@pytest.mark.parametrize("dim", [2, 16, 512])
def test_swiss_roll_lies_in_a_plane_of_the_embedding(dim):
    ds = load_swiss_roll(dim, n=500)
    P = ds.embedding
    np.testing.assert_allclose(P.T @ P, np.eye(2), atol=1e-10)
    x = ds.x.double().numpy()
    off = x - (x @ P) @ P.T
    assert np.abs(off).max() < 1e-5
    assert roll_distance(x @ P).max() < 0.02  # the data is on the roll
    np.testing.assert_array_equal(embedding_matrix(dim, 1234), embedding_matrix(dim, 1234))


def test_toy_stats_measure_distance_and_off_plane_norm():
    P = embedding_matrix(16, 1234)
    curve = swiss_roll_curve(400)
    on = curve[::4] @ P.T
    s = toy_sample_stats(on, P)
    assert s["mean_roll_distance"] < 1e-3 and s["mean_off_plane_norm"] < 1e-9 and s["within_0.1"] == 1.0
    g = np.random.default_rng(0)
    noise = g.standard_normal((on.shape[0], 16))
    s2 = toy_sample_stats(on + 0.5 * noise, P)
    assert s2["mean_off_plane_norm"] == pytest.approx(0.5 * np.sqrt(14), rel=0.1)


def test_frechet_distance_closed_forms():
    g = np.random.default_rng(0)
    a = g.standard_normal((20000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, I): |m|^2;  N(0, I) vs N(0, 4I): d (2 - 1)^2 = 4
    m = np.array([1.0, -2.0, 0.0, 0.5])
    b = g.standard_normal((20000, 4))
    assert frechet_distance(a, b + m) == pytest.approx(float(m @ m), rel=0.03)
    assert frechet_distance(a, 2 * b) == pytest.approx(4.0, rel=0.05)


def test_newton_schulz_orthogonalises():
    g = torch.Generator().manual_seed(0)
    for shape in [(32, 96), (96, 32)]:
        m = torch.randn(*shape, generator=g)
        s = torch.linalg.svdvals(newton_schulz(m))
        assert float(s.min()) > 0.5 and float(s.max()) < 1.3  # Muon's quintic lands near 1


def test_muon_optimizer_groups_and_ema():
    from pmf_trainer.config import DiTConfig
    from pmf_trainer.models import build_model

    net = build_model(DiTConfig(input_size=8, patch_size=4, hidden_size=16, depth=2, num_heads=2,
                                aux_head_depth=1, bottleneck_channels=4, num_classes=2))
    opt = CombinedOptimizer(net, "muon", 1e-3)
    adam, muon = opt.optimizers
    n_muon = sum(p.numel() for g in muon.param_groups for p in g["params"])
    assert n_muon == 2 * (4 * 16 * 16 + 3 * 16 * int(16 * 8 / 3))  # the blocks' matrices
    ema = EMA(net, [0.5])
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net, step=10_000)
    k = "pos_embed"
    torch.testing.assert_close(ema.shadows[0][k], net.state_dict()[k] - 0.5)


def test_perceptual_term_is_a_distance_and_enters_the_loss(tmp_path):
    from pmf_trainer.config import LossConfig
    from pmf_trainer.evaluate import FMNISTClassifier
    from pmf_trainer.loss import pmf_loss
    from pmf_trainer.perceptual import FeatureDistance

    p = tmp_path / "feat.pt"
    torch.manual_seed(0)
    torch.save({"state_dict": FMNISTClassifier().state_dict(), "report": {}}, p)
    fd = FeatureDistance(str(p))
    assert len(fd.stages) == 3
    a = torch.rand(4, 1, 28, 28) * 2 - 1
    b = torch.rand(4, 1, 28, 28) * 2 - 1
    assert torch.allclose(fd(a, a), torch.zeros(4), atol=1e-6)
    assert bool((fd(a, b) > 0).all())
    from pmf_trainer.config import DiTConfig
    from pmf_trainer.models import build_model
    from conftest import randomize_zero_inits

    net = randomize_zero_inits(build_model(DiTConfig(hidden_size=32, depth=1, num_heads=2, aux_head_depth=1,
                                                     bottleneck_channels=8, patch_size=7)))
    x, y = a, torch.tensor([0, 1, 2, 3])
    base = LossConfig(perceptual_t_thr=1.01)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    plain = pmf_loss(net, x, y, base, "x", 10, True, g())
    withp = pmf_loss(net, x, y, LossConfig(perceptual_weight=0.5, perceptual_t_thr=1.01), "x", 10, True, g(), fd)
    assert float(withp["loss_perc"]) > 0 and float(withp["loss"]) > float(plain["loss"])


class _Payload:
    def __reduce__(self):
        import os
        return (os.system, ("touch pwned-by-classifier",))


def test_the_classifier_loads_safely_and_refuses_a_code_carrying_file(tmp_path, monkeypatch):
    """--classifier takes any path: it is read with weights_only=True, so a pickle that would
    run code is refused and nothing runs. The bundled one reads back with its report."""
    import json
    import os
    from conftest import REPO_ROOT
    from pmf_trainer.evaluate import load_classifier
    bundled = os.path.join(REPO_ROOT, "models", "eval", "fashion-mnist-classifier.pt")
    assert not load_classifier(bundled).training
    report = json.loads(torch.load(bundled, map_location="cpu", weights_only=True)["report_json"])
    assert abs(report["test_accuracy"] - 0.92) < 0.01
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": _Payload()}, evil)
    with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
        load_classifier(str(evil))
    assert not (tmp_path / "pwned-by-classifier").exists()
