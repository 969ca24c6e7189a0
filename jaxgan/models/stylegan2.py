"""StyleGAN2 (Karras et al. 2020, arXiv:1912.04958) as trained by StyleGAN2-ADA (Karras et al.
2020, arXiv:2006.06676), flax linen, NHWC. Follows NVlabs/stylegan2-ada-pytorch
`training/networks.py` (lines cited below as networks.py:N, read at the repository's HEAD).

Equalised learning rate (networks.py:89-118, 123-169): every weight is stored as N(0, 1)/λ (λ the
layer's learning-rate multiplier, 1 except the mapping network's 0.01) and multiplied at run time
by λ/√fan_in; biases by λ. So the optimizer (optax) sees N(0, 1)-scaled parameters, and a step of
size η moves the effective weight by λη/√fan_in. Leaky ReLU (slope 0.2) carries the gain √2
(`bias_act` def_gain). `conv_clamp` clips activations to ±clamp·gain (the reference uses 256).

Generator G(z, c) = synthesis(mapping(z, c)):
  mapping (networks.py:174-249): x = z / √(mean z² + 1e-8) (`normalize_2nd_moment`, :21-22), for
    conditional runs joined with the normalised class embedding; `mapping_layers` equalised FC
    layers with lr multiplier 0.01; w broadcast to num_ws layers. In training mode the moving
    average w_avg ← lerp(mean_batch w, w_avg, 0.995) is updated (:231-234); it is kept in the
    'batch_stats' collection, so the step and checkpoints carry it like BatchNorm statistics.
    Truncation (:241-248): w' = w_avg + ψ(w − w_avg) (module field `truncation_psi`, applied in
    eval mode).
  synthesis (:253-472), 'skip' architecture: a learned constant 4×4 input; per resolution two
    modulated 3×3 convolutions (the first up-samples ×2 with the [1,3,3,1] FIR filter), each
    followed by per-pixel noise · a learned strength initialised 0 (:281-296), bias and leaky
    ReLU; a ToRGB 1×1 modulated convolution without demodulation, styles scaled 1/√fan_in
    (:310-324); the RGB outputs summed across resolutions, the running image up-sampled ×2 with
    the FIR filter (:408-415). Block b uses ws[i, i + num_conv + num_torgb) and advances i by
    num_conv, so a ToRGB shares its w with the next block's first conv (:457-472).
  modulated conv (:27-84): w'_{oi..} = w_{oi..}·s_i, demodulated by rsqrt(Σ_{i,k} w'² + 1e-8);
    computed the reference's non-fused way (scale activations by s, one batched conv, scale
    outputs by the demodulation coefficients), which equals the per-sample convolution with
    explicitly modulated weights (tests/test_stylegan2.py).
  Noise: random N(0, 1) per pixel when the 'noise' RNG stream is given (training), else the
    stored constant map `noise_const` (the reference's noise_mode='const', what its generate.py
    uses). Style mixing is done by the training step (jaxgan.core.stylegan_step), on `ws`.

Discriminator D(x, c) (:505-727): 'resnet' (default) or 'orig' blocks from the input resolution
  down to 8×8, each fromRGB (first block only), 3×3 conv, 3×3 conv down-sampling ×2 (FIR blur then
  stride 2), and in 'resnet' a 1×1 down-sampling shortcut without bias, both paths × √½; then the
  epilogue at 4×4: minibatch standard deviation (group 4, one feature, :589-610), 3×3 conv, FC,
  output FC. Conditional (projection, :713-726, 660-665): a mapping network (no z, 8 layers by
  default, no w_avg) maps the class to cmap ∈ R^{cmap_dim} and the output is ⟨out, cmap⟩/√cmap_dim.

Widths (:441, 694): channels(res) = min(channel_base // res, channel_max).

Departures, all documented: up-/down-sampling convolutions are written as FIR resampling then a
plain convolution (the reference fuses transposed/strided convolution and filter; both are the
same composition of convolutions and differ only at the border); no float16 path.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.models import canonical_conv

Array = jax.Array
SQRT2 = math.sqrt(2.0)
FIR = (1.0, 3.0, 3.0, 1.0)


def normalize_2nd_moment(x: Array, eps: float = 1e-8) -> Array:
    """x / √(mean_j x_j² + eps) per row (networks.py:21-22)."""
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def _fir_2d(taps: Sequence[float] = FIR) -> np.ndarray:
    """The normalised 2-D filter f fᵀ / Σ (upfirdn2d.setup_filter of [1, 3, 3, 1])."""
    f = np.asarray(taps, np.float32)
    f = np.outer(f, f)
    return f / f.sum()


def _fir_1d(x: Array, axis: int, pad: int) -> Array:
    """[1, 3, 3, 1]/8 along `axis` at stride 1 with `pad` zeros each side (separable half of
    the 2-D filter; slices and adds, much cheaper on CPU than a grouped convolution)."""
    widths = [(0, 0)] * x.ndim
    widths[axis] = (pad, pad)
    xp = jnp.pad(x, widths)
    n = xp.shape[axis] - 3
    part = lambda j: jax.lax.slice_in_dim(xp, j, j + n, axis=axis)  # noqa: E731
    return (part(0) + 3.0 * part(1) + 3.0 * part(2) + part(3)) * 0.125


def _up_1d(x: Array, axis: int) -> Array:
    """×2 up-sampling along `axis`: zeros inserted, [1, 3, 3, 1]/8 × 2, padding (2, 1):
    out[2i] = (x[i−1] + 3x[i])/4, out[2i+1] = (3x[i] + x[i+1])/4 (zeros outside)."""
    widths = [(0, 0)] * x.ndim
    widths[axis] = (1, 1)
    xp = jnp.pad(x, widths)
    n = x.shape[axis]
    part = lambda j: jax.lax.slice_in_dim(xp, j, j + n, axis=axis)  # noqa: E731
    even = (part(0) + 3.0 * part(1)) * 0.25
    odd = (3.0 * part(1) + part(2)) * 0.25
    out = jnp.stack([even, odd], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return out.reshape(shape)


def upsample2d(x: Array) -> Array:
    """×2 up-sampling of NHWC as upfirdn2d.upsample2d (zeros inserted, the [1,3,3,1] filter ×
    gain 4 = up², padding (2, 1)), done separably per axis."""
    return _up_1d(_up_1d(x, 1), 2)


def downsample2d(x: Array) -> Array:
    """×2 down-sampling as upfirdn2d.downsample2d: the [1,3,3,1] filter, padding 1, stride 2."""
    return blur(x, 1)[:, ::2, ::2]


def blur(x: Array, pad: int) -> Array:
    """The [1,3,3,1] filter at stride 1 with `pad` on every side (before a stride-2 conv)."""
    return _fir_1d(_fir_1d(x, 1, pad), 2, pad)


def _conv(x: Array, w: Array, stride: int = 1, padding="SAME") -> Array:
    """NHWC/HWIO convolution whose gradients stay canonical convolutions (fast on XLA CPU also
    inside the lazy-regularisation `lax.cond`; jaxgan.models.canonical_conv)."""
    return canonical_conv.conv2d(x, w, (stride, stride), padding)


def _act(x: Array, activation: str, gain: float, clamp: float | None) -> Array:
    """bias_act after the bias: lrelu(0.2)·√2·gain or linear·gain, then clamp to ±clamp·gain."""
    if activation == "lrelu":
        x = jax.nn.leaky_relu(x, 0.2) * (SQRT2 * gain)
    elif gain != 1:
        x = x * gain
    if clamp:
        x = jnp.clip(x, -clamp * gain, clamp * gain)
    return x


def modulated_conv2d(x: Array, weight: Array, styles: Array, demodulate: bool = True,
                     noise: Array | None = None) -> Array:
    """Modulated convolution (networks.py:27-84, the non-fused path :63-72), 'SAME' padding.

    x [B, H, W, I], weight [k, k, I, O], styles [B, I]. Equals the per-sample convolution of x_b
    with w'_b = weight·s_b (over I), divided by d_{b,o} = √(Σ_{k,k,i} w'_b² + 1e-8) when
    `demodulate`; `noise` (broadcast to the output) is added after demodulation.
    """
    x = x * styles[:, None, None, :].astype(x.dtype)
    x = _conv(x, weight)
    if demodulate:
        w = weight[None] * styles[:, None, None, :, None]            # [B, k, k, I, O]
        dcoefs = jax.lax.rsqrt(jnp.sum(jnp.square(w), axis=(1, 2, 3)) + 1e-8)  # [B, O]
        x = x * dcoefs[:, None, None, :].astype(x.dtype)
    if noise is not None:
        x = x + noise.astype(x.dtype)
    return x


class EqualDense(nn.Module):
    """FullyConnectedLayer (networks.py:89-118): weight N(0, 1)/λ × λ/√fan_in, bias·λ."""

    features: int
    lr_multiplier: float = 1.0
    bias_init: float = 0.0
    activation: str = "linear"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        fan_in = x.shape[-1]
        lr = self.lr_multiplier
        w = self.param("kernel", lambda k, s: jax.random.normal(k, s) / lr,
                       (fan_in, self.features))
        b = self.param("bias", lambda k, s: jnp.full(s, self.bias_init, jnp.float32),
                       (self.features,))
        y = x @ (w * (lr / math.sqrt(fan_in))).astype(x.dtype) + (b * lr).astype(x.dtype)
        return _act(y, self.activation, 1.0, None)


class EqualConv(nn.Module):
    """Conv2dLayer (networks.py:123-169): weight N(0, 1) × 1/√(fan_in), bias, activation; `down`=2
    blurs (FIR, padding from conv2d_resample) and strides by 2."""

    features: int
    kernel_size: int = 3
    use_bias: bool = True
    activation: str = "lrelu"
    down: int = 1
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: Array, gain: float = 1.0) -> Array:
        k, cin = self.kernel_size, x.shape[-1]
        w = self.param("kernel", nn.initializers.normal(1.0), (k, k, cin, self.features))
        w = w * (1.0 / math.sqrt(cin * k * k))
        if self.down == 2 and k == 1:
            x = _conv(downsample2d(x), w)
        elif self.down == 2:
            # conv2d_resample: pad p + (fw − down + 1)//2 = 2 each side, filter, conv stride 2
            x = _conv(blur(x, k // 2 + 1), w, stride=2, padding="VALID")
        else:
            x = _conv(x, w)
        if self.use_bias:
            x = x + self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
        return _act(x, self.activation, gain, self.conv_clamp)


class MappingNetwork(nn.Module):
    """z (and class) → w (networks.py:174-249); w_avg in 'batch_stats' when `w_avg_beta`."""

    w_dim: int
    num_layers: int = 8
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.995
    num_classes: int = 0
    embed_features: int | None = None

    @nn.compact
    def __call__(self, z: Array | None, labels: Array | None, train: bool = False) -> Array:
        parts = []
        if z is not None:
            parts.append(normalize_2nd_moment(z.astype(jnp.float32)))
        if self.num_classes:
            onehot = jax.nn.one_hot(labels, self.num_classes, dtype=jnp.float32)
            embed = EqualDense(self.embed_features or self.w_dim, name="embed")(onehot)
            parts.append(normalize_2nd_moment(embed))
        x = jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = EqualDense(self.w_dim, lr_multiplier=self.lr_multiplier, activation="lrelu",
                           name=f"fc{i}")(x)
        if self.w_avg_beta is not None:
            w_avg = self.variable("batch_stats", "w_avg", jnp.zeros, (self.w_dim,), jnp.float32)
            if train and not self.is_initializing():
                # w_avg ← mean_b w + β·(w_avg − mean_b w)  (lerp(mean, w_avg, β))
                mean = jnp.mean(jax.lax.stop_gradient(x).astype(jnp.float32), axis=0)
                w_avg.value = mean + self.w_avg_beta * (w_avg.value - mean)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv (+ ×2 up-sampling), noise, bias, lrelu (networks.py:253-305)."""

    features: int
    resolution: int
    up: bool = False
    use_noise: bool = True
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: Array, w: Array) -> Array:
        cin = x.shape[-1]
        styles = EqualDense(cin, bias_init=1.0, name="affine")(w)
        weight = self.param("kernel", nn.initializers.normal(1.0), (3, 3, cin, self.features))
        if self.up:
            x = upsample2d(x)
        noise = None
        if self.use_noise:
            res = self.resolution
            const = self.variable("batch_stats", "noise_const", lambda: jax.random.normal(
                self.make_rng("params"), (res, res), jnp.float32))
            strength = self.param("noise_strength", nn.initializers.zeros, ())
            if self.has_rng("noise"):
                noise = jax.random.normal(self.make_rng("noise"), (x.shape[0], res, res, 1))
            else:
                noise = const.value[None, :, :, None]
            noise = noise * strength
        x = modulated_conv2d(x, weight.astype(x.dtype), styles, True, noise)
        x = x + self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
        return _act(x, "lrelu", 1.0, self.conv_clamp)


class ToRGB(nn.Module):
    """1×1 modulated conv without demodulation, styles × 1/√fan_in (networks.py:310-324)."""

    channels: int
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: Array, w: Array) -> Array:
        cin = x.shape[-1]
        styles = EqualDense(cin, bias_init=1.0, name="affine")(w) / math.sqrt(cin)
        weight = self.param("kernel", nn.initializers.normal(1.0), (1, 1, cin, self.channels))
        x = modulated_conv2d(x, weight.astype(x.dtype), styles, demodulate=False)
        x = x + self.param("bias", nn.initializers.zeros, (self.channels,)).astype(x.dtype)
        return _act(x, "linear", 1.0, self.conv_clamp)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """min(channel_base // res, channel_max) (networks.py:441, 694)."""
    return min(channel_base // res, channel_max)


def block_resolutions(resolution: int) -> list[int]:
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"StyleGAN2 needs a power-of-two resolution >= 4, got {resolution}")
    return [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]


def num_ws(resolution: int) -> int:
    """Number of w vectors: 2 per block (1 at 4×4) plus the last ToRGB's (networks.py:444-454)."""
    return 2 * len(block_resolutions(resolution))


class SynthesisNetwork(nn.Module):
    """ws [B, num_ws, w_dim] → image [B, H, W, C], 'skip' architecture (networks.py:329-472)."""

    resolution: int
    channels: int
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, ws: Array) -> Array:
        x = img = None
        w_idx = 0
        for res in block_resolutions(self.resolution):
            ch = channels_at(res, self.channel_base, self.channel_max)
            if res == 4:
                const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch))
                x = jnp.broadcast_to(const.astype(ws.dtype), (ws.shape[0], 4, 4, ch))
                x = SynthesisLayer(ch, res, conv_clamp=self.conv_clamp, name="b4_conv1")(
                    x, ws[:, w_idx])
                w_idx += 1
            else:
                x = SynthesisLayer(ch, res, up=True, conv_clamp=self.conv_clamp,
                                   name=f"b{res}_conv0")(x, ws[:, w_idx])
                x = SynthesisLayer(ch, res, conv_clamp=self.conv_clamp,
                                   name=f"b{res}_conv1")(x, ws[:, w_idx + 1])
                w_idx += 2
                img = upsample2d(img)
            y = ToRGB(self.channels, conv_clamp=self.conv_clamp, name=f"b{res}_torgb")(
                x, ws[:, w_idx])
            img = y if img is None else img + y
        return img


class StyleGAN2Generator(nn.Module):
    """G(z, labels, train) = synthesis(mapping(z, labels)) (networks.py:477-500).

    `styles(z, labels, train)` gives ws [B, num_ws, w_dim] (w_avg updated when `train`, truncation
    ψ applied otherwise); `synthesize(ws)` the image. The step uses both for style mixing and the
    path-length regulariser (jaxgan.core.stylegan_step).
    """

    resolution: int
    channels: int
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.995
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    truncation_psi: float = 1.0
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    def setup(self):
        conditional = self.conditioning != "none" and self.num_classes > 0
        self.mapping = MappingNetwork(
            self.w_dim, self.mapping_layers, self.mapping_lr_multiplier, self.w_avg_beta,
            num_classes=self.num_classes if conditional else 0,
            embed_features=self.label_embedding_dim or None)
        self.synthesis = SynthesisNetwork(self.resolution, self.channels, self.channel_base,
                                          self.channel_max, self.conv_clamp)

    @property
    def num_ws(self) -> int:
        return num_ws(self.resolution)

    def styles(self, z: Array, labels: Array | None = None, train: bool = False) -> Array:
        w = self.mapping(z, labels, train)
        ws = jnp.broadcast_to(w[:, None, :], (w.shape[0], self.num_ws, w.shape[-1]))
        if not train and self.truncation_psi != 1.0:
            w_avg = self.mapping.variables["batch_stats"]["w_avg"]
            ws = w_avg + self.truncation_psi * (ws - w_avg)
        return ws

    def synthesize(self, ws: Array) -> Array:
        return self.synthesis(ws)

    def __call__(self, z: Array, labels: Array | None = None, train: bool = False) -> Array:
        return self.synthesize(self.styles(z, labels, train))


def minibatch_std(x: Array, group_size: int, num_channels: int = 1) -> Array:
    """MinibatchStdLayer (networks.py:589-610): per group of G = min(group, N) examples (example i
    in group i mod N/G), the std over the group, averaged over pixels and channels (in
    `num_channels` channel groups), appended as feature maps."""
    n, h, w, c = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"minibatch std: batch {n} is not a multiple of the group size {g}")
    f = num_channels
    y = x.reshape(g, n // g, h, w, f, c // f).astype(jnp.float32)
    y = y - jnp.mean(y, axis=0)
    y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)       # [n/G, H, W, F, c]
    y = jnp.mean(y, axis=(1, 2, 4))                             # [n/G, F]
    y = jnp.tile(y, (g, 1))                                     # [N, F], row i ← group i mod n/G
    y = jnp.broadcast_to(y[:, None, None, :], (n, h, w, f)).astype(x.dtype)
    return jnp.concatenate([x, y], axis=-1)


class StyleGAN2Discriminator(nn.Module):
    """D(x, labels, train) → logits [B] (networks.py:505-727)."""

    resolution: int
    channel_base: int = 32768
    channel_max: int = 512
    architecture: str = "resnet"
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1
    conv_clamp: float | None = None
    mapping_layers: int = 8
    cmap_dim: int | None = None
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = False) -> Array:
        if self.architecture not in ("resnet", "orig"):
            raise ValueError(f"d_architecture must be 'resnet' or 'orig', got "
                             f"{self.architecture!r}")
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)  # noqa: E731
        clamp = self.conv_clamp
        for i, res in enumerate(reversed(block_resolutions(self.resolution)[1:])):
            if i == 0:
                x = EqualConv(ch(res), 1, conv_clamp=clamp, name=f"b{res}_fromrgb")(x)
            if self.architecture == "resnet":
                y = EqualConv(ch(res // 2), 1, use_bias=False, activation="linear", down=2,
                              name=f"b{res}_skip")(x, gain=math.sqrt(0.5))
            x = EqualConv(ch(res), 3, conv_clamp=clamp, name=f"b{res}_conv0")(x)
            x = EqualConv(ch(res // 2), 3, down=2, conv_clamp=clamp, name=f"b{res}_conv1")(
                x, gain=math.sqrt(0.5) if self.architecture == "resnet" else 1.0)
            if self.architecture == "resnet":
                x = y + x
        if self.resolution == 4:
            x = EqualConv(ch(4), 1, conv_clamp=clamp, name="b4_fromrgb")(x)
        # epilogue (networks.py:615-668)
        if self.mbstd_num_channels > 0:
            x = minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = EqualConv(ch(4), 3, conv_clamp=clamp, name="b4_conv")(x)
        x = EqualDense(ch(4), activation="lrelu", name="b4_fc")(x.reshape(x.shape[0], -1))
        conditional = self.conditioning != "none" and self.num_classes > 0
        cmap_dim = (self.cmap_dim or ch(4)) if conditional else 0
        x = EqualDense(cmap_dim or 1, name="b4_out")(x)
        if conditional:
            cmap = MappingNetwork(cmap_dim, self.mapping_layers, w_avg_beta=None,
                                  num_classes=self.num_classes,
                                  embed_features=self.label_embedding_dim or None,
                                  name="mapping")(None, labels)
            x = jnp.sum(x * cmap, axis=-1, keepdims=True) / math.sqrt(cmap_dim)
        return x[:, 0].astype(jnp.float32)


def model_pair(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
               bn_axis_name: str | None = None):
    """(generator, discriminator) of `config` for images of `data_shape` (H, W, C): the
    `config.model = 'stylegan2'` entry of jaxgan.models.MODELS. Keys: w_dim, mapping_layers,
    channel_base, channel_max, conv_clamp (0: off), d_architecture, mbstd_group_size,
    mbstd_num_channels; z's size is latent_dim."""
    del bn_axis_name  # no BatchNorm
    if len(data_shape) != 3 or data_shape[0] != data_shape[1]:
        raise ValueError(f"stylegan2 needs square images (H, W, C), got data shape {data_shape}")
    res, channels = data_shape[0], data_shape[2]
    block_resolutions(res)
    clamp = config.get("conv_clamp", 0) or None
    base, cmax = config.get("channel_base", 32768), config.get("channel_max", 512)
    generator = StyleGAN2Generator(
        resolution=res, channels=channels, w_dim=config.get("w_dim", 512),
        mapping_layers=config.get("mapping_layers", 8),
        mapping_lr_multiplier=config.get("mapping_lr_multiplier", 0.01),
        channel_base=base, channel_max=cmax, conv_clamp=clamp)
    discriminator = StyleGAN2Discriminator(
        resolution=res, channel_base=base, channel_max=cmax,
        architecture=config.get("d_architecture", "resnet"),
        mbstd_group_size=config.get("mbstd_group_size", 4),
        mbstd_num_channels=config.get("mbstd_num_channels", 1), conv_clamp=clamp)
    return generator, discriminator


def generator_with_truncation(generator: Any, psi: float):
    """The generator sampling with truncation ψ (w_avg + ψ(w − w_avg)); `generator` unchanged
    when it has no truncation (not a StyleGAN2 generator) and ψ = 1."""
    if psi == 1.0 and not hasattr(generator, "truncation_psi"):
        return generator
    if not hasattr(generator, "truncation_psi"):
        raise ValueError(f"--truncation applies to StyleGAN2 generators only, not "
                         f"{type(generator).__name__}; drop --truncation")
    return generator.clone(truncation_psi=float(psi))
