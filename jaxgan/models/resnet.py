"""ResNet generators and discriminators: SNGAN (Miyato et al. 2018, arXiv:1802.05957) and
BigGAN (Brock et al. 2019, arXiv:1809.11096), 16, 32, 64 and 128 pixels, flax linen.

G: z → dense → w₀@4×4 → up-blocks → BN, ReLU, 3×3 conv → tanh, one up-block per doubling.
  Up-block (`GBlock`):  h = conv3(ReLU(BN₂(conv3(up(ReLU(BN₁(x))))))),  out = h + conv1(up(x)),
  nearest-neighbour up-sampling ×2, 3×3 convs, a learnable 1×1 shortcut.
D: x → "optimised" first block → down-blocks → ReLU → global sum pooling → linear (+ projection).
  The ReLU map before pooling is sown as ('intermediates', 'features') for jaxgan.anomaly.
  Optimised block (`DBlock(optimized=True)`): h = pool(conv3(ReLU(conv3(x)))),
  out = h + conv1(pool(x)).
  Block: h = conv3(ReLU(conv3(ReLU(x)))), pooled when it down-samples; shortcut conv1(x) (then
  pooled) when it down-samples or changes width, else x. pool = 2×2 average pooling.
  Spectral norm on every D layer (the projection embedding too).

The two families (`ARCHS`), whose widths and block counts follow the reference code:
  'sngan'  torch_mimicry/nets/sngan/sngan_{32,64,128}.py and nets/modules/resblocks.py
           (kwotsin/mimicry, after Miyato's Chainer code): Xavier-uniform init (gain √2 in the
           residual 3×3 convs, 1 elsewhere), D's hidden width = the block's input width, D at
           64 px down-samples in all five blocks; plain BatchNorm in G, no spectral norm in G.
           Widths: G 32 px: 256 (g_features 64 × 4) throughout; D 32 px: 128 (d_features 64 × 2).
  'biggan' PyTorch-StudioGAN src/models/big_resnet.py with src/configs/CIFAR10/BigGAN-Mod.yaml:
           orthogonal init, spectral norm in G too, D's hidden width = the output width, D at
           64 px keeps 4×4 in its last block; class-conditional BatchNorm whose gains and
           biases are linear maps of a shared class embedding (joined with a chunk of z per block:
           hierarchical z), a SAGAN self-attention block (Zhang et al. 2019, arXiv:1805.08318)
           at a chosen resolution, projection discriminator. CIFAR: ch 96, G 384, D 192, z 80,
           shared embedding 128, attention at 16×16 in both nets.

Width multipliers of `features` (G: the 4×4 input width, then each block's output; D: each
block's output), identical in both references where they overlap:
  G  16: 4,4,4   32: 4,4,4,4   64: 16,8,4,2,1   128: 16,16,8,4,2,1
  D  16: 2,2,2   32: 2,2,2,2   64: 1,2,4,8,16   128: 1,2,4,8,16,16
(16 px, for the embedded digits, is 32 px less one block.)

Conditioning (jaxgan.core.conditioning): with any conditioning other than 'none' G uses
class-conditional BatchNorm (`ConditionalBatchNorm`); D's input/output are conditioned as in
DCGAN ('projection': o + ⟨V[y], φ(x)⟩ with φ(x) the pooled features, Miyato & Koyama 2018).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.core.conditioning import check_conditioning, condition_input, condition_output
from jaxgan.models.blocks import conv as plain_conv
from jaxgan.models.blocks import spectral_norm

Array = jax.Array

G_WIDTHS = {16: (4, 4, 4), 32: (4, 4, 4, 4), 64: (16, 8, 4, 2, 1), 128: (16, 16, 8, 4, 2, 1)}
"""G's width multipliers: the 4×4 input width, then each up-block's output width."""

D_LAYOUTS = {
    "sngan": {16: ((2, 2, 2), (True, True, False)),
              32: ((2, 2, 2, 2), (True, True, False, False)),
              64: ((1, 2, 4, 8, 16), (True, True, True, True, True)),
              128: ((1, 2, 4, 8, 16, 16), (True, True, True, True, True, False))},
    "biggan": {16: ((2, 2, 2), (True, True, False)),
               32: ((2, 2, 2, 2), (True, True, False, False)),
               64: ((1, 2, 4, 8, 16), (True, True, True, True, False)),
               128: ((1, 2, 4, 8, 16, 16), (True, True, True, True, True, False))},
}
"""D's per-block (width multipliers, down-samples?) per family and resolution."""

ARCHS = ("sngan", "biggan")
INITS = ("xavier", "ortho")


def _check_resolution(resolution: int) -> None:
    if resolution not in G_WIDTHS:
        raise ValueError(f"ResNet resolution must be one of {sorted(G_WIDTHS)}, got {resolution}")


def kernel_init(init: str, residual: bool = False):
    """The weight init: 'ortho' — orthogonal (Saxe et al. 2014; BigGAN): W reshaped to
    [fan_in, fan_out] has orthonormal columns (WᵀW = I when fan_in ≥ fan_out); 'xavier' — Glorot
    uniform U(±g·√(6/(fan_in + fan_out))), gain g = √2 for residual 3×3 convs, else 1 (mimicry)."""
    if init == "ortho":
        return nn.initializers.orthogonal()
    if init == "xavier":
        return nn.initializers.variance_scaling(2.0 if residual else 1.0, "fan_avg", "uniform")
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def upsample_nearest(x: Array) -> Array:
    """[B, H, W, C] → [B, 2H, 2W, C]: each pixel repeated in a 2×2 patch."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool(x: Array) -> Array:
    """2×2 average pooling, stride 2."""
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


def _batch_norm(train: bool, axis_name: str | None, affine: bool, epsilon: float,
                name: str | None = None) -> nn.BatchNorm:
    # momentum 0.9 is PyTorch's 0.1; axis_name synchronises the statistics across devices.
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=epsilon,
                        use_scale=affine, use_bias=affine, axis_name=axis_name, name=name)


class ConditionalBatchNorm(nn.Module):
    """Class-conditional BatchNorm (de Vries et al. 2017; Miyato & Koyama 2018; BigGAN):

        out = BN(x) · (1 + γ(c)) + β(c),   BN without its own scale and bias,

    with `cond` either the labels [B] — γ(c) = E_γ[y], β(c) = E_β[y], one embedding per layer
    (cGAN-PD) — or a vector [B, E] — γ(c) = W_γ c, β(c) = W_β c, linear maps without bias of a
    shared class embedding, joined with a chunk of z for hierarchical z (BigGAN; StudioGAN's
    `BigGANConditionalBatchNorm2d`). The statistics are BatchNorm's (batch_stats, synchronised
    over `axis_name`), so the step's BatchNorm handling applies unchanged.
    """

    num_classes: int
    axis_name: str | None = None
    epsilon: float = 1e-4
    spectral_norm: bool = False
    weight_init: str = "ortho"

    @nn.compact
    def __call__(self, x: Array, cond: Array, train: bool = True) -> Array:
        width = x.shape[-1]
        h = _batch_norm(train, self.axis_name, False, self.epsilon, name="bn")(x)
        if cond.ndim == 1:
            embed = lambda name: nn.Embed(self.num_classes, width, name=name,
                                          embedding_init=nn.initializers.normal(0.02))
            gain, bias = embed("gain")(cond), embed("bias")(cond)
        else:
            init = kernel_init(self.weight_init)
            dense = lambda name: spectral_norm(
                nn.Dense(width, use_bias=False, kernel_init=init, name=name),
                self.spectral_norm, self)
            gain, bias = dense("gain")(cond), dense("bias")(cond)
        return h * (1.0 + gain[:, None, None, :]) + bias[:, None, None, :]


def attention_weights(theta: Array, phi: Array) -> Array:
    """SAGAN's attention map: softmax over j of ⟨θ_i, φ_j⟩, [B, N, M] from θ [B, N, C'],
    φ [B, M, C'] (Zhang et al. 2019, eq. 1); each row sums to 1."""
    return jax.nn.softmax(jnp.einsum("bnc,bmc->bnm", theta, phi), axis=-1)


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019, arXiv:1805.08318), as in BigGAN / StudioGAN:

        θ = W_θ x, φ = maxpool(W_φ x), g = maxpool(W_g x)  (1×1 convs: C/8, C/8, C/2 channels),
        β = softmax(θ φᵀ) over the pooled positions,  o = W_o (β g)  (1×1 conv back to C),
        out = x + γ·o,  γ a learned scalar initialised at 0, so the block starts as the identity.

    The attention map is sown into 'intermediates' under 'attention' ([B, HW, HW/4]).
    """

    spectral_norm: bool = False
    weight_init: str = "ortho"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        if c < 8 or h % 2 or w % 2:
            raise ValueError(f"self-attention needs >= 8 channels and even height and width, "
                             f"got input shape {x.shape}")
        conv = lambda features, name: spectral_norm(
            plain_conv(features, (1, 1), use_bias=False,
                       kernel_init=kernel_init(self.weight_init), name=name),
            self.spectral_norm, self)
        pool = lambda t: nn.max_pool(t, (2, 2), strides=(2, 2))
        theta = conv(c // 8, "theta")(x).reshape(b, h * w, c // 8)
        phi = pool(conv(c // 8, "phi")(x)).reshape(b, h * w // 4, c // 8)
        g = pool(conv(c // 2, "g")(x)).reshape(b, h * w // 4, c // 2)
        beta = attention_weights(theta, phi)
        self.sow("intermediates", "attention", beta)
        o = conv(c, "out")(jnp.einsum("bnm,bmc->bnc", beta, g).reshape(b, h, w, c // 2))
        gamma = self.param("gamma", nn.initializers.zeros, ())
        return x + gamma * o


class GBlock(nn.Module):
    """Up-sampling residual block of G (see the module docstring); `cond` None: plain BatchNorm,
    else `ConditionalBatchNorm` on `cond` (labels [B] or a conditioning vector [B, E])."""

    features: int
    num_classes: int = 0
    spectral_norm: bool = False
    weight_init: str = "xavier"
    bn_axis_name: str | None = None
    bn_epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: Array, cond: Array | None, train: bool = True) -> Array:
        def norm(h, name):
            if cond is None:
                return _batch_norm(train, self.bn_axis_name, True, self.bn_epsilon, name=name)(h)
            return ConditionalBatchNorm(self.num_classes, self.bn_axis_name, self.bn_epsilon,
                                        self.spectral_norm, self.weight_init,
                                        name=name)(h, cond, train)

        def conv(features, size, name):
            init = kernel_init(self.weight_init, residual=size == 3)
            return spectral_norm(plain_conv(features, (size, size), padding="SAME",
                                            kernel_init=init, name=name), self.spectral_norm, self)

        h = conv(self.features, 3, "conv1")(upsample_nearest(nn.relu(norm(x, "bn1"))))
        h = conv(self.features, 3, "conv2")(nn.relu(norm(h, "bn2")))
        return h + conv(self.features, 1, "shortcut")(upsample_nearest(x))


class DBlock(nn.Module):
    """Residual block of D (see the module docstring); `optimized`: the first block, on the
    image (no ReLU first, pooling before the shortcut conv); `hidden_from_input`: the first conv
    keeps the input width (SNGAN), else it goes to `features` (BigGAN)."""

    features: int
    downsample: bool = True
    optimized: bool = False
    hidden_from_input: bool = True
    weight_init: str = "xavier"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        def conv(features, size, name):
            init = kernel_init(self.weight_init, residual=size == 3)
            return spectral_norm(plain_conv(features, (size, size), padding="SAME",
                                            kernel_init=init, name=name), True, self)

        in_width = x.shape[-1]
        if self.optimized:
            h = avg_pool(conv(self.features, 3, "conv2")(
                nn.relu(conv(self.features, 3, "conv1")(x))))
            return h + conv(self.features, 1, "shortcut")(avg_pool(x))
        hidden = in_width if self.hidden_from_input else self.features
        h = conv(self.features, 3, "conv2")(nn.relu(conv(hidden, 3, "conv1")(nn.relu(x))))
        shortcut = x
        if self.downsample or in_width != self.features:
            shortcut = conv(self.features, 1, "shortcut")(x)
        if self.downsample:
            h, shortcut = avg_pool(h), avg_pool(shortcut)
        return h + shortcut


class ResNetGenerator(nn.Module):
    """z [B, latent] (, labels [B]) → tanh image [B, R, R, C] (see the module docstring).

    Conditional (conditioning ≠ 'none'): class-conditional BatchNorm in every block; with
    `shared_dim` > 0 its gains/biases are linear maps of one shared embedding E[y] ∈ R^shared_dim
    (BigGAN), with `hierarchical_z` z is split into (blocks + 1) equal chunks, the first feeding
    the dense layer and chunk i + 1 joined to E[y] for block i (Brock et al. 2019, §3 / Fig. 15);
    with `shared_dim` 0 each BatchNorm has its own class embeddings. `attention_resolution` > 0:
    a self-attention block after the up-block that outputs that resolution.
    """

    resolution: int = 32
    channels: int = 3
    features: int = 64
    spectral_norm: bool = False
    weight_init: str = "xavier"
    attention_resolution: int = 0
    shared_dim: int = 0
    hierarchical_z: bool = False
    bn_axis_name: str | None = None
    bn_epsilon: float = 1e-5
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, z: Array, labels: Array | None = None, train: bool = True) -> Array:
        _check_resolution(self.resolution)
        widths = [self.features * m for m in G_WIDTHS[self.resolution]]
        num_blocks = len(widths) - 1
        conditional = check_conditioning(self.conditioning, self.num_classes, labels)
        conds: list[Array | None] = [None] * num_blocks
        z_in = z
        if conditional:
            if self.shared_dim > 0:
                shared = nn.Embed(self.num_classes, self.shared_dim, name="shared_embedding",
                                  embedding_init=kernel_init(self.weight_init))(labels)
                if self.hierarchical_z:
                    if z.shape[-1] % (num_blocks + 1):
                        raise ValueError(
                            f"hierarchical z splits z into {num_blocks + 1} equal chunks "
                            f"(one per block and one for the dense layer): latent_dim must be "
                            f"divisible by {num_blocks + 1}, got {z.shape[-1]}")
                    chunks = jnp.split(z, num_blocks + 1, axis=-1)
                    z_in = chunks[0]
                    conds = [jnp.concatenate([shared, chunk], axis=-1) for chunk in chunks[1:]]
                else:
                    conds = [shared] * num_blocks
            else:
                conds = [labels] * num_blocks
        x = spectral_norm(nn.Dense(16 * widths[0], kernel_init=kernel_init(self.weight_init),
                                   name="linear"), self.spectral_norm, self)(z_in)
        x = x.reshape((z.shape[0], 4, 4, widths[0]))
        size = 4
        for i, width in enumerate(widths[1:]):
            x = GBlock(width, self.num_classes, self.spectral_norm, self.weight_init,
                       self.bn_axis_name, self.bn_epsilon, name=f"block{i + 1}")(x, conds[i], train)
            size *= 2
            if size == self.attention_resolution:
                x = SelfAttention(self.spectral_norm, self.weight_init, name="attention")(x)
        x = nn.relu(_batch_norm(train, self.bn_axis_name, True, self.bn_epsilon, name="bn")(x))
        x = spectral_norm(plain_conv(self.channels, (3, 3), padding="SAME",
                                     kernel_init=kernel_init(self.weight_init), name="conv_out"),
                          self.spectral_norm, self)(x)
        return jnp.tanh(x)


class ResNetDiscriminator(nn.Module):
    """Image (, labels) → logits [B]: an optimised block, down-blocks, ReLU, global sum pooling,
    a spectrally normalised linear layer; conditioned by jaxgan.core.conditioning on the pooled
    features (projection: + ⟨V[y], φ(x)⟩, V spectrally normalised too). `attention_resolution`
    > 0: a self-attention block after the first block that outputs that resolution."""

    resolution: int = 32
    features: int = 64
    arch: str = "sngan"
    weight_init: str = "xavier"
    attention_resolution: int = 0
    spectral_norm: bool = True  # always on: the field lets config.d_spectral_norm be set
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = True):
        del train  # no BatchNorm in D
        _check_resolution(self.resolution)
        if x.ndim != 4 or x.shape[1] != self.resolution or x.shape[2] != self.resolution:
            raise ValueError(f"ResNet discriminator expects [B, {self.resolution}, "
                             f"{self.resolution}, C] images, got shape {x.shape}")
        if self.arch not in D_LAYOUTS:
            raise ValueError(f"ResNet arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        multipliers, downs = D_LAYOUTS[self.arch][self.resolution]
        x = condition_input(x, labels, self.conditioning, self.num_classes,
                            self.label_embedding_dim)
        size = self.resolution
        attended = False
        for i, (m, down) in enumerate(zip(multipliers, downs)):
            x = DBlock(self.features * m, down, optimized=i == 0,
                       hidden_from_input=self.arch == "sngan", weight_init=self.weight_init,
                       name=f"block{i + 1}")(x)
            size //= 2 if down else 1
            if size == self.attention_resolution and not attended:
                x = SelfAttention(True, self.weight_init, name="attention")(x)
                attended = True
        x = nn.relu(x)
        # D's last intermediate features for anomaly detection (AnoGAN's f(x);
        # jaxgan.anomaly.features), kept only when the caller makes 'intermediates' mutable: the
        # map before pooling, [B, h, w, C], as DCGAN's D sows its last spatial map. The pooled
        # vector below is a linear function of it, so nothing D uses is lost, while the map also
        # keeps where each feature fires, which the sum pooling throws away.
        self.sow("intermediates", "features", x)
        features = jnp.sum(x, axis=(1, 2))  # global sum pooling
        logits = self._wrap(nn.Dense(1, kernel_init=kernel_init(self.weight_init),
                                     name="linear"))(features)
        return condition_output(logits.reshape((x.shape[0],)), features, labels,
                                self.conditioning, self.num_classes, self._wrap)

    def _wrap(self, layer: nn.Module):
        return spectral_norm(layer, True, self)


def _pair(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
          bn_axis_name: str | None, arch: str):
    if len(data_shape) != 3:
        raise ValueError(f"model {config.model!r} is for images [R, R, C], got data shape "
                         f"{data_shape}")
    resolution, _, channels = data_shape
    _check_resolution(resolution)
    init = config.get("resnet_init", "auto")
    init = {"sngan": "xavier", "biggan": "ortho"}[arch] if init == "auto" else init
    kernel_init(init)  # validates the name
    generator = ResNetGenerator(
        resolution=resolution, channels=channels, features=config.g_features,
        spectral_norm=config.get("g_spectral_norm", arch == "biggan"), weight_init=init,
        attention_resolution=config.get("g_attention_resolution", 0),
        shared_dim=config.get("g_shared_dim", 0),
        hierarchical_z=config.get("g_hierarchical_z", False), bn_axis_name=bn_axis_name,
        bn_epsilon=1e-4 if arch == "biggan" else 1e-5)
    discriminator = ResNetDiscriminator(
        resolution=resolution, features=config.d_features, arch=arch, weight_init=init,
        attention_resolution=config.get("d_attention_resolution", 0))
    return generator, discriminator


def sngan_model_pair(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
                     bn_axis_name: str | None = None):
    """(generator, discriminator) of `config` for images of `data_shape`: the
    `config.model = 'resnet'` (SNGAN) entry of jaxgan.models.MODELS."""
    return _pair(config, data_shape, bn_axis_name, "sngan")


def biggan_model_pair(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
                      bn_axis_name: str | None = None):
    """(generator, discriminator) of `config` for images of `data_shape`: the
    `config.model = 'biggan'` entry of jaxgan.models.MODELS."""
    return _pair(config, data_shape, bn_axis_name, "biggan")

