"""D's last intermediate features f(x) and its logit, and G(z), from a trained GAN state.

f(x) is what the discriminator sows under ('intermediates', 'features') just before its output
layer, flattened to [B, F]: jaxgan.models.dcgan, the activations after the last LeakyReLU;
jaxgan.models.resnet ('resnet', 'biggan'), the ReLU map before global sum pooling. A
class-conditional run is supported when its D takes the label only at the output ('projection':
o + ⟨V[y], φ(x)⟩, 'acgan': a class head on φ(x)): φ(x) = f(x) is then the same for every label,
so f needs none; G takes the labels, G(z, y), and D's logit D(x, y). Every
network runs in eval mode (BatchNorm running statistics, spectral-norm vectors frozen), so each
row depends on its own input only and the functions can be batched freely.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxgan.core import conditioning
from jaxgan.core.gan import GAN
from jaxgan.core.state import GANState, generate

Array = jax.Array


class FeaturesUnavailable(ValueError):
    """The run's discriminator does not expose intermediate features."""


LABEL_FREE_FEATURES = ("none", "projection", "acgan")  # D conditionings whose f(x) ignores y


def is_conditional(gan: GAN) -> bool:
    """Whether the run's G and D take class labels."""
    return bool(gan.num_classes) and getattr(gan.discriminator, "conditioning", "none") != "none"


def _apply_discriminator(gan: GAN, state: GANState, x: Array,
                         labels: Array | None = None) -> tuple[Array, Array]:
    out, sown = gan.discriminator.apply(state.discriminator.variables(), x, labels, train=False,
                                        mutable=["intermediates"])
    # the top-level 'features' entry: not e.g. a self-attention block's sown attention map
    features = jax.tree.leaves(sown.get("intermediates", {}).get("features", ()))
    if not features:
        raise FeaturesUnavailable(
            f"the discriminator {type(gan.discriminator).__name__} sows no intermediate "
            f"features; anomaly detection needs an image GAN run (config.model='dcgan', "
            f"'resnet' or 'biggan')")
    logits = conditioning.split_discriminator_output(out)[0]
    return logits, features[-1].reshape(x.shape[0], -1)


def check_supported(gan: GAN) -> None:
    """Raises a one-line ValueError unless `gan` is an unconditional GAN, or a conditional one
    whose D sees the label only at its output, and its D sows features."""
    conditioning = getattr(gan.discriminator, "conditioning", "none")
    if is_conditional(gan) and conditioning not in LABEL_FREE_FEATURES:
        raise FeaturesUnavailable(
            f"anomaly detection needs D's features to ignore the label: config.conditioning="
            f"{conditioning!r} feeds it to D's input; use 'projection' or 'none'")
    if getattr(gan.discriminator, "pack", 1) > 1:
        raise FeaturesUnavailable("anomaly detection needs an unpacked D (config.pack=1)")


def networks(gan: GAN, state: GANState, use_ema: bool = True
             ) -> tuple[Callable[[Array], Array], Callable[[Array], Array],
                        Callable[[Array], Array]]:
    """(G, f, d): (z [B, latent], labels [B] | None) -> images; x -> D's features [B, F];
    (x, labels | None) -> D's logits [B]. Labels are needed exactly when the run is
    conditional (`is_conditional`). Pure closures over `state`, to be used inside jit."""
    check_supported(gan)

    def g(z, labels=None):
        return generate(gan, state, z, labels, use_ema=use_ema)

    def f(x):  # any label gives the same f(x) (check_supported); 0 stands in for one
        labels = jnp.zeros((x.shape[0],), jnp.int32) if is_conditional(gan) else None
        return _apply_discriminator(gan, state, x, labels)[1]

    def d(x, labels=None):
        return _apply_discriminator(gan, state, x, labels)[0]

    return g, f, d
