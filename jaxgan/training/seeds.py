"""Training S independent seeds at once: the pure step vmapped over a leading seed axis.

Single GAN runs vary a lot between seeds, so a fair comparison of losses needs many of them. Every
piece of a run is a pure function of arrays (jaxgan.core.state, jaxgan.core.step), so S runs are
one run of `jax.vmap(train_step)` over states, batches and keys stacked on a leading axis of size S,
compiled once into one `jax.jit`:

    states = create_seed_states(gan, seed_keys(seed, S))        # every leaf: [S, ...]
    step = make_multi_seed_step(gan)
    states, metrics = step(states, batches, keys)                # batches['x']: [S, n_critic·B, ...]
    state_i = unstack_state(states, i)                           # an ordinary GANState

Seed i of a multi-seed run with base seed s is the single run with seed s + i: its parameters come
from `jax.random.PRNGKey(s + i)` (`seed_keys`), it should read its own data stream (e.g. an iterator
seeded with s + i) and its own step noise (`multi_seed_step_keys`). Nothing is shared between seeds,
not even BatchNorm statistics: vmap maps the seed axis, the batch axis stays per seed.

`make_multi_seed_loop` also fuses many steps into one `lax.scan` with batches drawn on device by a
pure sampler (e.g. jaxgan.data.toy_sampler), removing the per-step dispatch cost that dominates
small models. `axis_name` passes through to `train_step`, so the vmapped step can itself be wrapped
in `pmap`/`shard_map` for data parallelism.

`seed_map` chooses how the seed axis is mapped inside the jit (SEED_MAPS): 'vmap' (default) batches
all seeds into one computation, the fastest for MLPs; 'unroll' traces S copies of the step into one
program; 'map' loops over seeds with `lax.map`. Use 'unroll' for convolutional models on CPU:
vmapping a convolution whose kernel differs per seed makes it a grouped convolution, which XLA's CPU
backend runs 5-45x slower than S separate ones, and inside `lax.map` the kernel gradient of a
transposed convolution is ~60x slower (measured with jax 0.10 on 2 cores; benchmarks/README.md).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from jaxgan.core.gan import GAN
from jaxgan.core.registry import Registry
from jaxgan.core.state import GANState, create_train_state, generate
from jaxgan.core.step import Batch, Metrics, step_key, train_step
from jaxgan.training.run import draw_step_batch

Array = jax.Array
PyTree = Any
BatchSampler = Callable[[Array], Batch]  # key -> one step's batch (pure, traceable)


def seed_keys(seed: int, num_seeds: int) -> Array:
    """Keys [S, 2] with row i = PRNGKey(seed + i): seed i equals the single run with seed + i."""
    if num_seeds < 1:
        raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
    return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(num_seeds)])


def stack_trees(trees: Sequence[PyTree]) -> PyTree:
    """Pytrees of identical structure → one pytree whose leaves gain a leading axis of len(trees)."""
    if not trees:
        raise ValueError("stack_trees needs at least one pytree")
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack_state(stacked: PyTree, index: int) -> PyTree:
    """Seed `index` of a stacked pytree (a GANState, metrics, a batch): every leaf's row `index`."""
    size = num_seeds(stacked)
    if not -size <= index < size:
        raise ValueError(f"seed index {index} out of range for {size} stacked seeds")
    return jax.tree.map(lambda leaf: leaf[index], stacked)


def num_seeds(stacked: PyTree) -> int:
    """S, the leading axis shared by every leaf of a stacked pytree."""
    sizes = {leaf.shape[0] if getattr(leaf, "ndim", 0) else None for leaf in jax.tree.leaves(stacked)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"not a stacked pytree: leading axis sizes {sorted(map(str, sizes))}")
    return sizes.pop()


def create_seed_states(gan: GAN, keys: Array) -> GANState:
    """S fresh states, state i = create_train_state(gan, keys[i]), stacked: jit(vmap(init)).

    `keys`: typed keys [S] (jax.random.key) or raw keys [S, 2] (jax.random.PRNGKey, seed_keys).
    """
    typed = jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    if keys.ndim != (1 if typed else 2):
        raise ValueError(f"create_seed_states needs one key per seed: typed keys [S] or raw keys "
                         f"[S, 2] (seed_keys), got shape {keys.shape}")
    return jax.jit(jax.vmap(functools.partial(create_train_state, gan)))(keys)


def _vmap_seeds(fn: Callable[..., Any]) -> Callable[..., Any]:
    return jax.vmap(fn)


def _map_seeds(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args: jax.lax.map(lambda row: fn(*row), args)


def _unroll_seeds(fn: Callable[..., Any]) -> Callable[..., Any]:
    def unrolled(*args):
        outputs = [fn(*unstack_state(args, i)) for i in range(num_seeds(args))]
        return stack_trees(outputs)
    return unrolled


SEED_MAPS: Registry[Callable[[Callable[..., Any]], Callable[..., Any]]] = Registry(
    "seed map", {"vmap": _vmap_seeds, "map": _map_seeds, "unroll": _unroll_seeds})
"""How the seed axis is mapped inside the jit: 'vmap' (one batched computation), 'map' (lax.map:
a compiled loop over seeds) or 'unroll' (S copies of the step in one program)."""


def map_over_seeds(fn: Callable[..., Any], seed_map: str = "vmap") -> Callable[..., Any]:
    """`fn` applied to row i of every (stacked) argument, for every seed i, as `SEED_MAPS[seed_map]`
    maps it; the results are stacked."""
    return SEED_MAPS[seed_map](fn)


def multi_seed_train_step(gan: GAN, states: GANState, batches: Batch, keys: Array,
                          axis_name: str | None = None,
                          seed_map: str = "vmap") -> tuple[GANState, Metrics]:
    """`jaxgan.core.step.train_step` mapped over seeds: seed i steps states[i] on batches[i] with
    keys[i].

    Returns the stacked new states and metrics (every metric [S]). Pure.
    """
    step = functools.partial(train_step, gan, axis_name=axis_name)
    return map_over_seeds(step, seed_map)(states, batches, keys)


def make_multi_seed_step(gan: GAN, axis_name: str | None = None, donate: bool = True,
                         seed_map: str = "vmap"):
    """`(states, batches, keys) -> (states, metrics)`: the step mapped over seeds inside one jit.

    With `donate` the old stacked state's buffers are reused for the new one (do not read them
    after the call). `axis_name` is for wrapping the result in pmap/shard_map (data parallel).
    """
    SEED_MAPS[seed_map]  # an unknown name fails here, listing the valid ones
    step = functools.partial(multi_seed_train_step, gan, axis_name=axis_name,
                             seed_map=seed_map)
    return jax.jit(step, donate_argnums=(0,) if donate else ())


def multi_seed_step_keys(base_keys: Array, step: int | Array) -> Array:
    """Keys of one step: row i = step_key(base_keys[i], step), as a single run draws them."""
    return jax.vmap(step_key, in_axes=(0, None))(base_keys, step)


def make_multi_seed_loop(gan: GAN, sample_batch: BatchSampler, num_steps: int,
                         donate: bool = True, seed_map: str = "vmap"):
    """`(states, data_keys, step_keys, start) -> (states, metrics)`: `num_steps` steps in one scan.

    For every seed i and step t in [start, start + num_steps): the batch is
    sample_batch(fold_in(data_keys[i], t)) and the step noise step_key(step_keys[i], t), so the
    result does not depend on how a run is cut into calls. Metrics come back as [num_steps, S].
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    SEED_MAPS[seed_map]  # an unknown name fails here, listing the valid ones

    def loop(states, data_keys, step_keys, start):
        def body(carry, t):
            def one_seed_step(state, data_key, base_key):
                batch = sample_batch(jax.random.fold_in(data_key, t))
                return train_step(gan, state, batch, step_key(base_key, t))
            return map_over_seeds(one_seed_step, seed_map)(carry, data_keys, step_keys)
        steps = start + jnp.arange(num_steps, dtype=jnp.int32)
        return jax.lax.scan(body, states, steps)

    return jax.jit(loop, donate_argnums=(0,) if donate else ())


def generate_seeds(gan: GAN, states: GANState, z: Array, labels: Array | None = None,
                   use_ema: bool = True, seed_map: str = "vmap") -> Array:
    """G_i(z_i) for every seed i (eval mode): z [S, N, latent] → samples [S, N, ...]."""
    if z.ndim != 3:
        raise ValueError(f"generate_seeds needs z of shape [S, N, latent_dim], got {z.shape}")
    fn = functools.partial(generate, gan, use_ema=use_ema)
    if labels is None:
        return map_over_seeds(lambda s, zi: fn(s, zi), seed_map)(states, z)
    return map_over_seeds(fn, seed_map)(states, z, labels)


def make_multi_seed_plan_loop(gan: GAN, draw: Callable[[Any, Array], Batch], donate: bool = True,
                              seed_map: str = "vmap"):
    """`(states, plans, step_keys, start, data) -> (states, metrics)`: the single run's fused loop
    with batches drawn on the device (jaxgan.training.loop with steps_per_call > 1,
    jaxgan.core.step.jit_train_loop) for S seeds at once.

    plans [L, S, n, ...]: step start + l of seed i trains on the n batches named by plans[l, i]
    (seed i's own iterator's `BatchIterator.take_plans`, n = critic updates per step), each drawn
    by `draw(data, plan)` (`BatchIterator.device_batches()`, whose `arrays` are `data`) and
    stacked row-wise as `jaxgan.training.run.step_batch` stacks n host batches, with step noise
    step_key(step_keys[i], start + l). With seed i's iterator seeded s + i and step_keys[i] =
    run_keys(s + i).train, seed i makes the steps of `jaxgan train --config.seed=<s+i>` (to float
    rounding: the seeds' matrix products are batched). Metrics come back [L, S].
    """
    SEED_MAPS[seed_map]  # an unknown name fails here, listing the valid ones

    def loop(states, plans, step_keys, start, data):
        step_batch = draw_step_batch(draw, plans.shape[2])

        def body(carry, inputs):
            step_plans, t = inputs

            def one_seed_step(state, seed_plans, base_key):
                return train_step(gan, state, step_batch(data, seed_plans), step_key(base_key, t))
            return map_over_seeds(one_seed_step, seed_map)(carry, step_plans, step_keys)
        steps = start + jnp.arange(plans.shape[0], dtype=jnp.int32)
        return jax.lax.scan(body, states, (plans, steps))

    return jax.jit(loop, donate_argnums=(0,) if donate else ())
