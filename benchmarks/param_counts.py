"""Parameter counts of the ResNet and StyleGAN2 experiment configs against the reference
implementations.

The reference counts are computed from the references' layer lists, transcribed below from the
files named, with PyTorch's parameter formulas (trainable parameters only: spectral norm's u/σ and
BatchNorm's running statistics are buffers there, batch_stats here):
  nn.Linear(i, o)        i·o + o (no bias: i·o)      nn.Conv2d(i, o, k)   i·o·k² + o (no bias: i·o·k²)
  nn.BatchNorm2d(c)      2c (affine=False: 0)        nn.Embedding(n, d)   n·d
  SAGAN gate σ           1
jaxgan's counts are the sizes of the `params` of the networks `build_gan` makes from the
experiment file.

    python benchmarks/param_counts.py      # exit status 1 if any count differs
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxgan.config import build_gan  # noqa: E402
from jaxgan.training.run_config import load_experiment  # noqa: E402


def linear(i, o, bias=True):
    return i * o + (o if bias else 0)


def conv(i, o, k, bias=True):
    return i * o * k * k + (o if bias else 0)


def bn(c, affine=True):
    return 2 * c if affine else 0


def embedding(n, d):
    return n * d


# --- kwotsin/mimicry: torch_mimicry/nets/modules/resblocks.py ---------------------------------

def mimicry_gblock(i, o):
    """GBlock(i, o, upsample=True): b1 BN(i), c1 conv3(i→o), b2 BN(o), c2 conv3(o→o),
    c_sc conv1(i→o) (learnable_sc: upsample)."""
    return bn(i) + conv(i, o, 3) + bn(o) + conv(o, o, 3) + conv(i, o, 1)


def mimicry_dblock(i, o, downsample):
    """DBlock(i, o, downsample): hidden = i; c1 conv3(i→i), c2 conv3(i→o), c_sc conv1(i→o) when
    i ≠ o or downsample."""
    return conv(i, i, 3) + conv(i, o, 3) + (conv(i, o, 1) if (i != o or downsample) else 0)


def mimicry_dblock_optimized(i, o):
    """DBlockOptimized(i, o): c1 conv3(i→o), c2 conv3(o→o), c_sc conv1(i→o)."""
    return conv(i, o, 3) + conv(o, o, 3) + conv(i, o, 1)


def mimicry_sngan_32():
    """torch_mimicry/nets/sngan/sngan_32.py: nz 128, ngf 256, ndf 128, bottom width 4."""
    nz, ngf, ndf = 128, 256, 128
    g = (linear(nz, 16 * ngf) + 3 * mimicry_gblock(ngf, ngf) + bn(ngf) + conv(ngf, 3, 3))
    d = (mimicry_dblock_optimized(3, ndf) + mimicry_dblock(ndf, ndf, True)
         + 2 * mimicry_dblock(ndf, ndf, False) + linear(ndf, 1))
    return g, d


def mimicry_sngan_64():
    """torch_mimicry/nets/sngan/sngan_64.py: nz 128, ngf 1024, ndf 1024."""
    nz, ngf, ndf = 128, 1024, 1024
    g = (linear(nz, 16 * ngf) + mimicry_gblock(ngf, ngf >> 1) + mimicry_gblock(ngf >> 1, ngf >> 2)
         + mimicry_gblock(ngf >> 2, ngf >> 3) + mimicry_gblock(ngf >> 3, ngf >> 4)
         + bn(ngf >> 4) + conv(ngf >> 4, 3, 3))
    d = (mimicry_dblock_optimized(3, ndf >> 4) + mimicry_dblock(ndf >> 4, ndf >> 3, True)
         + mimicry_dblock(ndf >> 3, ndf >> 2, True) + mimicry_dblock(ndf >> 2, ndf >> 1, True)
         + mimicry_dblock(ndf >> 1, ndf, True) + linear(ndf, 1))
    return g, d


# --- POSTECH-CVLab/PyTorch-StudioGAN: src/models/big_resnet.py, src/utils/ops.py --------------

def studiogan_cbn(hier_z_dim, c):
    """ops.BigGANConditionalBatchNorm2d: bn (affine=False), gain and bias g_linear without bias."""
    return bn(c, affine=False) + 2 * linear(hier_z_dim, c, bias=False)


def studiogan_genblock(i, o, hier_z_dim):
    """GenBlock (g_cond_mtd cBN): bn1 cBN(i), bn2 cBN(o), conv2d0 conv1(i→o), conv2d1 conv3(i→o),
    conv2d2 conv3(o→o)."""
    return (studiogan_cbn(hier_z_dim, i) + studiogan_cbn(hier_z_dim, o) + conv(i, o, 1)
            + conv(i, o, 3) + conv(o, o, 3))


def studiogan_attention(c):
    """ops.SelfAttention(c): θ, φ conv1(c→c/8), g conv1(c→c/2), attn conv1(c/2→c), no biases;
    σ (the gate) one parameter."""
    return (2 * conv(c, c // 8, 1, False) + conv(c, c // 2, 1, False)
            + conv(c // 2, c, 1, False) + 1)


def studiogan_discblock(i, o, downsample):
    """DiscBlock (apply_d_sn: no BatchNorm): conv2d0 conv1(i→o) when i ≠ o or downsample,
    conv2d1 conv3(i→o), conv2d2 conv3(o→o)."""
    return ((conv(i, o, 1) if (i != o or downsample) else 0) + conv(i, o, 3) + conv(o, o, 3))


def studiogan_discoptblock(i, o):
    """DiscOptBlock: conv2d0 conv1(i→o), conv2d1 conv3(i→o), conv2d2 conv3(o→o)."""
    return conv(i, o, 1) + conv(i, o, 3) + conv(o, o, 3)


def studiogan_biggan_cifar10():
    """src/configs/CIFAR10/BigGAN-Mod.yaml: img 32, z_dim 80, g_shared_dim 128, g/d_conv_dim 96,
    attention after G block 2 and D block 1, g_cond_mtd cBN, d_cond_mtd PD, 10 classes.
    G: in/out dims [4ch]*3, chunk = z_dim / 4, hier_z_dim = chunk + shared; shared embedding,
    linear0(chunk → 4ch·4·4), bn4 (affine), conv2d5 conv3(4ch→3).
    D: in [3, 2ch, 2ch, 2ch], out [2ch]*4, down [T, T, F, F]; linear1(2ch → 1), PD embedding."""
    z, shared, ch, k = 80, 128, 96, 10
    chunk = z // 4
    g = (embedding(k, shared) + linear(chunk, 4 * ch * 16)
         + 3 * studiogan_genblock(4 * ch, 4 * ch, chunk + shared)
         + studiogan_attention(4 * ch) + bn(4 * ch) + conv(4 * ch, 3, 3))
    d = (studiogan_discoptblock(3, 2 * ch) + studiogan_attention(2 * ch)
         + studiogan_discblock(2 * ch, 2 * ch, True) + 2 * studiogan_discblock(2 * ch, 2 * ch, False)
         + linear(2 * ch, 1) + embedding(k, 2 * ch))
    return g, d


# --- NVlabs/stylegan2-ada-pytorch: training/networks.py ------------------------------------------

def sg2_mapping(z_dim, c_dim, w_dim, num_layers):
    """MappingNetwork (networks.py:174-212): embed FC(c_dim→w_dim) when c_dim > 0; FC layers over
    [z_dim + embed] + [w_dim]·(num_layers − 1) + [w_dim]; w_avg is a buffer."""
    embed = w_dim if c_dim else 0
    dims = [z_dim + embed] + [w_dim] * num_layers
    return ((linear(c_dim, embed) if c_dim else 0)
            + sum(linear(a, b) for a, b in zip(dims[:-1], dims[1:])))


def sg2_synthesis_layer(i, o, w_dim):
    """SynthesisLayer (:253-284): affine FC(w_dim→i), weight o·i·3², noise_strength, bias o
    (noise_const is a buffer)."""
    return linear(w_dim, i) + o * i * 9 + 1 + o


def sg2_torgb(i, c, w_dim):
    """ToRGBLayer (:310-317): affine FC(w_dim→i), weight c·i·1², bias c."""
    return linear(w_dim, i) + c * i + c


def sg2_generator(res, img_c, z_dim, w_dim, c_dim, map_layers, base, cmax):
    """Generator (:477-495) with SynthesisNetwork (:424-455) of 'skip' SynthesisBlocks
    (:329-377): 4×4 const + conv1 + torgb; above, conv0 (up) + conv1 + torgb."""
    ch = lambda r: min(base // r, cmax)  # noqa: E731
    total = sg2_mapping(z_dim, c_dim, w_dim, map_layers)
    r = 4
    while r <= res:
        if r == 4:
            total += ch(4) * 16 + sg2_synthesis_layer(ch(4), ch(4), w_dim)
        else:
            total += (sg2_synthesis_layer(ch(r // 2), ch(r), w_dim)
                      + sg2_synthesis_layer(ch(r), ch(r), w_dim))
        total += sg2_torgb(ch(r), img_c, w_dim)
        r *= 2
    return total


def sg2_discriminator(res, img_c, c_dim, base, cmax, architecture):
    """Discriminator (:673-715): DiscriminatorBlocks (:505-555) from res down to 8 (fromrgb
    conv1 on the first, conv0 conv3, conv1 conv3 down, 'resnet' skip conv1 without bias); the
    epilogue (:615-640) conv3(c + 1 → c), FC(c·16 → c), out FC(c → 1 or cmap_dim); conditional:
    a MappingNetwork(z_dim 0, c_dim, cmap_dim = channels at 4, 8 layers)."""
    ch = lambda r: min(base // r, cmax)  # noqa: E731
    total, r = 0, res
    while r > 4:
        tmp, out = ch(r), ch(r // 2)
        if r == res:
            total += conv(img_c, tmp, 1)
        total += conv(tmp, tmp, 3) + conv(tmp, out, 3)
        if architecture == "resnet":
            total += conv(tmp, out, 1, bias=False)
        r //= 2
    c = ch(4)
    cmap = c if c_dim else 0
    total += conv(c + 1, c, 3) + linear(c * 16, c) + linear(c, cmap or 1)
    if c_dim:
        total += sg2_mapping(0, c_dim, cmap, 8)
    return total


def ada_cifar():
    """train.py:160,176-198 `--cfg=cifar --cond=1`: z = w = 512, 2 mapping layers, channel_base
    32768, channel_max 512, D 'orig', 10 classes."""
    return (sg2_generator(32, 3, 512, 512, 10, 2, 32768, 512),
            sg2_discriminator(32, 3, 10, 32768, 512, "orig"))


def ada_paper256():
    """train.py:157,176-183 `--cfg=paper256`: fmaps 0.5 (channel_base 16384), channel_max 512,
    8 mapping layers, D 'resnet', unconditional."""
    return (sg2_generator(256, 3, 512, 512, 0, 8, 16384, 512),
            sg2_discriminator(256, 3, 0, 16384, 512, "resnet"))


CASES = [
    ("experiments/sngan_cifar10.py", "mimicry torch_mimicry/nets/sngan/sngan_32.py",
     mimicry_sngan_32, 0),
    ("experiments/sngan_celeba64.py", "mimicry torch_mimicry/nets/sngan/sngan_64.py",
     mimicry_sngan_64, 0),
    ("experiments/biggan_cifar10.py",
     "StudioGAN src/models/big_resnet.py + src/configs/CIFAR10/BigGAN-Mod.yaml",
     studiogan_biggan_cifar10, 10),
    ("experiments/stylegan2_cifar10.py",
     "stylegan2-ada-pytorch training/networks.py, train.py --cfg=cifar --cond=1", ada_cifar, 10),
    ("experiments/stylegan2_ffhq256.py",
     "stylegan2-ada-pytorch training/networks.py, train.py --cfg=paper256", ada_paper256, 0),
]


def jaxgan_counts(path: str, num_classes: int) -> tuple[int, int]:
    config = load_experiment(path)
    shape = (config.resolution, config.resolution, config.channels)
    gan = build_gan(config, shape, num_classes=num_classes)
    labels = jnp.zeros((2,), jnp.int32) if num_classes else None
    count = lambda v: sum(a.size for a in jax.tree.leaves(v["params"]))
    g = jax.eval_shape(gan.generator.init, jax.random.key(0),
                       jnp.zeros((2, config.latent_dim)), labels)
    d = jax.eval_shape(gan.discriminator.init, jax.random.key(0), jnp.zeros((2,) + shape), labels)
    return count(g), count(d)


def main() -> int:
    ok = True
    print(f"| experiment | reference | G jaxgan | G reference | D jaxgan | D reference |")
    print("|---|---|---|---|---|---|")
    for path, reference, counts, num_classes in CASES:
        g, d = jaxgan_counts(path, num_classes)
        g_ref, d_ref = counts()
        ok &= (g, d) == (g_ref, d_ref)
        print(f"| {path} | {reference} | {g:,} | {g_ref:,} | {d:,} | {d_ref:,} |")
    print("all equal" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
