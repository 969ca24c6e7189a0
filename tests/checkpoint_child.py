"""Shared pieces of the checkpoint tests, and the child process the SIGKILL test kills.

`state_at(abstract, step)` is a GANState whose every value is a fixed function of the step, so a
test (or another process) can say exactly what a checkpoint of step `step` must contain.

As a script: `python tests/checkpoint_child.py DIRECTORY` saves step 1 and waits for it, prints
"ready", waits for a line on stdin, then saves steps 2, 3, ... asynchronously (keeping 2) and
prints "saving N" after each save has started, until it is killed.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import base_config, build_gan
from jaxgan.core.state import GANState, create_train_state


def small_config(**overrides):
    """The MLP GAN of the 2-D benchmarks with tiny widths, EMA kept (so ema_params is saved)."""
    config = base_config()
    config.model = "mlp"
    config.latent_dim = 4
    config.mlp_g_hidden = (8,)
    config.mlp_d_hidden = (8,)
    config.ema_decay = 0.99
    config.batch_size = 16
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def abstract_state(config) -> GANState:
    """The state's shapes and dtypes for `config` on 2-D points (nothing is computed)."""
    gan = build_gan(config, (2,))
    return jax.eval_shape(lambda key: create_train_state(gan, key), jax.random.key(0))


def state_at(abstract: GANState, step: int, sharding: jax.sharding.Sharding | None = None):
    """A state whose leaf i holds arange(size) / 1024 + step / 4 + i (integers: the step)."""
    leaves, treedef = jax.tree_util.tree_flatten(abstract)
    values = []
    for i, leaf in enumerate(leaves):
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            value = (np.arange(np.prod(leaf.shape, dtype=int)).reshape(leaf.shape) / 1024
                     + step / 4 + i)
        else:
            value = np.full(leaf.shape, step)
        values.append(np.asarray(value, dtype=leaf.dtype))
    state = jax.tree_util.tree_unflatten(treedef, values)
    return jax.device_put(state, sharding or jax.devices()[0])


def main(directory: str) -> None:
    from jaxgan.training.checkpoint import Checkpointer

    config = small_config(mlp_g_hidden=(256, 256), mlp_d_hidden=(256, 256))
    abstract = abstract_state(config)
    checkpointer = Checkpointer(directory, max_to_keep=2, async_save=True)
    checkpointer.save(1, state_at(abstract, 1), {"step": 1}, config, wait=True)
    print("ready", flush=True)
    sys.stdin.readline()
    step = 2
    while True:
        checkpointer.save(step, state_at(abstract, step), {"step": step}, config)
        print(f"saving {step}", flush=True)
        step += 1


if __name__ == "__main__":
    main(sys.argv[1])
