"""Inception-v3 pool3 features for FID/KID/IS, in Flax, loading the standard FID Inception weights.

The network is the "FID Inception" of the TTUR code (Heusel et al. 2017), i.e. the TensorFlow graph
`inception-2015-12-05` (Szegedy et al. 2016, "Rethinking the Inception Architecture", arXiv:1512.00567)
as ported by pytorch-fid (`fid_inception_v3`): torchvision's Inception-v3 layout with 1008 classes,
no auxiliary head, TF-style average pools that exclude the padding (`count_include_pad=False`) in the
A, C and E_1 blocks, and a 3x3 max pool in the branch_pool of the last block (E_2).

Pre-processing, as pytorch-fid: images in [-1, 1] (grey tiled to 3 channels) are resized to 299x299 with
bilinear interpolation, half-pixel centres (`align_corners=False`) and no antialiasing, and fed as is
(pytorch-fid maps [0, 1] to 2x − 1 after resizing, which is the same since resizing is linear).

Weights are NOT downloadable here; get `pt_inception-2015-12-05-6726825d.pth` (the pytorch-fid release,
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth)
and point `load_inception(path)` or the environment variable `JAXGAN_INCEPTION_WEIGHTS` at it. The
loader reads that PyTorch file directly (zip or legacy format, no torch needed) or an `.npz` with the same
state-dict key names (`np.savez(out, **{k: v.numpy() for k, v in state_dict.items()})`).

Outputs: pool3 features [N, 2048] (FID/KID/PRDC) and the 1008-way softmax of `pool3 @ fc.weightᵀ` without
the fc bias, which is what the original Inception-Score code (openai/improved-gan) uses.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics.digits_classifier import pad_batch, sha256_of_file
from jaxgan.metrics.torch_state_dict import read_torch_state_dict

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
WEIGHTS_ENV_VAR = "JAXGAN_INCEPTION_WEIGHTS"
WEIGHTS_FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               + WEIGHTS_FILE_NAME)
RESIZE_FILTER = ("bilinear to 299x299, half-pixel centres (align_corners=False), no antialias "
                 "(= pytorch-fid F.interpolate)")

IntPair = int | tuple[int, int]


def _pair(v: IntPair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class BasicConv2d(nn.Module):
    """Conv (no bias) → BatchNorm (eps 1e-3, running statistics) → ReLU, as torchvision's."""

    features: int
    kernel_size: IntPair
    strides: IntPair = 1
    padding: IntPair = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ph, pw = _pair(self.padding)
        x = nn.Conv(self.features, _pair(self.kernel_size), _pair(self.strides),
                    padding=((ph, ph), (pw, pw)), use_bias=False, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3_same(x: jax.Array) -> jax.Array:
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x: jax.Array) -> jax.Array:
    return nn.max_pool(x, (3, 3), (2, 2), "VALID")


class InceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(64, 1, name="branch1x1")(x)
        b5 = BasicConv2d(48, 1, name="branch5x5_1")(x)
        b5 = BasicConv2d(64, 5, padding=2, name="branch5x5_2")(b5)
        b3 = BasicConv2d(64, 1, name="branch3x3dbl_1")(x)
        b3 = BasicConv2d(96, 3, padding=1, name="branch3x3dbl_2")(b3)
        b3 = BasicConv2d(96, 3, padding=1, name="branch3x3dbl_3")(b3)
        bp = BasicConv2d(self.pool_features, 1, name="branch_pool")(_avg_pool_3x3_same(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(384, 3, strides=2, name="branch3x3")(x)
        bd = BasicConv2d(64, 1, name="branch3x3dbl_1")(x)
        bd = BasicConv2d(96, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = BasicConv2d(96, 3, strides=2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv2d(192, 1, name="branch1x1")(x)
        b7 = BasicConv2d(c7, 1, name="branch7x7_1")(x)
        b7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv2d(c7, 1, name="branch7x7dbl_1")(x)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv2d(192, 1, name="branch_pool")(_avg_pool_3x3_same(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(192, 1, name="branch3x3_1")(x)
        b3 = BasicConv2d(320, 3, strides=2, name="branch3x3_2")(b3)
        b7 = BasicConv2d(192, 1, name="branch7x7x3_1")(x)
        b7 = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv2d(192, 3, strides=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
    """`max_pool=False`: FIDInceptionE_1 (average pool); True: FIDInceptionE_2 (max pool)."""

    max_pool: bool = False

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(320, 1, name="branch1x1")(x)
        b3 = BasicConv2d(384, 1, name="branch3x3_1")(x)
        b3 = jnp.concatenate([BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                              BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], -1)
        bd = BasicConv2d(448, 1, name="branch3x3dbl_1")(x)
        bd = BasicConv2d(384, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate([BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                              BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], -1)
        if self.max_pool:
            pooled = nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
        else:
            pooled = _avg_pool_3x3_same(x)
        bp = BasicConv2d(192, 1, name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """[N, 299, 299, 3] in [-1, 1] -> (pool3 [N, 2048], logits [N, 1008] = pool3 @ fc.weightᵀ + fc.bias).

    Sub-module names equal the torch state-dict prefixes (`Mixed_6b.branch7x7_2.conv.weight` ->
    params['Mixed_6b']['branch7x7_2']['conv']['kernel']).
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = BasicConv2d(32, 3, strides=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv2d(32, 3, name="Conv2d_2a_3x3")(x)
        x = BasicConv2d(64, 3, padding=1, name="Conv2d_2b_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = BasicConv2d(80, 1, name="Conv2d_3b_1x1")(x)
        x = BasicConv2d(192, 3, name="Conv2d_4a_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = InceptionA(32, name="Mixed_5b")(x)
        x = InceptionA(64, name="Mixed_5c")(x)
        x = InceptionA(64, name="Mixed_5d")(x)
        x = InceptionB(name="Mixed_6a")(x)
        x = InceptionC(128, name="Mixed_6b")(x)
        x = InceptionC(160, name="Mixed_6c")(x)
        x = InceptionC(160, name="Mixed_6d")(x)
        x = InceptionC(192, name="Mixed_6e")(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(max_pool=False, name="Mixed_7b")(x)
        x = InceptionE(max_pool=True, name="Mixed_7c")(x)
        pool3 = x.mean(axis=(1, 2))
        logits = nn.Dense(NUM_CLASSES, name="fc")(pool3)
        return pool3, logits


def resize_to_inception(images: jax.Array | np.ndarray) -> jax.Array:
    """NHWC images (float in [-1, 1], or uint8) with 1 or 3 channels -> float32 [N, 299, 299, 3].

    Bilinear, half-pixel centres, no antialias: PyTorch's `F.interpolate(mode='bilinear',
    align_corners=False)`, as pytorch-fid.
    """
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"Inception needs NHWC images with 1 or 3 channels, got {tuple(images.shape)}")
    if images.dtype == np.uint8:
        x = jnp.asarray(images, jnp.float32) / 127.5 - 1.0
    else:
        x = jnp.asarray(images, jnp.float32)
    if x.shape[-1] == 1:
        x = jnp.tile(x, (1, 1, 1, 3))
    if x.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
        x = jax.image.resize(x, (x.shape[0], INPUT_SIZE, INPUT_SIZE, 3), method="bilinear",
                             antialias=False)
    return x


def _flatten(tree: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _unflatten(flat: dict[tuple[str, ...], np.ndarray]) -> dict:
    tree: dict = {}
    for path, v in flat.items():
        node = tree
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = v
    return tree


# (flax collection, flax leaf name) -> (torch parameter name, layout conversion)
_LEAF_TO_TORCH = {
    ("params", "kernel", 4): ("weight", lambda w: np.transpose(w, (2, 3, 1, 0))),   # OIHW -> HWIO
    ("params", "kernel", 2): ("weight", lambda w: np.transpose(w)),                 # [out, in] -> [in, out]
    ("params", "scale", 1): ("weight", lambda w: w),
    ("params", "bias", 1): ("bias", lambda w: w),
    ("batch_stats", "mean", 1): ("running_mean", lambda w: w),
    ("batch_stats", "var", 1): ("running_var", lambda w: w),
}
_IGNORED_TORCH_SUFFIXES = ("num_batches_tracked",)


@functools.lru_cache(maxsize=1)
def expected_variable_shapes() -> dict:
    """Shapes of the Flax variables {'params', 'batch_stats'} (from `jax.eval_shape`, no compute)."""
    return jax.eval_shape(FIDInceptionV3().init, jax.random.key(0),
                          jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))


def state_dict_to_variables(state_dict: dict[str, np.ndarray], source: str = "state dict") -> dict:
    """Maps pytorch-fid's `fid_inception_v3().state_dict()` onto FIDInceptionV3's Flax variables.

    Every Flax leaf must be found with the right shape and every torch tensor (but
    `num_batches_tracked`) must be used; otherwise a `ValueError` names the first problem.
    """
    expected = _flatten(jax.tree_util.tree_map(lambda s: s.shape, dict(expected_variable_shapes()),
                                               is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct)))
    used, flat = set(), {}
    for path, shape in expected.items():
        collection, *modules, leaf = path
        torch_leaf, convert = _LEAF_TO_TORCH[(collection, leaf, len(shape))]
        name = ".".join(modules + [torch_leaf])
        if name not in state_dict:
            raise ValueError(f"{source} lacks tensor '{name}'; it is not the FID Inception weight file "
                             f"({WEIGHTS_FILE_NAME})")
        value = convert(np.asarray(state_dict[name], np.float32))
        if value.shape != tuple(shape):
            raise ValueError(f"{source}: tensor '{name}' has shape {np.shape(state_dict[name])}, which "
                             f"does not fit the FID Inception ({tuple(shape)} after layout change); "
                             f"use {WEIGHTS_FILE_NAME}, not torchvision's ImageNet weights")
        flat[path] = value
        used.add(name)
    unused = sorted(k for k in state_dict if k not in used and not k.endswith(_IGNORED_TORCH_SUFFIXES))
    if unused:
        raise ValueError(f"{source} has {len(unused)} tensors the FID Inception does not use (first: "
                         f"'{unused[0]}'); use {WEIGHTS_FILE_NAME}")
    return _unflatten(flat)


def read_weight_file(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """{torch name: array} from a `.npz` (keys = state-dict names) or a PyTorch `.pth` file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"Inception weight file not found: {path}; download {WEIGHTS_URL}")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except Exception as err:
            raise ValueError(f"{path} is not a readable .npz file ({type(err).__name__})") from None
    return read_torch_state_dict(path)


@dataclasses.dataclass(frozen=True)
class InceptionExtractor:
    """Loaded FID Inception: `variables`, the `sha256` of its weight file and its `path`."""

    variables: dict
    sha256: str
    path: str
    feature_dim: int = FEATURE_DIM

    def features_and_probabilities(self, images: np.ndarray,
                                   batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """(pool3 float32 [N, 2048], softmax(pool3 @ fc.weightᵀ) float32 [N, 1008]) in batches."""
        if images.ndim != 4:
            raise ValueError(f"Inception needs NHWC images, got shape {images.shape}")
        feats, probs = [], []
        batch_size = max(1, min(batch_size, images.shape[0]))
        for start in range(0, images.shape[0], batch_size):
            batch = pad_batch(images[start:start + batch_size], batch_size)
            n = min(batch_size, images.shape[0] - start)
            f, p = _inception_forward(self.variables, batch)
            feats.append(np.asarray(f)[:n])
            probs.append(np.asarray(p)[:n])
        if not feats:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros((0, NUM_CLASSES), np.float32)
        return np.concatenate(feats), np.concatenate(probs)

    def features(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        return self.features_and_probabilities(images, batch_size)[0]


@jax.jit
def _inception_forward(variables: dict, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    pool3, _ = FIDInceptionV3().apply(variables, resize_to_inception(images))
    # Inception Score as in openai/improved-gan: softmax(pool3 @ W), the fc weight without its bias.
    logits = pool3 @ variables["params"]["fc"]["kernel"]
    return pool3, jax.nn.softmax(logits)


def resolve_weights_path(path: str | pathlib.Path | None = None) -> pathlib.Path:
    """`path`, else $JAXGAN_INCEPTION_WEIGHTS; a `ValueError` saying where to get the file if neither."""
    if path is None:
        path = os.environ.get(WEIGHTS_ENV_VAR)
    if not path:
        raise ValueError(f"no Inception weights configured: download {WEIGHTS_URL} and pass its path "
                         f"(inception_weights=...) or set {WEIGHTS_ENV_VAR}")
    return pathlib.Path(path)


def load_inception(path: str | pathlib.Path | None = None) -> InceptionExtractor:
    """Loads the FID Inception weights from `path` (or $JAXGAN_INCEPTION_WEIGHTS)."""
    path = resolve_weights_path(path)
    variables = state_dict_to_variables(read_weight_file(path), source=str(path))
    variables = jax.tree_util.tree_map(jnp.asarray, variables)
    return InceptionExtractor(variables=variables, sha256=sha256_of_file(path), path=str(path))
