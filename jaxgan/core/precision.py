"""Mixed precision at the network boundary: the networks compute in `compute_dtype`, everything
else stays float32.

Mixed-precision training (Micikevicius et al. 2018, arXiv:1710.03740) keeps a float32 master copy
of the weights and runs the forward and backward passes in a 16-bit type. With bfloat16 (8 exponent
bits, the range of float32) no loss scaling is needed (Kalamkar et al. 2019, arXiv:1905.12322), so
float16, which needs it, is not offered. `apply(module, variables, *inputs, dtype=...)` is
`module.apply` with

    params → dtype (a cast, so ∂L/∂params arrives in float32 through the cast's transpose),
    floating inputs (z, x) → dtype, integer labels unchanged,
    floating outputs (logits, images) → float32, updated collections → their stored dtype.

So params, optimizer state, EMA, losses, penalties and BatchNorm statistics (flax reduces the
batch moments in float32 and keeps its running averages in float32) stay float32; activations,
matmuls and convolutions run in `dtype`. A gradient penalty differentiates D with respect to its
float32 input, so its input gradient is float32 too (computed through the bfloat16 network). The
same wrapper serves every model family, since it sits at `apply`, not inside the layers; layers
that make their own weights follow the input's dtype (jaxgan.models.layers casts kernels to it).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgan.core.registry import Registry

COMPUTE_DTYPES = Registry("compute_dtype", {"float32": jnp.float32, "bfloat16": jnp.bfloat16})


def _is_float(a: Any) -> bool:
    return hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating)


def cast_floats(tree: Any, dtype) -> Any:
    """Every floating leaf of `tree` cast to `dtype`; integer and None leaves unchanged."""
    return jax.tree.map(lambda a: a.astype(dtype) if _is_float(a) else a, tree)


def apply(module, variables: dict, *inputs, dtype=jnp.float32, mutable=False, **kwargs):
    """`module.apply(variables, *inputs, mutable=mutable, **kwargs)` computed in `dtype`.

    Returns what `module.apply` returns, with floating outputs in float32 and, when `mutable`,
    the updated collections cast back to the dtypes of `variables` (float32 statistics).
    """
    if jnp.dtype(dtype) == jnp.float32:
        return module.apply(variables, *inputs, mutable=mutable, **kwargs)
    low = {**variables, "params": cast_floats(variables.get("params", {}), dtype)}
    out = module.apply(low, *cast_floats(inputs, dtype), mutable=mutable, **kwargs)
    if not mutable:
        return cast_floats(out, jnp.float32)
    out, mutated = out
    stored = {name: (jax.tree.map(lambda new, old: new.astype(old.dtype), value, variables[name])
                     if name in variables else cast_floats(value, jnp.float32))
              for name, value in mutated.items()}
    return cast_floats(out, jnp.float32), stored
