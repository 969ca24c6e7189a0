"""Classifiers for judging translations between the embedded digits (domain A) and a
digits-over-photographs set (domain B, jaxgan.data.photo_digits: `digits_photo`,
`digits_photo_bright`):

- a digit classifier for each domain-B set, trained like the shipped digits classifier
  (jaxgan.metrics.train_digits_classifier): the same `DigitsCNN`, but on RGB (the colour carries the
  photo; domain A's classifier averages channels), the same held-out split (`held_out_split`, 359
  images never trained on), resolutions 16 and 32 resized to 32×32, random shifts of up to 2 px
  (edge-padded), Adam(1e-3), batch 64, 30 epochs, softmax cross-entropy. Held-out accuracy:
  `digits_photo` 93.9% at 16 px, 94.2% at 32 px, 80 CPU-s (12 epochs, the first shipped weights,
  gave 91.6% / 92.2%); `digits_photo_bright` 96.4% at 16 px, 95.3% at 32 px, 92 CPU-s
  (benchmarks/README.md, "#19 session 7"). Weights ship next to this file (`WEIGHTS[name]`);
  `python -m jaxgan.metrics.digits_photo_classifier --dataset NAME` retrains them and prints the
  held-out accuracy.
- a domain classifier (real A vs real B, the same CNN with 2 outputs), trained at evaluation time
  from a fixed seed on the training indices of both domains (seconds), `domain_classifier`.
"""
from __future__ import annotations

import argparse
import functools
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from jaxgan.data.photo_digits import LOADERS
from jaxgan.data.digits_raw import load_digits_uint8
from jaxgan.metrics.digits_classifier import NATIVE_SIZE, DigitsCNN, held_out_split

DEFAULT_DATASET = "digits_photo"
# domain-B set -> its shipped digit classifier's weights
WEIGHTS: dict[str, pathlib.Path] = {
    name: pathlib.Path(__file__).with_name(f"{name}_classifier.msgpack") for name in LOADERS}
TRAIN_RESOLUTIONS = (16, 32)
MAX_SHIFT = 2


def preprocess_rgb(images) -> jax.Array:
    """NHWC images (float in [-1, 1] or uint8) with 1 or 3 channels → [N, 32, 32, 3] in [-1, 1]
    (grey tiled to RGB; bilinear resize)."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"the classifier needs NHWC images with 1 or 3 channels, got shape "
                         f"{tuple(images.shape)}")
    x = (jnp.asarray(images, jnp.float32) / 127.5 - 1.0 if images.dtype == np.uint8
         else jnp.asarray(images, jnp.float32))
    if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
    if x.shape[1:3] != (NATIVE_SIZE, NATIVE_SIZE):
        x = jax.image.resize(x, (x.shape[0], NATIVE_SIZE, NATIVE_SIZE, 3), method="bilinear")
    return x


def _shift(key: jax.Array, x: jax.Array) -> jax.Array:
    """Random integer translation by up to MAX_SHIFT pixels, edge-padded."""
    n, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (MAX_SHIFT, MAX_SHIFT), (MAX_SHIFT, MAX_SHIFT), (0, 0)),
                     mode="edge")
    offsets = jax.random.randint(key, (n, 2), 0, 2 * MAX_SHIFT + 1)
    return jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, c)))(
        padded, offsets)


def fit(x: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0, epochs: int = 12,
        batch_size: int = 64, learning_rate: float = 1e-3, verbose: bool = False):
    """Params of a `DigitsCNN(num_classes=...)` trained on preprocessed x [N, 32, 32, 3], labels y."""
    model = DigitsCNN(num_classes=num_classes)
    key, init_key = jax.random.split(jax.random.key(seed))
    params = model.init(init_key, jnp.zeros((1, NATIVE_SIZE, NATIVE_SIZE, 3)))["params"]
    tx = optax.adam(learning_rate)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, key, xb, yb):
        def loss_fn(p):
            logits, _ = model.apply({"params": p}, _shift(key, xb))
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    n = x.shape[0]
    for epoch in range(epochs):
        key, perm_key = jax.random.split(key)
        perm = np.asarray(jax.random.permutation(perm_key, n))
        losses = []
        for s in range(n // batch_size):
            idx = perm[s * batch_size:(s + 1) * batch_size]
            key, step_key = jax.random.split(key)
            params, opt_state, loss = step(params, opt_state, step_key, x[idx], y[idx])
            losses.append(loss)
        if verbose:
            print(f"epoch {epoch + 1:2d}/{epochs}  loss {float(np.mean(losses)):.4f}", flush=True)
    return params


@functools.partial(jax.jit, static_argnums=0)
def _logits(model: DigitsCNN, params, images: jax.Array) -> jax.Array:
    return model.apply({"params": params}, preprocess_rgb(images))[0]


class Classifier:
    """A trained `DigitsCNN` on RGB input: `predict(images)` → int labels, `probabilities`."""

    def __init__(self, params, num_classes: int):
        self.params, self.model = params, DigitsCNN(num_classes=num_classes)

    def probabilities(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        out = [np.asarray(jax.nn.softmax(_logits(self.model, self.params,
                                                 images[i:i + batch_size])))
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.probabilities(images).argmax(axis=1)


def _check_dataset(dataset: str) -> None:
    if dataset not in LOADERS:
        raise ValueError(f"no digit classifier for data set {dataset!r}; domain-B sets: "
                         f"{sorted(LOADERS)}")


def _photo_training_set(dataset: str = DEFAULT_DATASET) -> tuple[np.ndarray, np.ndarray]:
    train_idx, _ = held_out_split()
    xs, ys = [], []
    for r in TRAIN_RESOLUTIONS:
        images, labels = LOADERS[dataset](r)
        xs.append(np.asarray(preprocess_rgb(images[train_idx])))
        ys.append(labels[train_idx])
    return np.concatenate(xs), np.concatenate(ys)


def load_photo_digit_classifier(path: str | pathlib.Path | None = None,
                                dataset: str = DEFAULT_DATASET) -> Classifier:
    """The shipped digit classifier of domain-B set `dataset` (or the weights at `path`)."""
    _check_dataset(dataset)
    path = pathlib.Path(path or WEIGHTS[dataset])
    if not path.is_file():
        raise ValueError(f"{dataset} classifier weights not found at {path}; run `python -m "
                         f"jaxgan.metrics.digits_photo_classifier --dataset {dataset}` to create "
                         f"them")
    params = serialization.msgpack_restore(path.read_bytes())["params"]
    return Classifier(jax.tree.map(jnp.asarray, params), 10)


def held_out_accuracy(classifier: Classifier, resolution: int,
                      dataset: str = DEFAULT_DATASET) -> float:
    images, labels = LOADERS[dataset](resolution)
    _, held = held_out_split()
    return float((classifier.predict(images[held]) == labels[held]).mean())


@functools.lru_cache(maxsize=4)
def domain_classifier(resolution: int, seed: int = 0, epochs: int = 3,
                      dataset: str = DEFAULT_DATASET) -> Classifier:
    """Real A (digits, grey tiled to RGB: label 0) vs real B (`dataset`: label 1), trained on
    the training indices of `held_out_split` of both at `resolution`."""
    _check_dataset(dataset)
    train_idx, _ = held_out_split()
    a = load_digits_uint8(resolution)[0][train_idx]
    b = LOADERS[dataset](resolution)[0][train_idx]
    x = np.concatenate([np.asarray(preprocess_rgb(a)), np.asarray(preprocess_rgb(b))])
    y = np.concatenate([np.zeros(len(a), np.int32), np.ones(len(b), np.int32)])
    return Classifier(fit(x, y, 2, seed=seed, epochs=epochs), 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Trains a domain-B digit classifier.")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, choices=sorted(LOADERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="default: the shipped weights of --dataset")
    args = parser.parse_args(argv)
    args.out = args.out or str(WEIGHTS[args.dataset])
    start = time.process_time()
    x, y = _photo_training_set(args.dataset)
    params = fit(x, y, 10, seed=args.seed, epochs=args.epochs, verbose=True)
    host = jax.tree.map(lambda a: np.asarray(a, np.float32), params)
    pathlib.Path(args.out).write_bytes(serialization.msgpack_serialize({"params": host}))
    print(f"trained in {time.process_time() - start:.0f} CPU-s; wrote {args.out}")
    classifier = load_photo_digit_classifier(args.out, args.dataset)
    for r in (16, 32):
        print(f"held-out accuracy at {r}x{r}: "
              f"{held_out_accuracy(classifier, r, args.dataset):.4f}")


if __name__ == "__main__":
    main()
