"""A small convolutional classifier for the embedded 8x8 digits, used as the feature extractor of a
classifier-FID/KID, as the class-probability model of an Inception-Score analogue, and to histogram the
classes of generated digits (the image version of mode collapse).

The network sees 32x32 single-channel images in [-1, 1]: `preprocess` averages 3 channels to 1 (the
inverse of tiling grey to RGB) and resizes any other resolution to 32x32 with `jax.image.resize`
(bilinear, antialiased when shrinking). It was trained by `python -m jaxgan.metrics.train_digits_classifier`
on the digits of `jaxgan.data.digits_raw.load_digits_uint8` at resolutions 8, 16 and 32, except the fixed
held-out split `held_out_split()`; its weights ship next to this file (`digits_classifier.msgpack`).

Architecture: 3 x [Conv 3x3 (16, 32, 32 channels) → ReLU → MaxPool 2] → Dense 64 → ReLU (the
features, D = 64) → Dense 10 (the logits).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

NATIVE_SIZE = 32
FEATURE_DIM = 64
NUM_CLASSES = 10
NUM_DIGITS = 1797
HELD_OUT_SEED = 20_190_417
HELD_OUT_FRACTION = 0.2
HALVES_SEED = 7
WEIGHTS_PATH = pathlib.Path(__file__).with_name("digits_classifier.msgpack")
RESIZE_FILTER = "jax.image.resize bilinear to 32x32 (antialias when shrinking); 3 channels averaged to 1"


class DigitsCNN(nn.Module):
    """[N, 32, 32, 1] in [-1, 1] -> (logits [N, 10], features [N, 64])."""

    channels: tuple[int, ...] = (16, 32, 32)
    feature_dim: int = FEATURE_DIM
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        for c in self.channels:
            x = nn.relu(nn.Conv(c, (3, 3))(x))
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        feats = nn.relu(nn.Dense(self.feature_dim, name="features")(x))
        logits = nn.Dense(self.num_classes, name="logits")(feats)
        return logits, feats


def preprocess(images: np.ndarray | jax.Array) -> jax.Array:
    """NHWC images (float in [-1, 1], or uint8 in [0, 255]) with 1 or 3 channels -> [N, 32, 32, 1]."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError("the digits classifier needs NHWC images with 1 or 3 channels, got shape "
                         f"{tuple(images.shape)}")
    if images.dtype == np.uint8:
        x = jnp.asarray(images, jnp.float32) / 127.5 - 1.0
    else:
        x = jnp.asarray(images, jnp.float32)
    if x.shape[-1] == 3:
        x = x.mean(axis=-1, keepdims=True)
    if x.shape[1:3] != (NATIVE_SIZE, NATIVE_SIZE):
        x = jax.image.resize(x, (x.shape[0], NATIVE_SIZE, NATIVE_SIZE, 1), method="bilinear")
    return x


def pad_batch(batch: np.ndarray, size: int) -> np.ndarray:
    """Pads a short last batch with copies of its first image, so every call has one compiled shape."""
    batch = np.asarray(batch)
    if batch.shape[0] >= size:
        return batch
    return np.concatenate([batch, np.repeat(batch[:1], size - batch.shape[0], axis=0)])


def held_out_split(num: int = NUM_DIGITS) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices) of the digits: a fixed permutation with `HELD_OUT_SEED`,
    the last round(0.2·1797) = 359 images held out. Disjoint, sorted, the same on every machine."""
    perm = np.random.default_rng(HELD_OUT_SEED).permutation(num)
    n_held = int(round(HELD_OUT_FRACTION * num))
    return np.sort(perm[:-n_held]), np.sort(perm[-n_held:])


def two_halves(num: int = NUM_DIGITS) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves of the digits (seed `HALVES_SEED`): the real-vs-real reference."""
    perm = np.random.default_rng(HALVES_SEED).permutation(num)
    return np.sort(perm[: num // 2]), np.sort(perm[num // 2:])


@functools.partial(jax.jit, static_argnums=0)
def _forward(model: DigitsCNN, params, images: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    logits, feats = model.apply({"params": params}, preprocess(images))
    return feats, jax.nn.softmax(logits), logits


@dataclasses.dataclass(frozen=True)
class DigitsClassifier:
    """Loaded classifier: `params`, the `sha256` of its weight file and its `path`."""

    params: dict
    sha256: str
    path: str
    model: DigitsCNN = DigitsCNN()

    @property
    def feature_dim(self) -> int:
        return self.model.feature_dim

    def features_and_probabilities(self, images: np.ndarray,
                                   batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(features float32 [N, 64], class probabilities float32 [N, 10]), computed in batches."""
        if images.ndim != 4:
            raise ValueError(f"the digits classifier needs NHWC images, got shape {images.shape}")
        feats, probs = [], []
        batch_size = max(1, min(batch_size, images.shape[0]))
        for start in range(0, images.shape[0], batch_size):
            batch = pad_batch(images[start:start + batch_size], batch_size)
            n = min(batch_size, images.shape[0] - start)
            f, p, _ = _forward(self.model, self.params, batch)
            feats.append(np.asarray(f)[:n])
            probs.append(np.asarray(p)[:n])
        if not feats:
            return (np.zeros((0, self.feature_dim), np.float32),
                    np.zeros((0, self.model.num_classes), np.float32))
        return np.concatenate(feats), np.concatenate(probs)

    def features(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        return self.features_and_probabilities(images, batch_size)[0]

    def probabilities(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        return self.features_and_probabilities(images, batch_size)[1]


def sha256_of_file(path: str | pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_classifier(params, path: str | pathlib.Path = WEIGHTS_PATH) -> str:
    """Writes the params with `flax.serialization.msgpack_serialize`; returns the file's sha256."""
    host = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    pathlib.Path(path).write_bytes(serialization.msgpack_serialize({"params": host}))
    return sha256_of_file(path)


def load_classifier(path: str | pathlib.Path | None = None) -> DigitsClassifier:
    """Loads the shipped weights (or those at `path`) and checks them against the architecture."""
    path = pathlib.Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise ValueError(f"digits classifier weights not found at {path}; run "
                         "`python -m jaxgan.metrics.train_digits_classifier` to create them")
    try:
        state = serialization.msgpack_restore(path.read_bytes())
    except Exception as err:  # msgpack raises several unrelated types on corrupt input
        raise ValueError(f"digits classifier weights at {path} are not a readable msgpack file "
                         f"({type(err).__name__}); retrain with "
                         "`python -m jaxgan.metrics.train_digits_classifier`") from None
    model = DigitsCNN()
    expected = jax.eval_shape(model.init, jax.random.key(0),
                              jnp.zeros((1, NATIVE_SIZE, NATIVE_SIZE, 1)))["params"]
    params = state.get("params") if isinstance(state, dict) else None
    shapes_ok = (params is not None and jax.tree_util.tree_structure(params)
                 == jax.tree_util.tree_structure(expected) and all(
                     np.shape(a) == b.shape for a, b in zip(jax.tree_util.tree_leaves(params),
                                                            jax.tree_util.tree_leaves(expected))))
    if not shapes_ok:
        raise ValueError(f"digits classifier weights at {path} do not match the DigitsCNN "
                         "architecture; retrain with `python -m jaxgan.metrics.train_digits_classifier`")
    params = jax.tree_util.tree_map(jnp.asarray, params)
    return DigitsClassifier(params=params, sha256=sha256_of_file(path), path=str(path), model=model)


def features(images: np.ndarray, classifier: DigitsClassifier | None = None) -> np.ndarray:
    """Penultimate-layer features [N, 64] of the (shipped) digits classifier."""
    return (classifier or load_classifier()).features(images)


def probabilities(images: np.ndarray, classifier: DigitsClassifier | None = None) -> np.ndarray:
    """Class probabilities [N, 10] (softmax of the logits) of the (shipped) digits classifier."""
    return (classifier or load_classifier()).probabilities(images)
