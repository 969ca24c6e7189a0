"""PyTorch reference for the DCGAN training step, for side-by-side timing with `throughput.py`.

Same architecture as jaxgan's DCGAN (Radford et al. 2015, arXiv:1511.06434; the 32x32 form in
REFERENCE.md): G: z(100) -> ConvT 4x4 s1 -> 256@4x4 -> ConvT 4x4 s2 p1 -> 128@8x8 -> 64@16x16 -> C@32x32,
BatchNorm + ReLU between, tanh output; D mirrors it with Conv 4x4 s2 p1 (64, 128, 256), LeakyReLU 0.2,
BatchNorm except on the input layer, and a final 4x4 valid conv to one logit. No biases except on
that logit (as jaxgan's models). One step = one D Adam update on a real and a fake batch (BCE, real -> 1,
fake -> 0) and one G Adam update with the non-saturating loss -E log D(G(z)) (Goodfellow et al. 2014),
both Adam(2e-4, beta1 0.5). By default G is run a second time on a fresh z for the G update (as
jaxgan's step does); --reuse-fake reuses the D step's fake batch (as the PyTorch DCGAN example does).

PyTorch is only a benchmark tool here, never a dependency of jaxgan. Install the CPU wheel with
  pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl

  python benchmarks/torch_reference.py --resolution 32 --channels 3 --batch 64 --steps 20 [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

MISSING = ("PyTorch is not installed; install the CPU wheel with "
           "`pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl`")


def _generator(resolution: int, channels: int, latent: int, width: int) -> "nn.Module":
    n_up = {32: 3, 64: 4}[resolution]
    feats = [width * 2 ** (n_up - 1 - i) for i in range(n_up)]  # 32: 256, 128, 64
    layers: list = [nn.ConvTranspose2d(latent, feats[0], 4, 1, 0, bias=False),
                    nn.BatchNorm2d(feats[0]), nn.ReLU(True)]
    for f_in, f_out in zip(feats[:-1], feats[1:]):
        layers += [nn.ConvTranspose2d(f_in, f_out, 4, 2, 1, bias=False), nn.BatchNorm2d(f_out),
                   nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(feats[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def _discriminator(resolution: int, channels: int, width: int) -> "nn.Module":
    n_down = {32: 3, 64: 4}[resolution]
    feats = [width * 2 ** i for i in range(n_down)]  # 32: 64, 128, 256
    layers: list = [nn.Conv2d(channels, feats[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    for f_in, f_out in zip(feats[:-1], feats[1:]):
        layers += [nn.Conv2d(f_in, f_out, 4, 2, 1, bias=False), nn.BatchNorm2d(f_out),
                   nn.LeakyReLU(0.2, True)]
    layers += [nn.Conv2d(feats[-1], 1, 4, 1, 0)]  # jaxgan's logit layer has a bias
    return nn.Sequential(*layers)


def _init(m: "nn.Module") -> None:
    """DCGAN init: conv weights N(0, 0.02), BN scale N(1, 0.02), BN bias 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def make_step(resolution: int = 32, channels: int = 3, batch: int = 64, latent: int = 100,
              width: int = 64, reuse_fake: bool = False, seed: int = 0,
              threads: int = 0, device: str = "cpu") -> Callable[[], float]:
    """One DCGAN training step as a closure; each call runs one step and returns G's loss
    (reading the loss back waits for the step, on the CPU and on `device='cuda'` alike)."""
    if torch is None:
        raise RuntimeError(MISSING)
    if device != "cpu" and not torch.cuda.is_available():
        raise RuntimeError(f"torch device {device!r} asked for, but torch sees no GPU")
    dev = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    g = _generator(resolution, channels, latent, width)
    d = _discriminator(resolution, channels, width)
    g.apply(_init)
    d.apply(_init)
    g, d = g.to(dev), d.to(dev)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, channels, resolution, resolution, device=dev) * 2 - 1
    ones = torch.ones(batch, device=dev)
    zeros = torch.zeros(batch, device=dev)

    def step() -> float:
        fake = g(torch.randn(batch, latent, 1, 1, device=dev))
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(d(real).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
        loss_d.backward()
        opt_d.step()
        if not reuse_fake:
            fake = g(torch.randn(batch, latent, 1, 1, device=dev))
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(d(fake).view(-1), ones)  # non-saturating: -E log sigmoid(D(G(z)))
        loss_g.backward()
        opt_g.step()
        return float(loss_g.detach())  # waits for the step to finish
    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--resolution", type=int, default=32, choices=(32, 64))
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--latent", type=int, default=100)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--reuse-fake", action="store_true",
                   help="G update reuses the D step's fake batch (PyTorch DCGAN example)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--json", action="store_true", help="last line: one JSON object")
    a = p.parse_args(argv)
    if torch is None:
        print(f"torch_reference.py: {MISSING}", file=sys.stderr)
        return 2
    step = make_step(a.resolution, a.channels, a.batch, a.latent, a.width, a.reuse_fake, a.seed,
                     a.threads, a.device)
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1e3
    row = {"framework": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
           "resolution": a.resolution, "channels": a.channels, "batch": a.batch,
           "reuse_fake": a.reuse_fake, "device": a.device, "steps": a.steps, "ms_per_step": ms,
           "ms_per_step_min": min(times) * 1e3, "images_per_s": a.batch / ms * 1e3,
           "load_average": os.getloadavg()[0]}
    print(f"{'framework':<22}{'threads':>8}{'batch':>7}{'ms/step (median)':>18}{'ms/step (min)':>15}"
          f"{'images/s':>10}")
    print(f"{row['framework']:<22}{row['threads']:>8}{a.batch:>7}{ms:>18.1f}"
          f"{row['ms_per_step_min']:>15.1f}{row['images_per_s']:>10.0f}")
    if a.json:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
