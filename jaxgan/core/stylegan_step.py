"""The StyleGAN2(-ADA) training step: lazy R1, path-length regularisation, style mixing, EMA by
images seen, and ADA's probability p; after NVlabs/stylegan2-ada-pytorch `training/loss.py`
(cited loss.py:N) and `training/training_loop.py` (training_loop.py:N).

`StyleGAN2Training` is attached to the `GAN` (`GAN.training`); jaxgan.core.step.train_step hands
the step to it, and jaxgan.core.state.create_train_state keeps its `init_extras()` in
`GANState.extras`: {'pl_mean', 'ada_p', 'ada_signs', 'ada_count'} (checkpointed with the state).
The generator's w_avg lives in G's 'batch_stats' collection (jaxgan.models.stylegan2).

Step t (t = G steps done, the state's step; n_critic is 1), phases as the reference's
(training_loop.py:196-210, 268-296; each phase its own optimizer step):

  Dmain  D ← Adam(∇ softplus(D(A(G(z)))) + softplus(−D(A(x))))                (loss.py:94-119)
  Dreg   if t mod r1_interval = 0:  D ← Adam(∇ (γ/2)·E‖∇_x D(A(x))‖² · r1_interval)  (:121-131)
  Gmain  G ← Adam(∇ softplus(−D(A(G(z)))))                                         (:64-74)
  Greg   if t mod pl_interval = 0 and pl_weight > 0, on batch B/pl_batch_shrink:  (:76-92)
           y ~ N(0, I)/√(HW),  L_b = √(mean_layers Σ_w (∂⟨G_syn(ws_b), y⟩/∂ws_b)²),
           pl_mean ← pl_mean + pl_decay·(mean_b L_b − pl_mean),
           G ← Adam(∇ pl_weight·E(L_b − pl_mean)² · pl_interval)
  EMA    β = 0.5^(B / max(ema_nimg, 1e-8)), ema_nimg = min(ema_kimg·1000, t·B·ema_rampup)
         (ramp-up only when ema_rampup > 0), ema ← β·ema + (1 − β)·G   (training_loop.py:296-303)
  ADA    signs of D(A(x)) from Dmain summed; every ada_interval steps p is adjusted
         (jaxgan.core.ada.adjust_p) and the sums reset                  (training_loop.py:312-316)

A = ADA's augmentation with probability p (identity when ADA is off). G(z) with style mixing
(loss.py:38-48): with probability `style_mixing_prob` the layers from a cutoff ~ U{1, …,
num_ws − 1} on take w of a second z; the second mapping does not update w_avg. Noise inputs are
random (the 'noise' RNG stream) in every phase.

The reference's Adam is scaled for lazy regularisation in jaxgan.config.build (lr·c, β^c,
c = I/(I + 1), training_loop.py:200-206: `lazy_adam`).

One compiled step covers every regularisation pattern: the Dreg and Greg phases sit in
`lax.cond` on the step number, so a step runs only the phases its number asks for (under vmap
of several seeds a cond becomes a select: both sides run). The pattern is a function of t only,
so a resumed run makes exactly the updates the uninterrupted one makes. XLA's CPU compiler leaves
the gradient convolutions inside a cond branch in their permuted layouts and runs them as naive
loops (the lazy R1 step was 14× slower than the same R1 outside the cond); the StyleGAN2 networks
therefore use jaxgan.models.canonical_conv, whose gradients are canonical convolutions.
Departures: G's fakes for D and G use the real batch's labels (as every jaxgan step), G's step
comes after D's; no float16.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan.core import ada as ada_lib

Array = jax.Array


def lazy_adam(lr, b1: float, b2: float, interval: int, eps: float = 1e-8):
    """Adam for a network regularised every `interval` steps (training_loop.py:200-206):
    lr·c, β₁^c, β₂^c with c = interval/(interval + 1) (interval 0: plain Adam)."""
    c = interval / (interval + 1) if interval > 0 else 1.0
    scaled = (lambda t: lr(t) * c) if callable(lr) else lr * c
    return optax.adam(scaled, b1=b1 ** c, b2=b2 ** c, eps=eps)


def r1_term(d_fn, x: Array, gamma: float) -> tuple[Array, Array]:
    """((γ/2)·mean_b ‖∇_x D(x)_b‖², logits): R1 (Mescheder et al. 2018; loss.py:121-126); the
    gradient of Σ_b D(x_b), as the reference."""
    logits, vjp = jax.vjp(d_fn, x)
    (grads,) = vjp(jnp.ones_like(logits))
    penalty = jnp.sum(jnp.square(grads).reshape(x.shape[0], -1), axis=-1)
    return 0.5 * gamma * jnp.mean(penalty), logits


def path_lengths(synthesize, ws: Array, key: Array) -> Array:
    """L_b = √(mean_layers Σ_w J_bᵀy) with y ~ N(0, I)/√(HW): the lengths of loss.py:79-84."""
    img, vjp = jax.vjp(synthesize, ws)
    y = jax.random.normal(key, img.shape, img.dtype) / jnp.sqrt(img.shape[1] * img.shape[2])
    (grads,) = vjp(y)
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))


def path_length_term(lengths: Array, pl_mean: Array, decay: float,
                     weight: float) -> tuple[Array, Array]:
    """(weight·mean_b (L_b − pl_mean')², pl_mean') with pl_mean' = lerp(pl_mean, mean L, decay),
    held constant in the gradient (loss.py:85-89)."""
    new_mean = pl_mean + decay * (jnp.mean(jax.lax.stop_gradient(lengths)) - pl_mean)
    return weight * jnp.mean(jnp.square(lengths - new_mean)), new_mean


def ema_beta(step: Array, batch_size: int, ema_kimg: float, ema_rampup: float) -> Array:
    """β = 0.5^(B / max(ema_nimg, 1e-8)), ema_nimg = ema_kimg·1000, with ramp-up
    min(ema_nimg, t·B·rampup) (training_loop.py:296-303)."""
    nimg = jnp.asarray(ema_kimg * 1000.0, jnp.float32)
    if ema_rampup > 0:
        nimg = jnp.minimum(nimg, jnp.asarray(step, jnp.float32) * batch_size * ema_rampup)
    return 0.5 ** (batch_size / jnp.maximum(nimg, 1e-8))


def mix_styles(ws: Array, ws2: Array, key: Array, prob: float) -> Array:
    """ws with layers ≥ cutoff from ws2; cutoff ~ U{1, …, num_ws − 1} with probability `prob`,
    else num_ws (no mixing), one cutoff for the batch (loss.py:41-45)."""
    num = ws.shape[1]
    key_cut, key_on = jax.random.split(key)
    cutoff = jax.random.randint(key_cut, (), 1, num)
    cutoff = jnp.where(jax.random.uniform(key_on) < prob, cutoff, num)
    layer = jnp.arange(num)[None, :, None]
    return jnp.where(layer < cutoff, ws, ws2)


def _mean_over(tree, axis_name):
    return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


@dataclasses.dataclass(frozen=True)
class StyleGAN2Training:
    """The hyperparameters of the step above (defaults: the reference's)."""

    batch_size: int
    r1_gamma: float = 10.0
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    style_mixing_prob: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float = 0.0
    ada_target: float = 0.0          # 0: p fixed at ada_p_init
    ada_interval: int = 4
    ada_kimg: float = 500.0
    ada_p_init: float = 0.0
    ada_pipeline: Any = None         # an ada.AdaPipeline; None: no augmentation

    def init_extras(self) -> dict[str, Array]:
        f = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
        return {"pl_mean": f(0.0), "ada_p": f(self.ada_p_init), "ada_signs": f(0.0),
                "ada_count": f(0.0)}

    # --- pieces ---------------------------------------------------------------------------------

    def augment(self, images: Array, key: Array, p: Array) -> Array:
        return images if self.ada_pipeline is None else self.ada_pipeline(images, key, p)

    def run_g(self, gan, params, batch_stats, z, labels, key, update_w_avg: bool):
        """(images, ws, new batch_stats): mapping (+ style mixing), synthesis with random noise."""
        variables = {"params": params, "batch_stats": batch_stats}
        key_mix, key_z2, key_noise = jax.random.split(key, 3)
        ws, mutated = gan.generator.apply(variables, z, labels, True, method="styles",
                                          mutable=["batch_stats"])
        new_stats = mutated["batch_stats"] if update_w_avg else batch_stats
        if self.style_mixing_prob > 0:
            z2 = jax.random.normal(key_z2, z.shape, z.dtype)
            ws2 = gan.generator.apply(variables, z2, labels, False, method="styles")
            ws = mix_styles(ws, ws2, key_mix, self.style_mixing_prob)
        img = gan.generator.apply(variables, ws, method="synthesize", rngs={"noise": key_noise})
        return img, ws, new_stats

    def run_d(self, gan, d_params, images, labels, key, p):
        return gan.discriminator.apply({"params": d_params}, self.augment(images, key, p),
                                       labels, True)

    # --- the step -------------------------------------------------------------------------------

    def __call__(self, gan, state, batch, key, axis_name: str | None = None):
        if gan.n_critic != 1:
            raise ValueError(f"the StyleGAN2 step makes one D step per G step; got "
                             f"n_critic={gan.n_critic}")
        real, labels = batch["x"], batch.get("label")
        extras = state.extras
        p = extras["ada_p"]
        t = state.step
        k_dmain, k_dreg, k_gmain, k_greg = jax.random.split(key, 4)
        g, d = state.generator, state.discriminator

        # Dmain (loss.py:94-119)
        kz, kg, ka_fake, ka_real = jax.random.split(k_dmain, 4)
        z = gan.sample_latent(kz, real.shape[0])
        fake, _, _ = self.run_g(gan, g.params, g.batch_stats, z, labels, kg, False)
        fake = jax.lax.stop_gradient(fake)

        def d_main_loss(params):
            fake_logits = self.run_d(gan, params, fake, labels, ka_fake, p)
            real_logits = self.run_d(gan, params, real, labels, ka_real, p)
            return gan.loss.discriminator(real_logits, fake_logits), (real_logits, fake_logits)

        (d_loss, (real_logits, fake_logits)), d_grads = jax.value_and_grad(
            d_main_loss, has_aux=True)(d.params)
        d_grads = _mean_over(d_grads, axis_name)
        d = _update(d, d_grads, gan.d_optimizer)

        # Dreg: lazy R1 (loss.py:121-131)
        def d_reg(d):
            def loss(params):
                d_fn = lambda x: self.run_d(gan, params, x, labels, k_dreg, p)  # noqa: E731
                penalty, _ = r1_term(d_fn, real, self.r1_gamma)
                return penalty * self.r1_interval, penalty
            (_, penalty), grads = jax.value_and_grad(loss, has_aux=True)(d.params)
            return _update(d, _mean_over(grads, axis_name), gan.d_optimizer), penalty

        r1_due = (t % self.r1_interval == 0) if (self.r1_interval > 0 and self.r1_gamma > 0) \
            else jnp.zeros((), bool)
        d, r1 = jax.lax.cond(r1_due, d_reg, lambda d: (d, jnp.zeros((), jnp.float32)), d)

        # Gmain (loss.py:64-74)
        kz, kg, ka = jax.random.split(k_gmain, 3)
        z = gan.sample_latent(kz, real.shape[0])

        def g_main_loss(params):
            img, _, stats = self.run_g(gan, params, g.batch_stats, z, labels, kg, True)
            logits = self.run_d(gan, d.params, img, labels, ka, p)
            return gan.loss.generator(logits), stats

        (g_loss, g_stats), g_grads = jax.value_and_grad(g_main_loss, has_aux=True)(g.params)
        g_grads, g_stats = _mean_over((g_grads, g_stats), axis_name)
        g = _update(g, g_grads, gan.g_optimizer, g_stats)

        # Greg: path length (loss.py:76-92)
        pl_mean = extras["pl_mean"]

        def g_reg(operands):
            g, pl_mean = operands
            kz, kg, ky = jax.random.split(k_greg, 3)
            n = max(real.shape[0] // self.pl_batch_shrink, 1)
            z = gan.sample_latent(kz, n)
            lab = None if labels is None else labels[:n]

            def loss(params):
                variables = {"params": params, "batch_stats": g.batch_stats}
                _, ws, _ = self.run_g(gan, params, g.batch_stats, z, lab, kg, False)
                synth = lambda w: gan.generator.apply(  # noqa: E731
                    variables, w, method="synthesize", rngs={"noise": kg})
                lengths = path_lengths(synth, ws, ky)
                penalty, new_mean = path_length_term(lengths, pl_mean, self.pl_decay,
                                                     self.pl_weight)
                return penalty * self.pl_interval, (penalty, new_mean)

            (_, (penalty, new_mean)), grads = jax.value_and_grad(loss, has_aux=True)(g.params)
            g = _update(g, _mean_over(grads, axis_name), gan.g_optimizer)
            return (g, _mean_over(new_mean, axis_name)), penalty

        pl_due = (t % self.pl_interval == 0) if (self.pl_interval > 0 and self.pl_weight > 0) \
            else jnp.zeros((), bool)
        (g, pl_mean), pl_penalty = jax.lax.cond(
            pl_due, g_reg, lambda ops: (ops, jnp.zeros((), jnp.float32)), (g, pl_mean))

        # EMA by images seen (training_loop.py:296-303)
        ema = state.ema_params
        if ema is not None:
            beta = ema_beta(t, real.shape[0], self.ema_kimg, self.ema_rampup)
            ema = optax.incremental_update(g.params, ema, step_size=1.0 - beta)

        # ADA (training_loop.py:312-316)
        sign_mean = _mean_over(jnp.mean(jnp.sign(real_logits)), axis_name)
        signs, count = extras["ada_signs"] + sign_mean, extras["ada_count"] + 1.0
        if self.ada_target > 0 and self.ada_pipeline is not None:
            adjust_now = (t + 1) % self.ada_interval == 0
            new_p = ada_lib.adjust_p(p, signs / count, self.ada_target, self.batch_size,
                                     self.ada_interval, self.ada_kimg)
            p = jnp.where(adjust_now, new_p, p)
            signs = jnp.where(adjust_now, 0.0, signs)
            count = jnp.where(adjust_now, 0.0, count)
        extras = {"pl_mean": pl_mean, "ada_p": p, "ada_signs": signs, "ada_count": count}

        new_state = state.replace(generator=g, discriminator=d, ema_params=ema, step=t + 1,
                                  extras=extras)
        metrics = {
            "d_loss": d_loss, "g_loss": g_loss, "penalty": r1,
            "pl_penalty": pl_penalty, "pl_mean": pl_mean, "ada_p": p, "r_t": sign_mean,
            "d_accuracy_real": jnp.mean((real_logits > 0).astype(jnp.float32)),
            "d_accuracy_fake": jnp.mean((fake_logits <= 0).astype(jnp.float32)),
            "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
            "d_grad_norm": optax.tree.norm(d_grads), "g_grad_norm": optax.tree.norm(g_grads),
        }
        return new_state, _mean_over(metrics, axis_name)


def _update(net, grads, optimizer, batch_stats=None):
    updates, opt_state = optimizer.update(grads, net.opt_state, net.params)
    return net.replace(params=optax.apply_updates(net.params, updates), opt_state=opt_state,
                       batch_stats=net.batch_stats if batch_stats is None else batch_stats)
