"""Trains the digits classifier shipped as `jaxgan/metrics/digits_classifier.msgpack`.

    python -m jaxgan.metrics.train_digits_classifier [--seed 0] [--epochs 12] [--out PATH]

Data: `load_digits_uint8` at resolutions 8, 16 and 32 (each resized to 32x32 by the classifier's own
`preprocess`, so the classifier is accurate at every resolution a GAN produces), minus the fixed held-out
split `held_out_split()` (359 images, never trained on). Augmentation: random integer shifts of up to
2 pixels (background-padded). Adam(1e-3), batch 64, softmax cross-entropy; afterwards the feature layer is rescaled
to unit mean square per feature on the training images (logits unchanged). Deterministic given the seed.
Prints the held-out accuracy per resolution and the real-vs-real classifier FID/KID between two halves of
the data (the floor any generator is judged against).
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.data.digits_raw import load_digits_uint8
from jaxgan.metrics import digits_classifier as dc
from jaxgan.metrics.fid import fid_from_features
from jaxgan.metrics.kid import kernel_inception_distance

TRAIN_RESOLUTIONS = (8, 16, 32)
MAX_SHIFT = 2


def _prepared(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_digits_uint8(resolution)
    return np.asarray(dc.preprocess(images)), labels


def _shift(key: jax.Array, x: jax.Array) -> jax.Array:
    """Random integer translation of each image by up to MAX_SHIFT pixels, padding with -1."""
    n, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (MAX_SHIFT, MAX_SHIFT), (MAX_SHIFT, MAX_SHIFT), (0, 0)),
                     constant_values=-1.0)
    offsets = jax.random.randint(key, (n, 2), 0, 2 * MAX_SHIFT + 1)
    return jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, 1)))(
        padded, offsets)


def train(seed: int = 0, epochs: int = 12, batch_size: int = 64, learning_rate: float = 1e-3):
    """Returns trained params (see the module docstring for the recipe)."""
    train_idx, _ = dc.held_out_split()
    xs, ys = zip(*(_prepared(r) for r in TRAIN_RESOLUTIONS))
    x_train = np.concatenate([x[train_idx] for x in xs])
    y_train = np.concatenate([y[train_idx] for y in ys])

    model = dc.DigitsCNN()
    key = jax.random.key(seed)
    key, init_key = jax.random.split(key)
    params = model.init(init_key, jnp.zeros((1, dc.NATIVE_SIZE, dc.NATIVE_SIZE, 1)))["params"]
    tx = optax.adam(learning_rate)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, key, x, y):
        x = _shift(key, x)

        def loss_fn(p):
            logits, _ = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    n = x_train.shape[0]
    steps_per_epoch = n // batch_size
    for epoch in range(epochs):
        key, perm_key = jax.random.split(key)
        perm = np.asarray(jax.random.permutation(perm_key, n))
        losses = []
        for s in range(steps_per_epoch):
            idx = perm[s * batch_size:(s + 1) * batch_size]
            key, step_key = jax.random.split(key)
            params, opt_state, loss = step(params, opt_state, step_key, x_train[idx], y_train[idx])
            losses.append(loss)
        print(f"epoch {epoch + 1:2d}/{epochs}  loss {float(np.mean(losses)):.4f}", flush=True)
    return normalise_feature_scale(model, params, x_train)


def normalise_feature_scale(model: dc.DigitsCNN, params, x: np.ndarray):
    """Rescales the feature layer so that mean ‖f‖²/D = 1 on `x`, leaving the logits unchanged.

    ReLU is positively homogeneous, so dividing the `features` kernel and bias by s and multiplying the
    `logits` kernel by s changes only the feature scale. Unit-scale features keep the KID kernel
    (xᵀy/D + 1)³ in the regime it was designed for.
    """
    feats = np.concatenate([np.asarray(model.apply({"params": params}, x[i:i + 500])[1])
                            for i in range(0, x.shape[0], 500)])
    scale = float(np.sqrt(np.mean(np.sum(feats.astype(np.float64) ** 2, axis=1)) / feats.shape[1]))
    params = jax.tree_util.tree_map(lambda a: a, params)  # shallow copy of the nested dicts
    params["features"] = {k: v / scale for k, v in params["features"].items()}
    params["logits"] = {"kernel": params["logits"]["kernel"] * scale,
                        "bias": params["logits"]["bias"]}
    return params


def held_out_accuracy(classifier: dc.DigitsClassifier, resolution: int) -> float:
    images, labels = load_digits_uint8(resolution)
    _, held = dc.held_out_split()
    probs = classifier.probabilities(images[held])
    return float((probs.argmax(axis=1) == labels[held]).mean())


def real_vs_real_floor(classifier: dc.DigitsClassifier, resolution: int) -> dict[str, float]:
    """Classifier FID/KID between the two halves `two_halves()` of the digits at `resolution`."""
    images, _ = load_digits_uint8(resolution)
    a, b = dc.two_halves()
    feats = classifier.features(images)
    kid_mean, kid_std = kernel_inception_distance(feats[a], feats[b], num_subsets=100,
                                                  subset_size=500, seed=0)
    return {"fid": fid_from_features(feats[a], feats[b]), "kid": kid_mean, "kid_std": kid_std}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", default=str(dc.WEIGHTS_PATH))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    params = train(seed=args.seed, epochs=args.epochs)
    sha = dc.save_classifier(params, args.out)
    print(f"trained in {time.perf_counter() - start:.1f} s; wrote {args.out} (sha256 {sha})")
    classifier = dc.load_classifier(args.out)
    for r in (8, 16, 32, 64):
        print(f"held-out accuracy at {r}x{r}: {held_out_accuracy(classifier, r):.4f}")
    for r in (16, 32):
        floor = real_vs_real_floor(classifier, r)
        print(f"real-vs-real (two halves, {r}x{r}): classifier FID {floor['fid']:.4f}, "
              f"KID {floor['kid']:.6f} ± {floor['kid_std']:.6f}")


if __name__ == "__main__":
    main()
