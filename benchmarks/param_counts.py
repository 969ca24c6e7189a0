"""Parameter counts of the ResNet experiment configs against the reference implementations.

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


CASES = [
    ("experiments/sngan_cifar10.py", "mimicry torch_mimicry/nets/sngan/sngan_32.py",
     mimicry_sngan_32, 0),
    ("experiments/sngan_celeba64.py", "mimicry torch_mimicry/nets/sngan/sngan_64.py",
     mimicry_sngan_64, 0),
    ("experiments/biggan_cifar10.py",
     "StudioGAN src/models/big_resnet.py + src/configs/CIFAR10/BigGAN-Mod.yaml",
     studiogan_biggan_cifar10, 10),
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
