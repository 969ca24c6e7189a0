"""Side-by-side check of jaxgan's Flax FID Inception against pytorch-fid (not a test: needs torch,
torchvision and pytorch-fid, which are never jaxgan dependencies).

    python benchmarks/inception_parity_pytorch_fid.py [--weights pt_inception-2015-12-05-6726825d.pth]

Without --weights, pytorch-fid's `fid_inception_v3` architecture is filled with random weights (random
BatchNorm statistics too), saved with `torch.save` in both the zip and the legacy format, loaded by
`jaxgan.metrics.inception.load_inception`, and both networks embed the same random images (uint8-valued,
at 32x32 and 64x64 so that the resize to 299 is exercised). With --weights the real file is used.
Prints the largest absolute and relative differences of the pool3 features and of the IS softmax.
"""
from __future__ import annotations

import argparse
import pathlib
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_fid import inception as pf

from jaxgan.metrics.inception import load_inception


def random_state_dict(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    for name, block, arg in [("Mixed_5b", pf.FIDInceptionA, (192, 32)), ("Mixed_5c", pf.FIDInceptionA, (256, 64)),
                             ("Mixed_5d", pf.FIDInceptionA, (288, 64)), ("Mixed_6b", pf.FIDInceptionC, (768, 128)),
                             ("Mixed_6c", pf.FIDInceptionC, (768, 160)), ("Mixed_6d", pf.FIDInceptionC, (768, 160)),
                             ("Mixed_6e", pf.FIDInceptionC, (768, 192)), ("Mixed_7b", pf.FIDInceptionE_1, (1280,)),
                             ("Mixed_7c", pf.FIDInceptionE_2, (2048,))]:
        setattr(net, name, block(*arg))
    sd = net.state_dict()
    gen = torch.Generator().manual_seed(seed + 1)
    for k, v in sd.items():
        if k.endswith("conv.weight"):
            fan_in = v[0].numel()
            sd[k] = torch.randn(v.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif k.endswith("bn.weight"):
            sd[k] = 0.5 + torch.rand(v.shape, generator=gen)
        elif k.endswith("bn.bias") or k.endswith("running_mean"):
            sd[k] = 0.1 * torch.randn(v.shape, generator=gen)
        elif k.endswith("running_var"):
            sd[k] = 0.5 + torch.rand(v.shape, generator=gen)
        elif k.startswith("fc."):
            sd[k] = 0.01 * torch.randn(v.shape, generator=gen)
    return sd


def torch_outputs(sd: dict[str, torch.Tensor], images01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pf.load_state_dict_from_url = lambda *a, **k: sd          # no download: use our weights
    model = pf.InceptionV3([3]).eval()
    x = torch.from_numpy(images01).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        pool3 = model(x)[0][:, :, 0, 0]
        probs = F.softmax(pool3 @ sd["fc.weight"].T, dim=1)   # improved-gan IS: no fc bias
    return pool3.numpy(), probs.numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if args.weights:
            sd = torch.load(args.weights, map_location="cpu")
            files = {"given": pathlib.Path(args.weights)}
        else:
            sd = random_state_dict(args.seed)
            files = {"zip": pathlib.Path(tmp, "w_zip.pth"), "legacy": pathlib.Path(tmp, "w_legacy.pth")}
            torch.save(sd, files["zip"])
            torch.save(sd, files["legacy"], _use_new_zipfile_serialization=False)
        for size in (32, 64):
            images_u8 = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
            ref_pool3, ref_probs = torch_outputs(sd, images_u8 / 255.0)
            for fmt, path in files.items():
                ext = load_inception(path)
                pool3, probs = ext.features_and_probabilities(images_u8.astype(np.float32) / 127.5 - 1.0)
                abs_err = np.abs(pool3 - ref_pool3).max()
                rel_err = abs_err / np.abs(ref_pool3).max()
                p_err = np.abs(probs - ref_probs).max()
                print(f"{size}x{size} [{fmt}] pool3 max|ref|={np.abs(ref_pool3).max():.4g} "
                      f"max abs diff={abs_err:.3g} rel={rel_err:.3g}; IS softmax max abs diff={p_err:.3g}")


if __name__ == "__main__":
    main()
