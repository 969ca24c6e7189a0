"""The f-AnoGAN izi_f encoder (Schlegl et al. 2019): E: x -> z, trained with G and D frozen.

E mirrors the DCGAN discriminator (4×4 stride-2 convs, LeakyReLU 0.2, widths features·2^i) and
ends in a dense layer to the latent size, linear because this project's z ~ N(0, I) (f-AnoGAN's
tanh output fits its uniform z). Training minimises the batch mean of
    A(x) = mean((x − G(E(x)))²) + κ·mean((f(x) − f(G(E(x))))²)   (κ = 1; jaxgan.anomaly.scores)
with Adam, on batches drawn uniformly with replacement from the normal training images by keys
folded from one key: a pure function of (images, key, settings). f-AnoGAN's own schedule is lr 5e-5
for 50k iterations (../shared/reference/REFERENCE.md); the digits need far fewer steps at a larger
lr (benchmarks/README.md). `save_encoder` / `load_encoder` keep E with Orbax in
RUN/anomaly/encoder/ (the step directory of an `ocp.CheckpointManager`: params + a JSON record).

A class-conditional run (G(z, y), trained on the labelled normal classes) is fit with each
training image drawn as its own class, G(E(x), y), and scored by the minimum of A(x) over the
normal classes (`encode_score_classes`): the query is compared with the nearest drawing any
normal class can make of it.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import pathlib
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.anomaly.scores import IZIF_KAPPA, izif_loss
from jaxgan.models.blocks import DCGAN_INIT

Array = jax.Array
ENCODER_DIR = "anomaly/encoder"


class Encoder(nn.Module):
    """x [B, R, R, C] -> z [B, latent]: ⌊log2(R/4)⌋ 4×4 stride-2 convs, LeakyReLU 0.2, dense."""

    latent_dim: int
    features: int = 32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        steps = max(1, int(math.log2(x.shape[1] // 4)))
        for i in range(steps):
            x = nn.Conv(self.features * 2 ** i, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                        kernel_init=DCGAN_INIT)(x)
            if i > 0:
                x = nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=(-1,))(x)
            x = nn.leaky_relu(x, 0.2)
        return nn.Dense(self.latent_dim)(x.reshape(x.shape[0], -1))


@dataclasses.dataclass(frozen=True)
class EncoderSettings:
    """How E was built and trained (saved beside its parameters)."""

    features: int = 32
    steps: int = 1000  # what benchmarks/anomaly_digits.py measured (digits, 16x16)
    lr: float = 2e-3
    batch_size: int = 64
    kappa: float = IZIF_KAPPA
    seed: int = 0

    def __post_init__(self):
        for name in ("features", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"encoder {name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or not self.kappa >= 0:
            raise ValueError(f"encoder lr must be > 0 and kappa >= 0, got {self.lr}, {self.kappa}")


def encode_score(encoder_apply: Callable[[Array], Array], generator: Callable[[Array], Array],
                 features: Callable[[Array], Array], x: Array, kappa: float = IZIF_KAPPA
                 ) -> tuple[Array, Array, Array]:
    """(A(x) [B], z = E(x), G(E(x))) in one forward pass (the f-AnoGAN score)."""
    z = encoder_apply(x)
    gex = generator(z)
    return izif_loss(x, gex, features(x), features(gex), kappa), z, gex


def encode_score_classes(encoder_apply: Callable[[Array], Array],
                         generator: Callable[[Array, Array], Array],
                         features: Callable[[Array], Array], x: Array, classes: Array,
                         kappa: float = IZIF_KAPPA) -> tuple[Array, Array, Array, Array]:
    """f-AnoGAN with a class-conditional G: z = E(x) once, then
        A(x) = min over c in `classes` of  mean((x − G(z, c))²) + κ·mean((f(x) − f(G(z, c)))²),
    the izi_f score of the class whose drawing of z is nearest x. Returns (A(x) [B], z,
    G(z, c*) [B, ...], c* [B]). The normal classes are disconnected pieces of the data; G
    conditioned on one of them draws that class only, so no class's drawing bridges to an
    unseen one (Khayatkhoei et al. 2018, arXiv:1806.00880; benchmarks/README.md,
    "#18 session 8")."""
    z = encoder_apply(x)
    fx = features(x)
    classes = jnp.asarray(classes, jnp.int32)
    k, b = classes.shape[0], x.shape[0]
    # one pass of G and D over the K·B (class, query) pairs, rows ordered class-major
    tile = lambda a: jnp.broadcast_to(a[None], (k, *a.shape)).reshape(k * b, *a.shape[1:])
    gex = generator(tile(z), jnp.repeat(classes, b))
    losses = izif_loss(tile(x), gex, tile(fx), features(gex), kappa).reshape(k, b)
    best = jnp.argmin(losses, axis=0)
    rows = jnp.arange(b)
    return losses[best, rows], z, gex.reshape(k, b, *gex.shape[1:])[best, rows], classes[best]


def train_encoder(encoder: Encoder, generator: Callable[..., Array],
                  features: Callable[[Array], Array], images: np.ndarray | Array, key: Array,
                  settings: EncoderSettings, chunk: int = 100,
                  log: Callable[[int, float], None] | None = None,
                  labels: np.ndarray | Array | None = None) -> tuple[Any, list[float]]:
    """Trains E's params on `images` (G and D frozen: only E's params get gradients); returns
    (params, mean loss of every `chunk` steps). Steps run `chunk` at a time in one lax.scan.
    With `labels` [N], G is class-conditional, generator(z, labels), and each image is drawn
    as its own class: the loss is izi_f of x and G(E(x), y)."""
    images = jnp.asarray(images, jnp.float32)
    labels = None if labels is None else jnp.asarray(labels, jnp.int32)
    if labels is not None and labels.shape != images.shape[:1]:
        raise ValueError(f"labels {labels.shape} must be one per image {images.shape[:1]}")
    init_key, batch_key = jax.random.split(key)
    params = encoder.init(init_key, images[:1])["params"]
    optimizer = optax.adam(settings.lr)
    opt_state = optimizer.init(params)

    def loss_fn(p, x, y):
        g = generator if y is None else (lambda z: generator(z, y))
        return jnp.mean(encode_score(lambda v: encoder.apply({"params": p}, v), g,
                                     features, x, settings.kappa)[0])

    def one_step(carry, step):
        p, s = carry
        rows = jax.random.randint(jax.random.fold_in(batch_key, step), (settings.batch_size,),
                                  0, images.shape[0])
        loss, grad = jax.value_and_grad(loss_fn)(p, images[rows],
                                                 None if labels is None else labels[rows])
        updates, s = optimizer.update(grad, s, p)
        return (optax.apply_updates(p, updates), s), loss

    @functools.partial(jax.jit, static_argnums=2)
    def run_chunk(p, s, length, start):
        (p, s), losses = jax.lax.scan(one_step, (p, s), start + jnp.arange(length))
        return p, s, jnp.mean(losses)

    curve = []
    for start in range(0, settings.steps, chunk):
        length = min(chunk, settings.steps - start)
        params, opt_state, loss = run_chunk(params, opt_state, length, start)
        curve.append(float(loss))
        if log is not None:
            log(start + length, curve[-1])
    return params, curve


def save_encoder(workdir: str | pathlib.Path, params: Any, record: dict) -> pathlib.Path:
    """Writes E's params and `record` (settings, losses, ...) as step `record['steps']` of an
    Orbax CheckpointManager in RUN/anomaly/encoder/ (replacing an older encoder); returns the
    folder."""
    import orbax.checkpoint as ocp

    folder = pathlib.Path(workdir).absolute() / ENCODER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with ocp.CheckpointManager(folder, options=ocp.CheckpointManagerOptions(max_to_keep=1),
                               item_names=("params", "record")) as manager:
        manager.save(int(record["settings"]["steps"]), force=True, args=ocp.args.Composite(
            params=ocp.args.StandardSave(params), record=ocp.args.JsonSave(record)))
        manager.wait_until_finished()
    return folder


def load_encoder(workdir: str | pathlib.Path, latent_dim: int, image_shape: tuple[int, ...]
                 ) -> tuple[Encoder, Any, dict]:
    """(Encoder, params, record) of the latest encoder in RUN/anomaly/encoder/; a one-line
    FileNotFoundError when there is none."""
    import orbax.checkpoint as ocp

    folder = pathlib.Path(workdir).absolute() / ENCODER_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"no f-AnoGAN encoder in {folder}: run `jaxgan anomaly fit "
                                f"--workdir {pathlib.Path(workdir)}` first")
    with ocp.CheckpointManager(folder, item_names=("params", "record")) as manager:
        step = manager.latest_step()
        if step is None:
            raise FileNotFoundError(f"no f-AnoGAN encoder in {folder}: run `jaxgan anomaly fit "
                                    f"--workdir {pathlib.Path(workdir)}` first")
        record = manager.restore(step, args=ocp.args.Composite(
            record=ocp.args.JsonRestore()))["record"]
        encoder = Encoder(latent_dim=latent_dim, features=int(record["settings"]["features"]))
        abstract = jax.eval_shape(lambda: encoder.init(
            jax.random.key(0), jnp.zeros((1, *image_shape), jnp.float32))["params"])
        params = manager.restore(step, args=ocp.args.Composite(
            params=ocp.args.StandardRestore(abstract)))["params"]
    return encoder, params, record
