"""The model families' convolutions go through jaxgan.models.canonical_conv (issue 21): a DCGAN
training step equals the same step with plain lax convolutions, and on XLA CPU the fused K-step
loop with an n_critic scan compiles every convolution in the canonical NHWC/HWIO layout (the
permuted layouts of JAX's transpose rules run as naive loops inside loop bodies there)."""
from __future__ import annotations

import re

import jax
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


def _fused_loop(canonical: bool):
    """(compiled K = 2 loop of n_critic = 2 hinge-loss steps, states before and after one call):
    D's updates inside the critic scan, G's through the transposed convolution's input gradient,
    both inside the fused K-step scan. (First order only: a gradient penalty's second-order
    kernel gradient of a strided convolution still compiles to one permuted-layout convolution
    inside loops, benchmarks/README.md "#21 session 7"; its values: test_canonical_conv.py.)"""
    saved = canonical_conv.CANONICAL_BACKENDS
    canonical_conv.CANONICAL_BACKENDS = saved if canonical else ()
    try:
        gan = _tiny_gan(loss="hinge", n_critic=2)
        state = create_train_state(gan, jax.random.key(0))
        batches = {"x": jax.random.uniform(jax.random.key(3), (2, 8, 8, 8, 3), minval=-1,
                                           maxval=1)}
        compiled = jit_train_loop(gan).lower(state, batches, jax.random.key(1), 0).compile()
    finally:
        canonical_conv.CANONICAL_BACKENDS = saved
    before = jax.tree.map(np.asarray, state)
    after, _ = compiled(state, batches, jax.random.key(1), 0)
    return compiled, before, after


@pytest.fixture(scope="module")
def canonical_loop():
    return _fused_loop(True)


def test_dcgan_steps_with_canonical_convs_equal_lax_convs(canonical_loop):
    _, before, canonical = canonical_loop
    _, _, plain = _fused_loop(False)
    params = lambda s: jax.tree.leaves((s.generator.params, s.discriminator.params))  # noqa: E731
    kernels = [a for path, a in jax.tree_util.tree_leaves_with_path(
        (canonical.generator.params, canonical.discriminator.params)) if "kernel" in str(path)]
    assert len(kernels) == 4  # G: dense, transposed conv; D: conv, head
    moved = [np.max(np.abs(a - b)) for a, b in zip(params(canonical), params(before))]
    # every parameter moved but D's head bias: its hinge gradient is #fakes − #reals = 0 while
    # every hinge term is active (D ≈ 0 at the start)
    assert sum(m > 0 for m in moved) == len(moved) - 1
    for a, b in zip(params(canonical), params(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="checks XLA CPU's compiled HLO")
def test_fused_loop_with_critic_scan_has_only_canonical_convolutions_on_cpu(canonical_loop):
    labels = re.findall(r"dim_labels=(\S+?)[,\s]", canonical_loop[0].as_text())
    # D's conv and head, G's transposed conv; forward passes and gradients, both scans
    assert len(labels) >= 8
    assert set(labels) == {CANONICAL}
