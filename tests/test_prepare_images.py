"""`jaxgan prepare` / jaxgan.data.prepare_images on real files written with Pillow.

Every expected pixel is computed here independently of jaxgan.data.image_decode (numpy formulas,
or Pillow's own decoder for lossy formats); the prepared data set is read back through TFDS
(`tfds.builder(NAME, data_dir=D)`, as training reads it) and through jaxgan's pipeline.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan import cli, data
from jaxgan.data import DataError, image_decode, prepare_images

RNG = np.random.default_rng(0)


def _rgb(h, w):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def read_set(name, data_dir):
    """(images uint8 [N, R, R, C], labels or None, file names, builder) in stored order."""
    builder = tfds.builder(name, data_dir=str(data_dir))
    source = builder.as_data_source("train")
    records = [source[i] for i in range(len(source))]
    labels = (np.array([r["label"] for r in records]) if "label" in builder.info.features
              else None)
    return (np.stack([r["image"] for r in records]), labels,
            [r["file_name"].decode() for r in records], builder)


def independent_hash(images, labels, class_names):
    """content_sha256 as the module docstring defines it, computed from read-back data."""
    r, c = images.shape[1], images.shape[3]
    sha = hashlib.sha256(f"jaxgan-prepare-v1 {r}x{r}x{c} {json.dumps(list(class_names))}\n"
                         .encode())
    for i, image in enumerate(images):
        sha.update(struct.pack("<q", -1 if labels is None else int(labels[i])))
        sha.update(image.tobytes())
    return sha.hexdigest()


@pytest.fixture
def class_folder(tmp_path):
    """Two class folders made in unsorted order, one nested; 12x12 RGB PNGs; a .txt and a hidden
    file that must be ignored."""
    root = tmp_path / "src"
    truth = {}
    for rel in ["zebra/b.png", "zebra/a.png", "apple/deep/er/z.png", "apple/m.png",
                "apple/deep/a.png"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        truth[rel] = _rgb(12, 12)
        Image.fromarray(truth[rel]).save(path)
    (root / "zebra" / "notes.txt").write_text("not an image")
    (root / "apple" / ".hidden.png").write_bytes(b"junk")
    return root, truth


def test_png_round_trip_labels_class_names_and_hash(class_folder, tmp_path):
    root, truth = class_folder
    out = prepare_images(root, "fruit", data_dir=tmp_path / "d", labels="folders", workers=1)
    order = ["apple/deep/a.png", "apple/deep/er/z.png", "apple/m.png", "zebra/a.png",
             "zebra/b.png"]  # sorted path components
    images, labels, names, builder = read_set("fruit", tmp_path / "d")
    assert names == order
    np.testing.assert_array_equal(images, np.stack([truth[n] for n in order]))  # exact
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    assert builder.info.features["label"].names == ["apple", "zebra"]
    assert builder.info.file_format == tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    assert (out.num_examples, out.num_skipped, out.ignored) == (5, 0, 1)
    assert out.examples_per_class == [3, 2] and out.resolution == 12
    assert out.content_sha256 == independent_hash(images, labels, ["apple", "zebra"])
    assert builder.info.metadata["content_sha256"] == out.content_sha256
    # read through jaxgan's pipeline like a catalog set; the spec names the classes and the hash
    spec = data.get_spec("fruit", data_dir=str(tmp_path / "d"), resolution=12, channels=3)
    assert spec.class_names == ("apple", "zebra") and spec.num_classes == 2
    assert spec.content_sha256 == out.content_sha256 and spec.num_examples == 5
    real = data.sample_real("fruit", 5, 0, data_dir=str(tmp_path / "d"), resolution=12,
                            channels=3)
    back = np.rint((real + 1) * 127.5).astype(np.uint8).reshape(5, -1)  # u / 127.5 - 1, inverted
    assert sorted(map(bytes, back)) == sorted(map(bytes, images.reshape(5, -1)))


def test_every_mode_converted_as_documented(tmp_path):
    root = tmp_path / "modes"
    root.mkdir()
    colour, alpha = _rgb(8, 8), RNG.integers(0, 256, (8, 8), dtype=np.uint8)
    Image.fromarray(np.dstack([colour, alpha])).save(root / "a_rgba.png")
    grey = RNG.integers(0, 256, (8, 8), dtype=np.uint8)
    Image.frombytes("LA", (8, 8), np.dstack([grey, alpha]).tobytes()).save(root / "b_la.png")
    palette_index = RNG.integers(0, 4, (8, 8), dtype=np.uint8)
    pal_colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 99, 199]], np.uint8)
    p = Image.fromarray(palette_index, "P")
    p.putpalette(pal_colours.ravel().tolist())
    p.info["transparency"] = 2  # index 2 fully transparent
    p.save(root / "c_palette.png", transparency=2)
    sixteen = np.array(RNG.integers(0, 65536, (8, 8)), np.uint16)
    sixteen[0, :4] = [0, 1000, 32768, 65535]
    sixteen_image = Image.fromarray(sixteen)
    assert sixteen_image.mode == "I;16"
    sixteen_image.save(root / "d_grey16.png")
    cmyk = RNG.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    Image.frombytes("CMYK", (8, 8), cmyk.tobytes()).save(root / "e_cmyk.tif")
    bilevel = RNG.integers(0, 2, (8, 8)).astype(bool)
    Image.fromarray(bilevel).save(root / "f_bilevel.bmp")
    Image.fromarray(colour).save(root / "g_photo.jpg", quality=90)
    frames = [Image.fromarray(_rgb(8, 8)).convert("P") for _ in range(2)]
    frames[0].save(root / "h_anim.gif", save_all=True, append_images=frames[1:])
    webp = features_check_webp()
    if webp:
        Image.fromarray(colour).save(root / "i_lossless.webp", lossless=True)
    with Image.open(root / "h_anim.gif") as gif:
        first_frame = np.asarray(gif.convert("RGB"))
    with Image.open(root / "g_photo.jpg") as jpeg:
        jpeg_pixels = np.asarray(jpeg.convert("RGB"))

    b = 255  # white background, to see that the option is used
    prepare_images(root, "modes", data_dir=tmp_path / "d", background=b, workers=1)
    images, _, names, _ = read_set("modes", tmp_path / "d")
    got = dict(zip(names, images.astype(int)))
    a = alpha[..., None] / 255.0
    np.testing.assert_array_equal(got["a_rgba.png"], np.rint(colour * a + b * (1 - a)))
    la = np.rint(grey * a[..., 0] + b * (1 - a[..., 0]))
    np.testing.assert_array_equal(got["b_la.png"], np.repeat(la[..., None], 3, 2))
    expected_p = pal_colours[palette_index].astype(int)
    expected_p[palette_index == 2] = b
    np.testing.assert_array_equal(got["c_palette.png"], expected_p)
    g16 = np.rint(sixteen.astype(np.float64) * 255 / 65535)
    np.testing.assert_array_equal(got["d_grey16.png"][..., 0], g16)  # scaled ...
    assert list(got["d_grey16.png"][0, :4, 0]) == [0, 4, 128, 255]  # ... not clipped (1000 -> 4)
    c, k = cmyk[..., :3].astype(float), cmyk[..., 3:].astype(float)
    assert np.abs(got["e_cmyk.tif"] - (255 - c) * (255 - k) / 255).max() <= 1
    np.testing.assert_array_equal(got["f_bilevel.bmp"][..., 0], np.where(bilevel, 255, 0))
    np.testing.assert_array_equal(got["g_photo.jpg"], jpeg_pixels)  # Pillow's JPEG decode
    np.testing.assert_array_equal(got["h_anim.gif"], first_frame)   # first frame
    if webp:
        np.testing.assert_array_equal(got["i_lossless.webp"], colour)

    # grey output: Pillow's ITU-R 601-2 luma, (19595 R + 38470 G + 7471 B + 2^15) >> 16
    prepare_images(root, "modes_grey", data_dir=tmp_path / "d", channels=1, workers=1,
                   background=b)
    grey_images, _, names, _ = read_set("modes_grey", tmp_path / "d")
    assert grey_images.shape == (len(names), 8, 8, 1) and len(names) == 8 + webp
    r, g, bl = (got["g_photo.jpg"][..., i] for i in range(3))
    luma = (19595 * r + 38470 * g + 7471 * bl + 32768) >> 16
    np.testing.assert_array_equal(grey_images[names.index("g_photo.jpg"), ..., 0], luma)


def features_check_webp() -> bool:
    from PIL import features

    return bool(features.check("webp"))


def test_non_square_crop_pad_and_resize_filters(tmp_path):
    wide = _rgb(10, 20)  # H 10, W 20
    (tmp_path / "w").mkdir()
    Image.fromarray(wide).save(tmp_path / "w" / "wide.png")
    prepare_images(tmp_path / "w", "crop", data_dir=tmp_path / "d", workers=1)
    np.testing.assert_array_equal(read_set("crop", tmp_path / "d")[0][0], wide[:, 5:15])
    prepare_images(tmp_path / "w", "pad", data_dir=tmp_path / "d", crop="none", workers=1)
    padded = read_set("pad", tmp_path / "d")[0][0]
    np.testing.assert_array_equal(padded[5:15], wide)
    assert not padded[:5].any() and not padded[15:].any()  # black background
    # shrinking 32 -> 16 is the BOX filter: 2x2 block means (Pillow's fixed point: within 1)
    big = _rgb(32, 32)
    (tmp_path / "b").mkdir()
    Image.fromarray(big).save(tmp_path / "b" / "big.png")
    prepare_images(tmp_path / "b", "shrunk", data_dir=tmp_path / "d", resolution=16, workers=1)
    shrunk = read_set("shrunk", tmp_path / "d")[0][0].astype(float)
    block_mean = big.reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))
    assert np.abs(shrunk - block_mean).max() <= 1
    # enlarging 32 -> 48 is Lanczos: equal to Pillow's LANCZOS, unlike BOX or bilinear
    prepare_images(tmp_path / "b", "grown", data_dir=tmp_path / "d", resolution=48, workers=1)
    grown = read_set("grown", tmp_path / "d")[0][0]
    pil = Image.fromarray(big)
    np.testing.assert_array_equal(grown, np.asarray(pil.resize((48, 48), Image.LANCZOS)))
    assert not np.array_equal(grown, np.asarray(pil.resize((48, 48), Image.BILINEAR)))


def _corrupt_folder(root):
    root.mkdir()
    for i in range(3):
        Image.fromarray(_rgb(8, 8)).save(root / f"ok{i}.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    png = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(png, format="PNG")
    (root / "truncated.png").write_bytes(png.getvalue()[:200])
    return root


def test_corrupt_files_skipped_counted_named_or_strict(tmp_path):
    root = _corrupt_folder(tmp_path / "c")
    out = prepare_images(root, "corrupt", data_dir=tmp_path / "d", workers=1)
    assert out.num_examples == 3 and out.num_skipped == 2
    summary = out.summary()
    assert "3 images written, 2 skipped" in summary
    assert "broken.jpg" in summary and "truncated.png" in summary
    with pytest.raises(DataError, match="broken.jpg.*--strict"):
        prepare_images(root, "corrupt_strict", data_dir=tmp_path / "d", strict=True, workers=1)
    assert sorted(os.listdir(tmp_path / "d")) == ["corrupt"]  # nothing half-written


def test_zip_equals_folder_and_two_workers_write_identical_bytes(class_folder, tmp_path):
    root, _ = class_folder
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as z:  # members in reverse order: sorting must not care
        for path in sorted(root.rglob("*"), reverse=True):
            z.write(path, path.relative_to(root).as_posix())
        z.writestr("__MACOSX/._junk.png", b"junk")
    zipped_folder = tmp_path / "folder.zip"  # `zip -r folder.zip src/`: one top-level folder
    with zipfile.ZipFile(zipped_folder, "w") as z:
        for path in sorted(root.rglob("*")):
            z.write(path, path.relative_to(root.parent).as_posix())
    one = prepare_images(root, "folder1", data_dir=tmp_path / "d", labels="folders", workers=1)
    two = prepare_images(root, "folder2", data_dir=tmp_path / "e", labels="folders", workers=2)
    zipped = prepare_images(archive, "zipped", data_dir=tmp_path / "d", labels="folders",
                            workers=1)
    inside = prepare_images(zipped_folder, "zipped_folder", data_dir=tmp_path / "d",
                            labels="folders", workers=1)
    assert inside.class_names == ["apple", "zebra"]
    assert one.content_sha256 == two.content_sha256 == zipped.content_sha256 == \
        inside.content_sha256
    a, b = (sorted(os.listdir(p.path)) for p in (one, two))
    assert [n.replace("folder1", "x") for n in a] == [n.replace("folder2", "x") for n in b]
    shard = "-train.array_record-00000-of-00001"
    assert (open(os.path.join(one.path, "folder1" + shard), "rb").read()
            == open(os.path.join(two.path, "folder2" + shard), "rb").read())  # byte-identical
    images1, labels1, _, _ = read_set("folder1", tmp_path / "d")
    images_z, labels_z, _, _ = read_set("zipped", tmp_path / "d")
    np.testing.assert_array_equal(images1, images_z)
    np.testing.assert_array_equal(labels1, labels_z)


def test_arrays_npz_float_with_labels_and_npy_grey(tmp_path):
    x = RNG.random((6, 8, 8, 3))
    y = np.array([2, 0, 1, 2, 0, 1])
    np.savez(tmp_path / "a.npz", x=x, y=y)
    out = prepare_images(tmp_path / "a.npz", "arr", data_dir=tmp_path / "d", workers=1)
    images, labels, _, builder = read_set("arr", tmp_path / "d")
    np.testing.assert_array_equal(images, np.rint(x * 255))
    np.testing.assert_array_equal(labels, y)
    assert builder.info.features["label"].names == ["0", "1", "2"] and out.num_examples == 6
    grey = RNG.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "g.npy", grey)
    prepare_images(tmp_path / "g.npy", "arr_grey", data_dir=tmp_path / "d", channels=1,
                   workers=1)
    images, labels, _, _ = read_set("arr_grey", tmp_path / "d")
    np.testing.assert_array_equal(images[..., 0], grey)
    assert labels is None


def test_interrupted_preparation_leaves_nothing(class_folder, tmp_path, monkeypatch):
    root, _ = class_folder
    calls = []

    def interrupt(pixels):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return b"png"

    monkeypatch.setattr(image_decode, "encode_png", interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare_images(root, "cut", data_dir=tmp_path / "d", workers=1)
    assert os.listdir(tmp_path / "d") == []


def _crash(*args):
    os._exit(3)  # a worker dying (out of memory, a decoder crash)


def test_dead_worker_is_an_io_error_exit_1(class_folder, tmp_path, monkeypatch, capsys):
    root, _ = class_folder
    monkeypatch.setattr(image_decode, "decode_files", _crash)
    assert cli.main(["prepare", str(root), "--name", "dead", "--data_dir", str(tmp_path / "d"),
                     "--workers", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jaxgan prepare: I/O error, nothing was written: a decoding worker "
                              "died"), err
    assert os.listdir(tmp_path / "d") == []


def _folder(tmp_path, files):
    root = tmp_path / "in"
    root.mkdir(exist_ok=True)
    for rel, size in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if size is None:
            (root / rel).mkdir(exist_ok=True)
        elif size == 0:
            (root / rel).write_bytes(b"garbage")
        else:
            Image.fromarray(_rgb(size, size)).save(root / rel)
    return root


BAD_INPUTS = [
    ("missing", lambda t: t / "nope", [], "does not exist"),
    ("empty folder", lambda t: _folder(t, {"sub": None}), [], "no image files"),
    ("no readable image", lambda t: _folder(t, {"a.png": 0, "b.jpg": 0}), [],
     "no readable image"),
    ("sizes differ", lambda t: _folder(t, {"a.png": 8, "b.png": 12}), [], "--resolution"),
    ("empty class folder", lambda t: _folder(t, {"cat/a.png": 8, "dog": None}),
     ["--labels", "folders"], "class folder 'dog'"),
    ("loose image", lambda t: _folder(t, {"cat/a.png": 8, "b.png": 8}),
     ["--labels", "folders"], "directly in"),
    ("catalog name", lambda t: _folder(t, {"a.png": 8}), ["--name", "mnist"], "TFDS catalog"),
    ("bad name", lambda t: _folder(t, {"a.png": 8}), ["--name", "My-Set"], "lower-case"),
    ("not an image source", lambda t: (t / "f.txt", (t / "f.txt").write_text("x"))[0], [],
     "neither a .zip"),
    ("float array out of range", lambda t: (t / "x.npy", np.save(t / "x.npy",
                                                               np.full((2, 4, 4), 2.0)))[0],
     [], r"outside \[0, 1\]"),
]


@pytest.mark.parametrize("what, make, extra, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, what, make, extra, message):
    source = make(tmp_path)
    data_dir = tmp_path / "d"
    args = ["prepare", str(source), "--name", "mine", "--data_dir", str(data_dir),
            "--workers", "1", *extra]
    if "--name" in extra:
        args[3:5] = []
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error" in line]  # besides, at most the progress line
    assert len(errors) == 1 and err[-1].startswith("jaxgan prepare: error:"), err
    assert len(err) == 1 or err[0].startswith("prepare mine: ["), err
    assert re.search(message, err[-1]), err[-1]
    assert not data_dir.exists() or os.listdir(data_dir) == []


def test_existing_name_needs_overwrite_and_unwritable_data_dir(tmp_path, capsys):
    source = _folder(tmp_path, {"a.png": 8})
    args = ["prepare", str(source), "--name", "mine", "--data_dir", str(tmp_path / "d"),
            "--workers", "1"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert first.startswith("prepared mine: 1 images written, 0 skipped")
    assert cli.main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    Image.fromarray(_rgb(8, 8)).save(source / "b.png")
    assert cli.main([*args, "--overwrite"]) == 0
    assert "2 images written" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "d")) == ["mine"]  # the old set and temp folders gone
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["prepare", str(source), "--name", "x", "--data_dir",
                     str(blocker / "sub")]) == 2
    assert "cannot write to data_dir" in capsys.readouterr().err


def test_prepare_help_names_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["prepare", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ["SOURCE", "--name", "--data_dir", "--resolution", "--channels", "--crop",
                   "--labels", "--background", "--workers", "--strict", "--overwrite", "LANCZOS",
                   "jaxgan train --config.dataset=NAME"]:
        assert option in text, option
