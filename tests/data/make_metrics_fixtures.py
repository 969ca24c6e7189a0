"""Regenerates the small fixtures of tests/test_metrics_inception.py (needs torch, torchvision, pytorch-fid;
run by hand, never by the tests):

    python tests/data/make_metrics_fixtures.py

* torch_state_dict_zip.pth / torch_state_dict_legacy.pth: a tiny state dict saved by torch.save in the zip
  and the legacy format, with views sharing one storage (offset, transposed strides), a 0-d int64 tensor,
  a float64 and an int32 tensor. The test rebuilds the same values with NumPy.
* fid_inception_state_dict_shapes.json: {name: shape} of pytorch-fid's `fid_inception_v3()` state dict,
  taken from the real torchvision/pytorch-fid modules (so the test's expectations are independent of
  jaxgan's Flax code).
"""
import collections
import json
import pathlib

import torch

HERE = pathlib.Path(__file__).parent


def tiny_state_dict():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return collections.OrderedDict(
        offset_view=base[1:], transposed_view=base.t(), count=torch.tensor(7),
        doubles=torch.linspace(-1.0, 1.0, 5, dtype=torch.float64),
        ints=torch.tensor([[1, -2], [3, -4]], dtype=torch.int32))


def main():
    sd = tiny_state_dict()
    torch.save(sd, HERE / "torch_state_dict_zip.pth")
    torch.save(sd, HERE / "torch_state_dict_legacy.pth", _use_new_zipfile_serialization=False)
    from pytorch_fid import inception as pf
    net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    for name, block, args in [("Mixed_5b", pf.FIDInceptionA, (192, 32)), ("Mixed_5c", pf.FIDInceptionA, (256, 64)),
                              ("Mixed_5d", pf.FIDInceptionA, (288, 64)), ("Mixed_6b", pf.FIDInceptionC, (768, 128)),
                              ("Mixed_6c", pf.FIDInceptionC, (768, 160)), ("Mixed_6d", pf.FIDInceptionC, (768, 160)),
                              ("Mixed_6e", pf.FIDInceptionC, (768, 192)), ("Mixed_7b", pf.FIDInceptionE_1, (1280,)),
                              ("Mixed_7c", pf.FIDInceptionE_2, (2048,))]:
        setattr(net, name, block(*args))
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    lines = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in shapes.items())
    (HERE / "fid_inception_state_dict_shapes.json").write_text("{\n" + lines + "\n}\n")


if __name__ == "__main__":
    main()
