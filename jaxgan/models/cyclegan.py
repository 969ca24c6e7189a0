"""CycleGAN's networks (Zhu et al. 2017, arXiv:1703.10593): the ResNet-block generator and the
PatchGAN discriminator, with instance normalisation.

Followed: junyanz/pytorch-CycleGAN-and-pix2pix `models/networks.py` (read at commit 000f298):
`get_norm_layer('instance')` = InstanceNorm2d(affine=False) (no learned scale or bias, no running
statistics); `init_weights('normal', 0.02)`: conv weights N(0, 0.02), biases 0;
`ResnetGenerator`: ReflectionPad(3) → Conv 7×7 (ngf) → IN → ReLU; 2 × [Conv 3×3 stride 2 pad 1
(×2 channels) → IN → ReLU]; n_blocks × `ResnetBlock` (x + [ReflPad 1, Conv 3×3, IN, ReLU, ReflPad 1,
Conv 3×3, IN](x)); 2 × [ConvTranspose 3×3 stride 2 pad 1 output_padding 1 (÷2 channels) → IN →
ReLU]; ReflectionPad(3) → Conv 7×7 (output channels) → tanh; convs followed by IN have a bias
(`use_bias = norm_layer.func == nn.InstanceNorm2d`), as there. `NLayerDiscriminator`: Conv 4×4
stride 2 pad 1 (ndf) → LeakyReLU 0.2; for n in 1..n_layers−1: Conv 4×4 stride 2 pad 1
(ndf·min(2ⁿ, 8)) → IN → LeakyReLU; Conv 4×4 stride 1 pad 1 (ndf·min(2^n_layers, 8)) → IN → LeakyReLU;
Conv 4×4 stride 1 pad 1 → 1 channel of patch logits. n_layers = 3 gives the 70×70 receptive
field of the paper at 256 px; small images use fewer layers (`patch_layers`).

Paper sizes: 9 blocks at 256 px (6 at 128), ngf = ndf = 64. The embedded digits experiment uses
16×16 images, 3 blocks, ngf 16, ndf 16 and 2 D layers (experiments/cyclegan_digits.py).

Both networks take and return NHWC float images in [-1, 1]; `train` is accepted for the common
(x, labels, train) call signature and ignored (instance norm has no running statistics).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.models.blocks import minibatch_stddev

Array = jax.Array

CYCLEGAN_INIT = nn.initializers.normal(0.02)
"""`init_weights(net, 'normal', gain=0.02)`: conv weights N(0, 0.02), biases 0."""

INSTANCE_NORM_EPSILON = 1e-5
"""PyTorch's InstanceNorm2d eps."""


def instance_norm() -> nn.InstanceNorm:
    """y = (x − μ) / sqrt(σ² + ε) per image and channel over H×W (Ulyanov et al. 2016,
    arXiv:1607.08022); no affine parameters, as CycleGAN's `InstanceNorm2d(affine=False)`.
    flax's `nn.InstanceNorm` (present in the installed flax 0.12)."""
    return nn.InstanceNorm(epsilon=INSTANCE_NORM_EPSILON, use_scale=False, use_bias=False)


def reflect_pad(x: Array, pad: int) -> Array:
    """ReflectionPad2d(pad) on NHWC: mirror without repeating the edge pixel."""
    return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def _conv(features: int, kernel: int, stride: int = 1, padding: int | str = 0,
          use_bias: bool = True, name: str | None = None) -> nn.Conv:
    pad = padding if isinstance(padding, str) else [(padding, padding), (padding, padding)]
    return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=pad,
                   use_bias=use_bias, kernel_init=CYCLEGAN_INIT, name=name)


class ResnetBlock(nn.Module):
    """x + [ReflPad 1, Conv 3×3, IN, ReLU, ReflPad 1, Conv 3×3, IN](x) (`ResnetBlock`, no dropout:
    CycleGAN sets `no_dropout=True`)."""

    features: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        y = nn.relu(instance_norm()(_conv(self.features, 3)(reflect_pad(x, 1))))
        y = instance_norm()(_conv(self.features, 3)(reflect_pad(y, 1)))
        return x + y


class ResnetGenerator(nn.Module):
    """Image [N, R, R, C_in] → image [N, R, R, channels] in [-1, 1]. R must be divisible by
    2^downsamplings (4 for the reference's 2)."""

    channels: int = 3
    features: int = 64        # ngf
    num_blocks: int = 9
    downsamplings: int = 2    # the reference's n_downsampling

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = True) -> Array:
        del labels, train
        factor = 2 ** self.downsamplings
        if x.shape[1] % factor or x.shape[2] % factor:
            raise ValueError(f"the CycleGAN generator needs image sides divisible by {factor}, "
                             f"got {x.shape[1]}x{x.shape[2]}")
        f = self.features
        x = nn.relu(instance_norm()(_conv(f, 7)(reflect_pad(x, 3))))
        for i in range(self.downsamplings):
            x = nn.relu(instance_norm()(_conv(f * 2 ** (i + 1), 3, stride=2, padding=1)(x)))
        for _ in range(self.num_blocks):
            x = ResnetBlock(f * 2 ** self.downsamplings)(x)
        for i in range(self.downsamplings):
            out = f * 2 ** (self.downsamplings - i - 1)
            # ConvTranspose2d(k 3, s 2, p 1, output_padding 1): exactly doubles H and W; flax's
            # explicit padding of the dilated input is (k − 1 − p, k − 1 − p + output_padding)
            x = nn.ConvTranspose(out, (3, 3), strides=(2, 2), padding=((1, 2), (1, 2)),
                                 kernel_init=CYCLEGAN_INIT)(x)
            x = nn.relu(instance_norm()(x))
        x = _conv(self.channels, 7)(reflect_pad(x, 3))
        return jnp.tanh(x)


class PatchDiscriminator(nn.Module):
    """Image [N, R, R, C] → patch logits [N, h, w] (the reference's `NLayerDiscriminator`).

    Receptive field of one logit: 70×70 for num_layers = 3, 34×34 for 2, 16×16 for 1.

    `minibatch_std_group` > 0 (not in the reference; default 0 = the reference's network) joins
    ProGAN's minibatch standard deviation (jaxgan.models.blocks.minibatch_stddev, groups of that
    many rows) to the feature map before the stride-1 convs, so D can see a batch of fakes that
    varies less than the data (e.g. one background for every digit). Under data parallelism the
    groups are drawn within each device's rows.
    """

    features: int = 64        # ndf
    num_layers: int = 3       # n_layers_D
    minibatch_std_group: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = True) -> Array:
        del labels, train
        x = nn.leaky_relu(_conv(self.features, 4, stride=2, padding=1)(x), 0.2)
        for n in range(1, self.num_layers):
            x = _conv(self.features * min(2 ** n, 8), 4, stride=2, padding=1)(x)
            x = nn.leaky_relu(instance_norm()(x), 0.2)
        if self.minibatch_std_group > 0:
            x = minibatch_stddev(x, self.minibatch_std_group)
        x = _conv(self.features * min(2 ** self.num_layers, 8), 4, stride=1, padding=1)(x)
        x = nn.leaky_relu(instance_norm()(x), 0.2)
        x = _conv(1, 4, stride=1, padding=1)(x)
        return x[..., 0]


def patch_layers(resolution: int) -> int:
    """D layers for a resolution: 3 (the 70×70 PatchGAN) from 64 px up, 2 at 32 and 16 px, else 1,
    so that at least a 2×2 map of patch logits remains."""
    return 3 if resolution >= 64 else (2 if resolution >= 16 else 1)


def model_quad(config: ml_collections.ConfigDict, shape_a: tuple[int, ...],
               shape_b: tuple[int, ...]) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """(G: A→B, F: B→A, D_A, D_B) for images of `shape_a` and `shape_b` ((R, R, C) each).

    config keys: g_features (ngf), d_features (ndf), cyclegan_blocks, cyclegan_d_layers (0: by
    resolution, `patch_layers`), cyclegan_d_minibatch_std (0: none)."""
    for shape in (shape_a, shape_b):
        if len(shape) != 3:
            raise ValueError(f"CycleGAN translates images (R, R, C); got data of shape "
                             f"{tuple(shape)}")
    if shape_a[:2] != shape_b[:2]:
        raise ValueError(f"CycleGAN needs both domains at one resolution, got {shape_a[:2]} and "
                         f"{shape_b[:2]}: set config.resolution")
    blocks = config.get("cyclegan_blocks", 9)
    layers = config.get("cyclegan_d_layers", 0) or patch_layers(shape_a[0])

    def generator(channels):
        return ResnetGenerator(channels=channels, features=config.g_features, num_blocks=blocks)

    def discriminator():
        return PatchDiscriminator(features=config.d_features, num_layers=layers,
                                  minibatch_std_group=config.get("cyclegan_d_minibatch_std", 0))

    return generator(shape_b[2]), generator(shape_a[2]), discriminator(), discriminator()
