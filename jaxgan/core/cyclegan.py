"""CycleGAN (Zhu et al. 2017, arXiv:1703.10593) as pure functions: the losses, the image pool, the
state and one training step.

Two generators G: A → B and F: B → A, two discriminators D_A (real A vs F(b)) and D_B (real B vs
G(a)). The reference, junyanz/pytorch-CycleGAN-and-pix2pix, names them differently
(`models/cycle_gan_model.py` L41-43 at commit 032e884: "Code (paper): G_A (G), G_B (F), D_A (D_Y),
D_B (D_X)"): our `g_ab` = their netG_A, `g_ba` = netG_B, our `d_b` = their netD_A (judges domain B),
our `d_a` = their netD_B.

Losses (`backward_G`, L105-131; `backward_D_basic`, L84-95):
  G: L_G = adv(D_B(G(a))) + adv(D_A(F(b)))                               (adversarial, LSGAN:
         adv(o) = E[(o − 1)²], `GANLoss('lsgan')` = MSELoss against 1)
       + λ_A·E|F(G(a)) − a| + λ_B·E|G(F(b)) − b|                        (cycle, L1)
       + λ_B·λ_idt·E|G(b) − b| + λ_A·λ_idt·E|F(a) − a|                  (identity, L1)
     λ_A = λ_B = 10, λ_idt = 0.5 (`modify_commandline_options`, L17-19).
  D: L_D = ½·(E[(D(real) − 1)²] + E[D(pool(fake))²]) for each D (`loss_D = (loss_D_real +
     loss_D_fake) * 0.5`, L92), on fakes drawn through the image pool (`backward_D_A/B`, L97-103).
The means run over the batch and over D's patch logits (PatchGAN), as MSELoss does. Any loss of
jaxgan.core.losses may replace the LSGAN pair (`ADVERSARIAL_LOSSES`).

Order of one step (`optimize_parameters`, L133-145): the fakes and reconstructions of the current
G and F; one Adam step of both generators (D fixed); then one Adam step of each discriminator on
real images and the pool's answer to those same fakes (made by the generators *before* their
update, as in the reference, where `fake_B` is computed in `forward()` before `optimizer_G.step()`).

Image pool (`util/image_pool.py` L23-54, commit 28330fc): for each fake in the batch, in order:
while fewer than P images are stored, store it and return it (L40-43); once full, with probability
½ return a uniformly chosen stored image and store the new one in its place, else return the new
one (L45-52). Here the pool is arrays in the state (images [P, H, W, C], count) and its draws
come from the step's key, so the step is a pure function and a resumed run continues the same
pool draws.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan.core.losses import LOSSES, GANLoss, least_squares_discriminator_loss
from jaxgan.core.registry import Registry
from jaxgan.core.state import NetState

Array = jax.Array
PyTree = Any
Batch = dict[str, Array]


# --- losses ---------------------------------------------------------------------------------------

def lsgan_generator_loss(fake_logits: Array, real_logits: Array | None = None) -> Array:
    """E[(D(G(x)) − 1)²]: CycleGAN's `criterionGAN(netD(fake), True)` with MSELoss (no ½, unlike
    jaxgan.core.losses.least_squares_generator_loss)."""
    del real_logits
    return jnp.mean((fake_logits - 1.0) ** 2)


CYCLEGAN_LSGAN = GANLoss("lsgan", least_squares_discriminator_loss, lsgan_generator_loss,
                         decision_threshold=0.5)
"""D: ½·(E[(D(real) − 1)²] + E[D(fake)²]) (the ×0.5 of `backward_D_basic`); G: E[(D(fake) − 1)²]."""

ADVERSARIAL_LOSSES: Registry[GANLoss] = Registry("CycleGAN adversarial loss",
                                                 {"lsgan": CYCLEGAN_LSGAN, **LOSSES})


def l1(x: Array, y: Array) -> Array:
    """E|x − y| over every element (torch.nn.L1Loss)."""
    return jnp.mean(jnp.abs(x - y))


def cycle_loss(reconstruction: Array, real: Array, weight: float) -> Array:
    """λ·E|F(G(a)) − a| (or λ·E|G(F(b)) − b|): `criterionCycle(rec_A, real_A) * lambda_A`."""
    return weight * l1(reconstruction, real)


def identity_loss(mapped: Array, real: Array, weight: float, identity_weight: float) -> Array:
    """λ·λ_idt·E|G(b) − b| (or with F and a): `criterionIdt(idt_A, real_B) * lambda_B *
    lambda_idt`. The generator fed an image of its own output domain should leave it as it is."""
    return weight * identity_weight * l1(mapped, real)


# --- the image pool -------------------------------------------------------------------------------

class ImagePool(struct.PyTreeNode):
    """Up to P earlier fakes: images [P, H, W, C] (the first `count` slots are filled) and count."""

    images: Array
    count: Array

    @classmethod
    def empty(cls, size: int, image_shape: tuple[int, ...]) -> "ImagePool":
        return cls(images=jnp.zeros((size,) + tuple(image_shape), jnp.float32),
                   count=jnp.zeros((), jnp.int32))

    @property
    def size(self) -> int:
        return self.images.shape[0]


def pool_query(pool: ImagePool, fakes: Array, key: Array) -> tuple[ImagePool, Array]:
    """(new pool, images for D): `ImagePool.query` of the reference, image by image in batch order.

    Image i uses key fold_in(key, i): while count < P it is stored in slot `count` and returned;
    once full, u ~ U[0, 1): if u > ½ a slot j ~ U{0..P−1} is returned and the image takes its place,
    else the image itself is returned. P = 0: the fakes pass unchanged.
    """
    size = pool.size
    if size == 0:
        return pool, fakes

    def one(carry: ImagePool, inputs):
        image, i = inputs
        key_u, key_j = jax.random.split(jax.random.fold_in(key, i))
        filling = carry.count < size
        swap = jnp.logical_and(~filling, jax.random.uniform(key_u) > 0.5)
        slot = jnp.where(filling, carry.count, jax.random.randint(key_j, (), 0, size))
        stored = carry.images[slot]
        answer = jnp.where(swap, stored, image)
        images = carry.images.at[slot].set(jnp.where(filling | swap, image, stored))
        count = carry.count + filling.astype(jnp.int32)
        return ImagePool(images=images, count=count), answer

    index = jnp.arange(fakes.shape[0], dtype=jnp.int32)
    return jax.lax.scan(one, pool, (fakes.astype(jnp.float32), index))


# --- the static definition and the state ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CycleGAN:
    """Everything static about a CycleGAN run (the networks, optimizers and weights).

    Attributes:
      g_ab, g_ba: generators A → B and B → A (flax modules, (x, labels, train) -> image).
      d_a, d_b: discriminators of domain A and of domain B ((x, labels, train) -> logits).
      g_optimizer, d_optimizer: optax transformations (Adam(2e-4, 0.5, 0.999) with the lr
        schedule); one state per network (Adam is elementwise, so this equals the reference's one
        Adam over both generators' parameters).
      loss: the adversarial loss pair (default `CYCLEGAN_LSGAN`).
      lambda_a, lambda_b: cycle weights λ_A, λ_B; lambda_identity: λ_idt (0: no identity term).
      pool_size: P, fakes kept per direction (0: no pool).
      shape_a, shape_b: image shapes (R, R, C) of the two domains.
    """

    g_ab: nn.Module
    g_ba: nn.Module
    d_a: nn.Module
    d_b: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    loss: GANLoss = CYCLEGAN_LSGAN
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    cycle_noise_a: float = 0.0
    cycle_noise_b: float = 0.0

    def __post_init__(self):
        if self.lambda_identity > 0 and tuple(self.shape_a) != tuple(self.shape_b):
            raise ValueError(f"the identity loss needs both domains of one shape, got "
                             f"{tuple(self.shape_a)} and {tuple(self.shape_b)}: set "
                             f"lambda_identity=0 or the same channels for both")


class CycleGANState(struct.PyTreeNode):
    """The whole training state: four networks (params, optimizer states), the two pools (fakes of
    domain A, F(b); fakes of domain B, G(a)) and the step count."""

    step: Array
    g_ab: NetState
    g_ba: NetState
    d_a: NetState
    d_b: NetState
    pool_a: ImagePool
    pool_b: ImagePool


def _init_net(module: nn.Module, optimizer, key: Array, shape) -> NetState:
    variables = module.init(key, jnp.zeros((1,) + tuple(shape), jnp.float32), None, train=True)
    params = variables["params"]
    return NetState(params=params, batch_stats={}, opt_state=optimizer.init(params))


def create_state(cg: CycleGAN, key: Array) -> CycleGANState:
    """A fresh state from `key`: the four networks, empty pools, step 0."""
    k_ab, k_ba, k_a, k_b = jax.random.split(key, 4)
    return CycleGANState(
        step=jnp.zeros((), jnp.int32),
        g_ab=_init_net(cg.g_ab, cg.g_optimizer, k_ab, cg.shape_a),
        g_ba=_init_net(cg.g_ba, cg.g_optimizer, k_ba, cg.shape_b),
        d_a=_init_net(cg.d_a, cg.d_optimizer, k_a, cg.shape_a),
        d_b=_init_net(cg.d_b, cg.d_optimizer, k_b, cg.shape_b),
        pool_a=ImagePool.empty(cg.pool_size, cg.shape_a),
        pool_b=ImagePool.empty(cg.pool_size, cg.shape_b))


def translate(cg: CycleGAN, state: CycleGANState, x: Array, direction: str) -> Array:
    """G(x) for direction 'a2b', F(x) for 'b2a'."""
    if direction == "a2b":
        return cg.g_ab.apply({"params": state.g_ab.params}, x, None, train=False)
    if direction == "b2a":
        return cg.g_ba.apply({"params": state.g_ba.params}, x, None, train=False)
    raise ValueError(f"direction must be 'a2b' or 'b2a', got {direction!r}")


# --- the step -------------------------------------------------------------------------------------

def _mean_over(tree, axis_name):
    return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def _update(net: NetState, grads, optimizer) -> NetState:
    updates, opt_state = optimizer.update(grads, net.opt_state, net.params)
    return net.replace(params=optax.apply_updates(net.params, updates), opt_state=opt_state)


def generator_losses(cg: CycleGAN, params_ab, params_ba, d_a_params, d_b_params, a: Array,
                     b: Array, noise: tuple[Array, Array] | None = None
                     ) -> tuple[Array, tuple[dict[str, Array], Array, Array]]:
    """(L_G, (its terms, F(b), G(a))) of the module docstring.

    `noise` = (n_a, n_b), standard normal of the shapes of G(a) and F(b), used when
    cg.cycle_noise_a/b > 0: the cycles become λ_A·E|F(G(a) + σ_a·n_a) − a| and
    λ_B·E|G(F(b) + σ_b·n_b) − b| (the adversarial terms see the clean translations). Gaussian
    noise between the two generators drowns the low-amplitude signal a generator can hide in its
    output for the other to undo the translation with (Chu et al. 2017, "CycleGAN, a master of
    steganography", arXiv:1712.02950; the noise defence of Bashkirova et al. 2019,
    arXiv:1908.01517): the way back must then read what is visible. Not in the reference (σ = 0).
    """
    g = lambda p, x: cg.g_ab.apply({"params": p}, x, None, train=True)
    f = lambda p, x: cg.g_ba.apply({"params": p}, x, None, train=True)
    d_a = lambda x: cg.d_a.apply({"params": d_a_params}, x, None, train=True)
    d_b = lambda x: cg.d_b.apply({"params": d_b_params}, x, None, train=True)
    fake_b = g(params_ab, a)
    fake_a = f(params_ba, b)
    needs_real = cg.loss.generator_needs_real
    terms = {
        "g_adv_ab": cg.loss.generator(d_b(fake_b), d_b(b) if needs_real else None),
        "g_adv_ba": cg.loss.generator(d_a(fake_a), d_a(a) if needs_real else None),
        "cycle_a": cycle_loss(f(params_ba, _noisy(fake_b, cg.cycle_noise_a, noise, 0)), a,
                              cg.lambda_a),
        "cycle_b": cycle_loss(g(params_ab, _noisy(fake_a, cg.cycle_noise_b, noise, 1)), b,
                              cg.lambda_b),
    }
    if cg.lambda_identity > 0:
        terms["identity_b"] = identity_loss(g(params_ab, b), b, cg.lambda_b, cg.lambda_identity)
        terms["identity_a"] = identity_loss(f(params_ba, a), a, cg.lambda_a, cg.lambda_identity)
    return sum(terms.values()), (terms, fake_a, fake_b)


def _noisy(x: Array, sigma: float, noise: tuple[Array, Array] | None, which: int) -> Array:
    return x if sigma <= 0 or noise is None else x + sigma * noise[which]


def cycle_noise(cg: CycleGAN, key: Array, a: Array, b: Array,
                axis_name: str | None = None) -> tuple[Array, Array] | None:
    """(n_a, n_b) ~ N(0, 1) for one step (None when both σ are 0), drawn for the global batch and
    cut to this device's rows, so data parallelism draws what one device would."""
    if cg.cycle_noise_a <= 0 and cg.cycle_noise_b <= 0:
        return None
    devices = 1 if axis_name is None else jax.lax.psum(1, axis_name)
    key_a, key_b = jax.random.split(key)
    n_a = jax.random.normal(key_a, (devices * a.shape[0],) + tuple(cg.shape_b))
    n_b = jax.random.normal(key_b, (devices * b.shape[0],) + tuple(cg.shape_a))
    return _local_rows(n_a, a.shape[0], axis_name), _local_rows(n_b, b.shape[0], axis_name)


def _discriminator_update(cg: CycleGAN, module: nn.Module, net: NetState, real: Array,
                          fake: Array, axis_name: str | None) -> tuple[NetState, Array]:
    def loss_fn(params):
        apply = lambda x: module.apply({"params": params}, x, None, train=True)
        return cg.loss.discriminator(apply(real), apply(fake))

    loss, grads = jax.value_and_grad(loss_fn)(net.params)
    grads = _mean_over(grads, axis_name)
    return _update(net, grads, cg.d_optimizer), loss


def _global_fakes(fake: Array, axis_name: str | None) -> Array:
    """Every device's fakes in global batch order (device j holds rows [j·b, (j+1)·b))."""
    return fake if axis_name is None else jax.lax.all_gather(fake, axis_name, tiled=True)


def _local_rows(x: Array, rows: int, axis_name: str | None) -> Array:
    if axis_name is None:
        return x
    start = jax.lax.axis_index(axis_name) * rows
    return jax.lax.dynamic_slice_in_dim(x, start, rows)


def train_step(cg: CycleGAN, state: CycleGANState, batch: Batch, key: Array,
               axis_name: str | None = None) -> tuple[CycleGANState, dict[str, Array]]:
    """One CycleGAN step on batch {'a': [B, ...], 'b': [B, ...]} (unpaired). Pure.

    Data parallel (`axis_name`): gradients and metrics are averaged over devices (`pmean`); the
    pools see the global batch of fakes (`all_gather`) and draw with the same key on every device,
    so each device keeps the same pool and the step equals the one-device step on the whole batch.
    """
    a, b = batch["a"], batch["b"]
    key_a, key_b = jax.random.split(key)
    noise = cycle_noise(cg, jax.random.fold_in(key, 2), a, b, axis_name)
    (_, (terms, fake_a, fake_b)), (grads_ab, grads_ba) = jax.value_and_grad(
        functools.partial(generator_losses, cg), argnums=(0, 1), has_aux=True)(
        state.g_ab.params, state.g_ba.params, state.d_a.params, state.d_b.params, a, b, noise)
    grads_ab, grads_ba = _mean_over((grads_ab, grads_ba), axis_name)
    g_ab = _update(state.g_ab, grads_ab, cg.g_optimizer)
    g_ba = _update(state.g_ba, grads_ba, cg.g_optimizer)

    fake_a, fake_b = jax.lax.stop_gradient((fake_a, fake_b))
    pool_a, pooled_a = pool_query(state.pool_a, _global_fakes(fake_a, axis_name), key_a)
    pool_b, pooled_b = pool_query(state.pool_b, _global_fakes(fake_b, axis_name), key_b)
    pooled_a = _local_rows(pooled_a, a.shape[0], axis_name)
    pooled_b = _local_rows(pooled_b, b.shape[0], axis_name)
    d_a, d_a_loss = _discriminator_update(cg, cg.d_a, state.d_a, a, pooled_a, axis_name)
    d_b, d_b_loss = _discriminator_update(cg, cg.d_b, state.d_b, b, pooled_b, axis_name)

    metrics = {"g_loss": sum(terms.values()), **terms, "d_a_loss": d_a_loss,
               "d_b_loss": d_b_loss, "d_loss": d_a_loss + d_b_loss,  # what optimizer_D minimises
               "g_grad_norm": optax.tree.norm((grads_ab, grads_ba))}
    metrics = _mean_over(metrics, axis_name)
    new_state = CycleGANState(step=state.step + 1, g_ab=g_ab, g_ba=g_ba, d_a=d_a, d_b=d_b,
                              pool_a=pool_a, pool_b=pool_b)
    leaves = [metrics[k] for k in metrics] + jax.tree.leaves(
        (g_ab.params, g_ba.params, d_a.params, d_b.params))
    metrics["finite"] = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))
    return new_state, metrics


def make_train_step(cg: CycleGAN, axis_name: str | None = None):
    """`(state, batch, key) -> (state, metrics)`, not yet compiled."""
    return functools.partial(train_step, cg, axis_name=axis_name)


def lr_schedule(peak: float, total_steps: int, decay_steps: int) -> optax.Schedule:
    """η(t) = η₀ for t < T − T_d, then η₀·(1 − (t − (T − T_d))/T_d), 0 from T on: the reference's
    `lambda_rule` (`get_scheduler`, lr_policy 'lambda': n_epochs constant, n_epochs_decay linear
    to 0) counted in steps. T_d = 0: constant."""
    if decay_steps <= 0:
        return optax.constant_schedule(peak)
    constant = max(total_steps - decay_steps, 0)
    return optax.join_schedules([optax.constant_schedule(peak),
                                 optax.linear_schedule(peak, 0.0, decay_steps)], [constant])
