"""The model families' convolutions go through jaxgan.models.canonical_conv (issue 21): a tiny
DCGAN's parameter gradients equal those with plain lax convolutions, and on XLA CPU the fused
K-step loop with an n_critic scan compiles every convolution in the canonical NHWC/HWIO layout (the
permuted layouts of JAX's transpose rules run as naive loops inside loop bodies there)."""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, build_gan
from jaxgan.core.state import create_train_state
from jaxgan.core.step import jit_train_loop
from jaxgan.models import canonical_conv

CANONICAL = "b01f_01io->b01f"


def _tiny_gan(**overrides):
    """DCGAN at 8×8 with 4 features: G = dense, one 4×4 stride-2 transposed conv ('hybrid' on
    CPU); D = one 4×4 stride-2 conv ('xla'), the 4×4 valid head (blocks.conv). Below 16 channels
    jaxgan.models.layers keeps these forms (Winograd's matrix products take over from 16 on)."""
    c = base_config()
    c.resolution, c.channels, c.g_features, c.d_features, c.latent_dim = 8, 3, 4, 4, 4
    c.batch_size = 4
    c.update(overrides)
    return build_gan(c, (8, 8, 3))


def test_dcgan_gradients_with_canonical_convs_equal_lax_convs(monkeypatch):
    """∇ of Σ c·D(G(z)) w.r.t. both networks' params (every layer's input and kernel gradient:
    D's conv and head, G's transposed conv, G's dense): canonical_conv against plain lax."""
    gan = _tiny_gan()
    g_vars = gan.generator.init(jax.random.key(0), jnp.zeros((4, 4)), None, train=False)
    d_vars = gan.discriminator.init(jax.random.key(1), jnp.zeros((4, 8, 8, 3)), None,
                                    train=False)
    z = jax.random.normal(jax.random.key(2), (4, 4))
    c = jax.random.normal(jax.random.key(3), (4,))

    def grads():
        def loss(g_params, d_params):
            x = gan.generator.apply({**g_vars, "params": g_params}, z, None, train=False)
            logits = gan.discriminator.apply({**d_vars, "params": d_params}, x, None,
                                             train=False)
            return jnp.sum(jnp.tanh(logits) * c)
        return jax.jit(jax.grad(loss, (0, 1)))(g_vars["params"], d_vars["params"])

    canonical = grads()
    monkeypatch.setattr(canonical_conv, "CANONICAL_BACKENDS", ())
    plain = grads()
    kernels = [path for path, _ in jax.tree_util.tree_leaves_with_path(canonical)
               if "kernel" in str(path)]
    assert len(kernels) == 4  # G: dense, transposed conv; D: conv, head
    for a, b in zip(jax.tree.leaves(canonical), jax.tree.leaves(plain)):
        assert np.max(np.abs(b)) > 0
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(np.max(np.abs(b))))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="checks XLA CPU's compiled HLO")
def test_fused_loop_with_critic_scan_has_only_canonical_convolutions_on_cpu():
    """K = 2 fused steps of n_critic = 2 hinge-loss steps: D's updates inside the critic scan,
    G's through the transposed convolution's input gradient, both inside the fused scan. (First
    order only: a gradient penalty's second-order kernel gradient of a strided convolution
    still compiles to one permuted-layout convolution inside loops, benchmarks/README.md "#21
    session 7"; its values: test_canonical_conv.py, test_layers.py.)"""
    gan = _tiny_gan(loss="hinge", n_critic=2)
    state = create_train_state(gan, jax.random.key(0))
    batches = {"x": np.zeros((2, 8, 8, 8, 3), np.float32)}
    text = jit_train_loop(gan).lower(state, batches, jax.random.key(1), 0).compile().as_text()
    labels = re.findall(r"dim_labels=(\S+?)[,\s]", text)
    # D's conv and head, G's transposed conv; forward passes and gradients, both scans
    assert len(labels) >= 8
    assert set(labels) == {CANONICAL}
