"""FID Inception: the torch-free weight reader, the state-dict -> Flax mapping, the resize, one forward."""
import hashlib
import json
import pathlib
import pickle

import jax
import numpy as np
import pytest

from jaxgan.metrics import inception as inc
from jaxgan.metrics.torch_state_dict import TorchFileError, read_torch_state_dict

DATA = pathlib.Path(__file__).parent / "data"
# {name: shape} of pytorch-fid's fid_inception_v3().state_dict(), dumped from torchvision/pytorch-fid
# by tests/data/make_metrics_fixtures.py (independent of jaxgan's Flax code).
TORCH_SHAPES = json.loads((DATA / "fid_inception_state_dict_shapes.json").read_text())


@pytest.mark.parametrize("name", ["torch_state_dict_zip.pth", "torch_state_dict_legacy.pth"])
def test_reads_both_torch_formats_without_torch(name):
    sd = read_torch_state_dict(DATA / name)
    base = np.arange(12, dtype=np.float32).reshape(3, 4)   # what make_metrics_fixtures.py saved
    np.testing.assert_array_equal(sd["offset_view"], base[1:])
    np.testing.assert_array_equal(sd["transposed_view"], base.T)
    assert sd["count"].shape == () and sd["count"] == 7 and sd["count"].dtype == np.int64
    np.testing.assert_array_equal(sd["doubles"], np.linspace(-1.0, 1.0, 5))
    assert sd["ints"].dtype == np.int32 and sd["ints"].tolist() == [[1, -2], [3, -4]]


def test_reader_refuses_code_and_garbage(tmp_path):
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:   # legacy layout whose payload would call os.system on load
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(b"cos\nsystem\n(S'touch pwned'\ntR.")
    with pytest.raises(TorchFileError, match="os.system"):
        read_torch_state_dict(evil)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"definitely not torch")
    with pytest.raises(TorchFileError, match="not a PyTorch weight file"):
        read_torch_state_dict(garbage)


def _synthetic_state_dict(seed=0):
    rng = np.random.default_rng(seed)
    sd = {}
    for name, shape in TORCH_SHAPES.items():
        if name.endswith("num_batches_tracked"):
            sd[name] = np.array(0, np.int64)
        elif name.endswith("conv.weight"):
            sd[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)
        elif name.endswith("running_var") or name.endswith("bn.weight"):
            sd[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            sd[name] = (0.05 * rng.standard_normal(shape)).astype(np.float32)
    return sd


@pytest.fixture(scope="module")
def synthetic():
    return _synthetic_state_dict()


@pytest.fixture(scope="module")
def weight_file(tmp_path_factory, synthetic):
    path = tmp_path_factory.mktemp("inception") / "synthetic_fid_inception.npz"
    np.savez(path, **synthetic)
    return path


@pytest.fixture(scope="module")
def extractor(weight_file):
    return inc.load_inception(weight_file)


def test_loader_maps_every_tensor_with_matching_shapes(weight_file, synthetic, extractor):
    sd, ext = synthetic, extractor
    expected = inc.expected_variable_shapes()
    is_leaf = lambda x: isinstance(x, jax.ShapeDtypeStruct)  # noqa: E731
    assert (jax.tree_util.tree_structure(ext.variables)
            == jax.tree_util.tree_structure(jax.tree_util.tree_map(lambda s: 0, dict(expected), is_leaf=is_leaf)))
    for got, want in zip(jax.tree_util.tree_leaves(ext.variables),
                         jax.tree_util.tree_leaves(dict(expected), is_leaf=is_leaf)):
        assert got.shape == want.shape
    n_torch = sum(1 for k in TORCH_SHAPES if not k.endswith("num_batches_tracked"))
    assert len(jax.tree_util.tree_leaves(ext.variables)) == n_torch == 472
    p, s = ext.variables["params"], ext.variables["batch_stats"]
    w = sd["Mixed_6b.branch7x7_2.conv.weight"]   # [O, I, 1, 7] -> [1, 7, I, O]
    np.testing.assert_array_equal(p["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"], w.transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(p["Mixed_7c"]["branch_pool"]["bn"]["scale"], sd["Mixed_7c.branch_pool.bn.weight"])
    np.testing.assert_array_equal(s["Conv2d_1a_3x3"]["bn"]["var"], sd["Conv2d_1a_3x3.bn.running_var"])
    np.testing.assert_array_equal(p["fc"]["kernel"], sd["fc.weight"].T)
    assert ext.sha256 == hashlib.sha256(weight_file.read_bytes()).hexdigest()


def test_loader_rejects_wrong_files(tmp_path, monkeypatch, synthetic):
    sd = synthetic
    wrong_fc = dict(sd, **{"fc.weight": np.zeros((1000, 2048), np.float32)})   # torchvision's ImageNet head
    with pytest.raises(ValueError, match="fc.weight"):
        inc.state_dict_to_variables(wrong_fc)
    extra = dict(sd, **{"AuxLogits.fc.weight": np.zeros((1000, 768), np.float32)})
    with pytest.raises(ValueError, match="AuxLogits"):
        inc.state_dict_to_variables(extra)
    missing = {k: v for k, v in sd.items() if k != "Mixed_5b.branch_pool.conv.weight"}
    with pytest.raises(ValueError, match="Mixed_5b.branch_pool.conv.weight"):
        inc.state_dict_to_variables(missing)
    monkeypatch.delenv(inc.WEIGHTS_ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="JAXGAN_INCEPTION_WEIGHTS"):
        inc.load_inception(None)
    monkeypatch.setenv(inc.WEIGHTS_ENV_VAR, str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError, match="not found"):
        inc.load_inception(None)


def _torch_bilinear_reference(img, out):
    """PyTorch F.interpolate(bilinear, align_corners=False) written out: src = (dst + 0.5)·in/out − 0.5,
    clamped at 0, linear between floor(src) and min(floor(src) + 1, in − 1)."""
    def weights(n_in):
        src = np.maximum((np.arange(out) + 0.5) * n_in / out - 0.5, 0.0)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = src - lo
        m = np.zeros((out, n_in))
        m[np.arange(out), lo] += 1 - frac
        m[np.arange(out), hi] += frac
        return m
    return weights(img.shape[0]) @ img[..., 0] @ weights(img.shape[1]).T


@pytest.mark.parametrize("size", [(7, 5), (320, 301)])   # up- and down-sampling
def test_resize_to_299_is_pytorch_bilinear_and_tiles_grey(size):
    img = np.random.default_rng(1).uniform(-1, 1, size + (1,)).astype(np.float32)
    got = np.asarray(inc.resize_to_inception(img[None]))
    assert got.shape == (1, 299, 299, 3)
    ref = _torch_bilinear_reference(img.astype(np.float64), 299)
    for c in range(3):
        # float32 sample positions near 300 carry ~3e-5 rounding, times neighbour differences up to 2
        np.testing.assert_allclose(got[0, ..., c], ref, atol=1e-4)


def test_forward_gives_2048_features_per_image_independent_of_the_batch(extractor):
    ext = extractor
    rng = np.random.default_rng(2)
    a, b, c = (rng.uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32) for _ in range(3))
    f_ab, p_ab = ext.features_and_probabilities(np.concatenate([a, b]))
    f_ac, _ = ext.features_and_probabilities(np.concatenate([a, c]))
    assert f_ab.shape == (2, 2048) and p_ab.shape == (2, 1008)
    assert np.isfinite(f_ab).all() and (f_ab >= 0).all() and f_ab.std() > 0
    np.testing.assert_allclose(f_ab[0], f_ac[0], rtol=1e-5, atol=1e-6)   # inference-mode BatchNorm
    assert not np.allclose(f_ab[1], f_ac[1])
    np.testing.assert_allclose(p_ab.sum(1), 1.0, rtol=1e-5)
