"""The one pure update step: n_critic discriminator updates, then one generator update.

`train_step(gan, state, batch, key, axis_name=None) -> (new_state, metrics)` is pure: all randomness
comes from `key`, nothing outside the returned values changes. With `axis_name` set it runs inside
`pmap`/`shard_map`: each device folds its index into the key (different noise per device), and
gradients, BatchNorm statistics and metrics are averaged across the axis, keeping replicas equal.

`batch['x']` holds n_critic·B real examples; discriminator update i uses rows [iB, (i+1)B) (a fresh
real batch per critic step, as in Arjovsky et al. 2017), and the generator update reuses the last
chunk where a relativistic loss needs real logits. `batch['label']` (optional) holds their labels.

`gan.augment` (jaxgan.core.augment) transforms D's input pair (real, fake) with one key per update,
in the D and in the G update alike. The `finite` metric is False when a loss, a gradient norm or any
parameter of the updated state holds NaN/Inf (jaxgan.training.monitors names which).
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan.core import conditioning
from jaxgan.core.gan import GAN
from jaxgan.core.mode_seeking import mode_seeking_loss
from jaxgan.core.state import GANState, NetState
from jaxgan.core.tree_stats import all_finite

Array = jax.Array
Batch = dict[str, Array]
Metrics = dict[str, Array]


def _mean_over(tree: Any, axis_name: str | None) -> Any:
    return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def _apply_updates(net: NetState, grads, optimizer: optax.GradientTransformation,
                   batch_stats) -> NetState:
    updates, opt_state = optimizer.update(grads, net.opt_state, net.params)
    return NetState(params=optax.apply_updates(net.params, updates), batch_stats=batch_stats,
                    opt_state=opt_state)


def _augment(gan: GAN, real: Array, fake: Array, key: Array, step: Array) -> tuple[Array, Array]:
    """D's inputs after `gan.augment` (jaxgan.core.augment), which sees the pair and one key."""
    return (real, fake) if gan.augment is None else gan.augment(real, fake, key, step)


def _twice(labels: Array | None) -> Array | None:
    return None if labels is None else jnp.concatenate([labels, labels])


def _split_halves(outputs):
    """D's outputs on [real; fake] (logits, or ACGAN's (logits, class_logits)) split in two."""
    half = jax.tree.leaves(outputs)[0].shape[0] // 2
    return (jax.tree.map(lambda a: a[:half], outputs),
            jax.tree.map(lambda a: a[half:], outputs))


def ema_decay_at(decay: float, step: Array, warmup: bool = True, start: int = 0) -> Array:
    """The EMA decay used at generator step t (0-based count of updates done before this one).

    With `warmup`: β_t = min(β, (1 + t) / (10 + t)), the `num_updates` rule of TensorFlow's
    `tf.train.ExponentialMovingAverage`, so the average forgets the untrained initial generator
    quickly (β_0 = 0.1, β_90 = 0.91, β_t → β); without: β_t = β (Yazıcı et al. 2019,
    arXiv:1806.04498, average from the first step). With `start` > 0, β_t = 0 for t < start (the
    average is a copy of G until then, BigGAN's `ema_start`) and the warm-up counts from `start`.
    A function of the step in the state only, so a resumed run applies the same decays.
    """
    decay = jnp.asarray(decay, jnp.float32)
    t = jnp.asarray(step, jnp.float32) - start
    if warmup:
        decay = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
    return decay if start == 0 else jnp.where(t < 0, 0.0, decay)


def _d_outputs(gan: GAN, logits: Array) -> Array:
    """D(·) as reported: a probability for the BCE losses, the raw output otherwise."""
    return jnp.mean(jax.nn.sigmoid(logits) if gan.loss.bce_based else logits)


def discriminator_update(gan: GAN, state: GANState, real: Array, labels: Array | None,
                         key: Array, axis_name: str | None = None) -> tuple[GANState, Metrics]:
    """One D update on a real batch and a fresh fake batch (G in training mode, not updated)."""
    key_z, key_penalty, key_aug = jax.random.split(key, 3)
    g, d = state.generator, state.discriminator
    z = gan.sample_latent(key_z, real.shape[0])
    fake, _ = gan.apply_generator(g.variables(), z, labels, train=True, mutable=["batch_stats"])
    fake = jax.lax.stop_gradient(fake)
    real_in, fake_in = _augment(gan, real, fake, key_aug, state.step)

    def loss_fn(params):
        def apply(variables, x, x_labels=labels):
            return gan.apply_discriminator(variables, x, x_labels, train=True,
                                           mutable=["batch_stats"])
        if gan.d_joint_batch:
            # One call on [real; fake]: BatchNorm sees both halves together, so D cannot tell
            # the halves apart by their batch statistics alone.
            joint_out, mutated = apply({"params": params, "batch_stats": d.batch_stats},
                                       jnp.concatenate([real_in, fake_in]), _twice(labels))
            real_out, fake_out = _split_halves(joint_out)
        else:
            real_out, mutated = apply({"params": params, "batch_stats": d.batch_stats}, real_in)
            fake_out, mutated = apply({"params": params, **mutated}, fake_in)
        # ACGAN discriminators return (logits, class_logits) (jaxgan.core.conditioning).
        real_logits, real_class = conditioning.split_discriminator_output(real_out)
        fake_logits, fake_class = conditioning.split_discriminator_output(fake_out)
        adversarial = gan.loss.discriminator(real_logits, fake_logits)
        critic = lambda x: conditioning.split_discriminator_output(
            apply({"params": params, "batch_stats": d.batch_stats}, x)[0])[0]
        penalty = gan.penalty(critic, real_in, fake_in, key_penalty)
        class_loss, class_metrics = conditioning.discriminator_class_loss(
            real_class, fake_class, labels)
        aux = (adversarial, penalty, real_logits, fake_logits, mutated.get("batch_stats", {}),
               class_metrics)
        return adversarial + penalty + gan.class_loss_weight * class_loss, aux

    grads, (adversarial, penalty, real_logits, fake_logits, batch_stats, class_metrics) = jax.grad(
        loss_fn, has_aux=True)(d.params)
    grads, batch_stats = _mean_over((grads, batch_stats), axis_name)
    new_d = _apply_updates(d, grads, gan.d_optimizer, batch_stats)
    threshold = gan.loss.decision_threshold
    metrics = {
        "d_loss": adversarial,
        "penalty": penalty,
        "d_accuracy_real": jnp.mean((real_logits > threshold).astype(jnp.float32)),
        "d_accuracy_fake": jnp.mean((fake_logits <= threshold).astype(jnp.float32)),
        "d_real": _d_outputs(gan, real_logits),
        "d_fake": _d_outputs(gan, fake_logits),
        "d_grad_norm": optax.tree.norm(grads),
        **class_metrics,
    }
    return state.replace(discriminator=new_d), metrics


def generator_update(gan: GAN, state: GANState, real: Array, labels: Array | None, key: Array,
                     axis_name: str | None = None) -> tuple[GANState, Metrics]:
    """One G update against the current D; `real` is read only by relativistic losses."""
    key_z, key_aug = jax.random.split(key)
    g, d = state.generator, state.discriminator
    z = gan.sample_latent(key_z, real.shape[0])
    seeking = gan.mode_seeking_weight > 0
    if seeking:
        # Mode seeking (jaxgan.core.mode_seeking): G is called once on [z₁; z₂] with the labels
        # twice, and the adversarial loss covers both halves, as in MSGAN's reference code. The
        # second latent comes from a key folded off key_z, so runs without it draw as before.
        z = jnp.concatenate([z, gan.sample_latent(jax.random.fold_in(key_z, 1), z.shape[0])])
        real, labels = jnp.concatenate([real, real]), _twice(labels)

    def d_outputs(x, x_labels=labels):
        return conditioning.split_discriminator_output(gan.apply_discriminator(
            d.variables(), x, x_labels, train=True, mutable=["batch_stats"])[0])

    def loss_fn(params):
        fake, mutated = gan.apply_generator({"params": params, "batch_stats": g.batch_stats}, z,
                                            labels, train=True, mutable=["batch_stats"])
        seeking_loss = 0.0
        if seeking:
            (fake1, fake2), (z1, z2) = _split_halves(fake), _split_halves(z)
            seeking_loss = gan.mode_seeking_weight * mode_seeking_loss(fake1, fake2, z1, z2)
        real_in, fake_in = _augment(gan, real, fake, key_aug, state.step)
        if gan.d_joint_batch:
            # D normalises [real; fake] together, as in its own update.
            joint = d_outputs(jnp.concatenate([real_in, fake_in]), _twice(labels))
            (real_logits, _), (fake_logits, fake_class) = _split_halves(joint)
            real_logits = real_logits if gan.loss.generator_needs_real else None
        else:
            fake_logits, fake_class = d_outputs(fake_in)
            real_logits = d_outputs(real_in)[0] if gan.loss.generator_needs_real else None
        class_loss, class_metrics = conditioning.generator_class_loss(fake_class, labels)
        loss = gan.loss.generator(fake_logits, real_logits)
        aux = (loss, mutated.get("batch_stats", {}), class_metrics, seeking_loss)
        return loss + gan.class_loss_weight * class_loss + seeking_loss, aux

    (_, (loss, batch_stats, class_metrics, seeking_loss)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(g.params)
    grads, batch_stats = _mean_over((grads, batch_stats), axis_name)
    new_g = _apply_updates(g, grads, gan.g_optimizer, batch_stats)
    ema = state.ema_params
    if ema is not None:
        # ema ← β_t·ema + (1 − β_t)·params, β_t = ema_decay_at(step) (warm-up, see there)
        decay = ema_decay_at(gan.ema_decay, state.step, gan.ema_warmup, gan.ema_start)
        ema = optax.incremental_update(new_g.params, ema, step_size=1.0 - decay)
    new_state = state.replace(generator=new_g, ema_params=ema, step=state.step + 1)
    metrics = {"g_loss": loss, "g_grad_norm": optax.tree.norm(grads), **class_metrics}
    if seeking:
        metrics["mode_seeking_loss"] = seeking_loss
    return new_state, metrics


def train_step(gan: GAN, state: GANState, batch: Batch, key: Array,
               axis_name: str | None = None) -> tuple[GANState, Metrics]:
    """n_critic D updates (each on its own real chunk), then one G update. Pure."""
    if axis_name is not None:
        key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))
    if gan.training is not None:  # a custom step (jaxgan.core.stylegan_step)
        state, metrics = gan.training(gan, state, batch, key, axis_name)
        return state, {**metrics, "finite": _finite(metrics, state)}
    x, labels = batch["x"], batch.get("label")
    if x.shape[0] % gan.n_critic:
        raise ValueError(f"batch of {x.shape[0]} rows is not n_critic={gan.n_critic} chunks")
    chunk = x.shape[0] // gan.n_critic
    xs = x.reshape((gan.n_critic, chunk) + x.shape[1:])
    ls = None if labels is None else labels.reshape((gan.n_critic, chunk))
    key_d, key_g = jax.random.split(key)
    d_keys = jax.random.split(key_d, gan.n_critic)

    def critic_step(carry: GANState, inputs):
        real_i, labels_i, key_i = inputs
        return discriminator_update(gan, carry, real_i, labels_i, key_i, axis_name)

    if gan.n_critic == 1:
        state, d_metrics = critic_step(state, (xs[0], None if ls is None else ls[0], d_keys[0]))
    else:
        state, d_metrics = jax.lax.scan(critic_step, state, (xs, ls, d_keys))
        d_metrics = jax.tree.map(lambda m: m[-1], d_metrics)  # the last critic step's
    state, g_metrics = generator_update(gan, state, xs[-1], None if ls is None else ls[-1],
                                        key_g, axis_name)
    metrics = _mean_over({**d_metrics, **g_metrics}, axis_name)
    metrics["finite"] = _finite(metrics, state)
    return state, metrics


def _finite(metrics: Metrics, state: GANState) -> Array:
    """False when a loss, a gradient norm or a parameter of either network is NaN/Inf."""
    return jnp.all(jnp.isfinite(jnp.stack(
        [metrics[k] for k in ("d_loss", "g_loss", "penalty", "d_grad_norm", "g_grad_norm")]))) \
        & all_finite((state.generator.params, state.discriminator.params))


def make_train_step(gan: GAN, axis_name: str | None = None):
    """`(state, batch, key) -> (state, metrics)` for this GAN, not yet compiled."""
    return functools.partial(train_step, gan, axis_name=axis_name)


def jit_train_step(gan: GAN):
    """The step jitted for one device, donating the old state's buffers."""
    return jax.jit(make_train_step(gan), donate_argnums=0)


def jit_train_loop(gan: GAN, draw=None):
    """`(state, batches, base_key, start[, data]) -> (state, metrics)`: L steps fused in one
    `lax.scan`, jitted for one device (donating the state). `batches` holds L steps' batches
    stacked on a leading axis; step start + i runs on batches[i] with key step_key(base_key,
    start + i), as L calls of `jit_train_step` would; metrics come back stacked, [L] each.
    With `draw`, batches[i] is what names step i's batch and the batch is draw(data, batches[i]),
    computed inside the scan (data drawn on the device, e.g. jaxgan.data's DeviceBatches)."""
    def loop(state, batches, base_key, start, data=None):
        def body(carry, inputs):
            batch, t = inputs
            if draw is not None:
                batch = draw(data, batch)
            return train_step(gan, carry, batch, step_key(base_key, t))
        num = jax.tree.leaves(batches)[0].shape[0]
        return jax.lax.scan(body, state, (batches, start + jnp.arange(num, dtype=jnp.int32)))
    return jax.jit(loop, donate_argnums=0)


def step_key(base_key: Array, step: int | Array) -> Array:
    """The key of step `step`: fold_in(base_key, step), so resumed runs draw the same noise."""
    return jax.random.fold_in(base_key, step)
