"""D's last intermediate features f(x) and its logit, and G(z), from a trained GAN state.

f(x) is what the discriminator sows under ('intermediates', 'features') just before its output
layer, flattened to [B, F]: jaxgan.models.dcgan, the activations after the last LeakyReLU;
jaxgan.models.resnet ('resnet', 'biggan'), the ReLU map before global sum pooling. Every
network runs in eval mode (BatchNorm running statistics, spectral-norm vectors frozen), so each
row depends on its own input only and the functions can be batched freely.
"""
from __future__ import annotations

from collections.abc import Callable

import jax

from jaxgan.core import conditioning
from jaxgan.core.gan import GAN
from jaxgan.core.state import GANState, generate

Array = jax.Array


class FeaturesUnavailable(ValueError):
    """The run's discriminator does not expose intermediate features."""


def _apply_discriminator(gan: GAN, state: GANState, x: Array) -> tuple[Array, Array]:
    out, sown = gan.discriminator.apply(state.discriminator.variables(), x, None, train=False,
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
    """Raises a one-line ValueError unless `gan` is an unconditional GAN whose D sows features."""
    if gan.num_classes and getattr(gan.discriminator, "conditioning", "none") != "none":
        raise FeaturesUnavailable("anomaly detection needs an unconditional GAN (config."
                                  "conditioning='none'): G cannot know a query's class")
    if getattr(gan.discriminator, "pack", 1) > 1:
        raise FeaturesUnavailable("anomaly detection needs an unpacked D (config.pack=1)")


def networks(gan: GAN, state: GANState, use_ema: bool = True
             ) -> tuple[Callable[[Array], Array], Callable[[Array], Array],
                        Callable[[Array], Array]]:
    """(G, f, d): z [B, latent] -> images; x -> D's features [B, F]; x -> D's logits [B].
    Pure closures over `state`, to be used inside jit."""
    check_supported(gan)

    def g(z):
        return generate(gan, state, z, None, use_ema=use_ema)

    def f(x):
        return _apply_discriminator(gan, state, x)[1]

    def d(x):
        return _apply_discriminator(gan, state, x)[0]

    return g, f, d
