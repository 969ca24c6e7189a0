"""Tests of the data pipeline: digits through the project's TFDS builder, resumable deterministic
iterators, multi-process sharding, the unprepared-data message, toy mixture statistics."""
from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan import data
from jaxgan.data import convert, digits_raw, prepare, tfds_source
from jaxgan.data.digits_builder import DIGITS_TFDS_NAME


class NetworkAttempt(AssertionError):
    pass


@pytest.fixture(scope="module")
def no_network():
    """Any attempt to open a connection or resolve a host fails at once (no hanging)."""
    def refuse(*args, **kwargs):
        raise NetworkAttempt("the data pipeline tried to use the network")

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket.socket, "connect_ex", refuse)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(socket, "getaddrinfo", refuse)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory, no_network):
    """A fresh TFDS data_dir in which the digits are built, offline, on first use."""
    return os.fspath(tmp_path_factory.mktemp("tfds"))


def _iterator(name, batch_size, seed, **kwargs):
    kwargs.setdefault("process_index", 0)
    kwargs.setdefault("process_count", 1)
    return data.make_iterator(name, batch_size=batch_size, seed=seed, **kwargs)


def _sorted_rows(images_u8: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rows (label, pixels...) in lexicographic order: compares two data sets as multisets."""
    rows = np.concatenate([labels[:, None].astype(np.int64),
                           images_u8.reshape(len(images_u8), -1).astype(np.int64)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    u = (x + 1.0) * 127.5
    np.testing.assert_allclose(u, np.rint(u), atol=1e-4)  # exactly u8 / 127.5 - 1
    return np.rint(u).astype(np.uint8)


# --------------------------------------------------------------------------- digits via TFDS


def test_digits_built_through_tfds_builder_and_read_back(digits_dir):
    spec = data.get_spec("digits", data_dir=digits_dir)  # builds from scratch, no network
    assert spec == data.DatasetSpec("digits", "image", (32, 32, 1), 10, 1797)

    builder = tfds.builder(DIGITS_TFDS_NAME, config="32x32", data_dir=digits_dir)
    assert builder.is_prepared()
    assert builder.info.file_format == tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    assert builder.info.splits["train"].num_examples == 1797
    assert any(".array_record" in f for f in os.listdir(builder.data_path))

    # One global batch of 1797 = one whole epoch.
    batch = next(_iterator("digits", 1797, seed=3, data_dir=digits_dir))
    x, labels = batch["x"], batch["label"]
    assert x.shape == (1797, 32, 32, 1) and x.dtype == np.float32 and labels.dtype == np.int32
    assert x.min() == -1.0 and x.max() == 1.0
    assert set(labels.tolist()) == set(range(10))
    ref_images, ref_labels = digits_raw.load_digits_uint8(32)
    np.testing.assert_array_equal(_sorted_rows(_to_uint8(x), labels),
                                  _sorted_rows(ref_images, ref_labels))


def test_digits_order_is_a_deterministic_per_seed_permutation(digits_dir):
    def epochs(seed, count):
        it = _iterator("digits", 599, seed, data_dir=digits_dir)  # 1797 = 3 x 599: 3 per epoch
        out = []
        for _ in range(count):
            batches = [next(it) for _ in range(3)]
            out.append((np.concatenate([b["x"] for b in batches]),
                        np.concatenate([b["label"] for b in batches])))
        return out

    (x0, y0), (x0_next, y0_next) = epochs(0, 2)
    [(x0_again, y0_again)] = epochs(0, 1)
    [(x1, y1)] = epochs(1, 1)
    np.testing.assert_array_equal(x0, x0_again)
    np.testing.assert_array_equal(y0, y0_again)
    assert not np.array_equal(y0, y1) and not np.array_equal(y0, y0_next)
    ref = _sorted_rows(*digits_raw.load_digits_uint8(32))
    for x, y in [(x0, y0), (x1, y1), (x0_next, y0_next)]:  # every epoch is the whole set once
        np.testing.assert_array_equal(_sorted_rows(_to_uint8(x), y), ref)


def test_reading_per_batch_from_the_data_source_equals_reading_into_memory(digits_dir):
    in_memory = _iterator("digits", 50, 6, data_dir=digits_dir, in_memory=True)
    per_batch = _iterator("digits", 50, 6, data_dir=digits_dir, in_memory=False)
    for _ in range(3):
        want, got = next(in_memory), next(per_batch)
        np.testing.assert_array_equal(got["x"], want["x"])
        np.testing.assert_array_equal(got["label"], want["label"])


def test_default_data_dir_follows_tfds_convention(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", os.fspath(tmp_path))
    assert tfds_source.resolve_data_dir(None) == os.fspath(tmp_path)
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert tfds_source.resolve_data_dir(None) == os.path.expanduser("~/tensorflow_datasets")
    assert tfds_source.resolve_data_dir("/x/y") == "/x/y"


def test_digits_resolution_and_channels(digits_dir):
    grey = next(_iterator("digits", 32, 5, data_dir=digits_dir, resolution=16))
    rgb = next(_iterator("digits", 32, 5, data_dir=digits_dir, resolution=16, channels=3))
    assert grey["x"].shape == (32, 16, 16, 1) and rgb["x"].shape == (32, 16, 16, 3)
    np.testing.assert_array_equal(rgb["x"], np.repeat(grey["x"], 3, axis=-1))
    np.testing.assert_array_equal(rgb["label"], grey["label"])
    ref_images, ref_labels = digits_raw.load_digits_uint8(16)
    rows = _sorted_rows(ref_images, ref_labels)
    for row in _sorted_rows(_to_uint8(grey["x"]), grey["label"]):
        assert (rows == row).all(axis=1).any()  # each example is a real 16x16 digit


def test_prepare_command_line_builds_digits(digits_dir):
    assert prepare.main(["digits", "--data_dir", digits_dir]) == 0
    for resolution in digits_raw.ALLOWED_RESOLUTIONS:
        builder = tfds.builder(DIGITS_TFDS_NAME, config=f"{resolution}x{resolution}",
                               data_dir=digits_dir)
        assert builder.is_prepared()


# --------------------------------------------------------------------------- resume, sharding


@pytest.mark.parametrize("name", ["digits", "grid25"])
def test_resume_from_saved_state_gives_the_uninterrupted_sequence(name, digits_dir):
    kwargs = {"data_dir": digits_dir} if name == "digits" else {}
    reference = _iterator(name, 64, 11, **kwargs)
    expected = [next(reference) for _ in range(40)]  # digits: 28 batches per epoch, crosses one

    interrupted = _iterator(name, 64, 11, **kwargs)
    for _ in range(7):
        next(interrupted)
    state = json.loads(json.dumps(interrupted.get_state()))
    assert state == {"seed": 11, "epoch": 0, "position": 7, "batch_size": 64}

    resumed = _iterator(name, 64, 999, **kwargs)  # the seed comes from the state
    resumed.set_state(state)
    for want in expected[7:]:
        got = next(resumed)
        np.testing.assert_array_equal(got["x"], want["x"])
        np.testing.assert_array_equal(got["label"], want["label"])
    if name == "digits":
        assert resumed.get_state() == {"seed": 11, "epoch": 1, "position": 12, "batch_size": 64}


def test_set_state_rejects_a_different_batch_size():
    it = _iterator("ring8", 100, 0)
    with pytest.raises(data.DataError, match="batch_size"):
        it.set_state({"seed": 0, "epoch": 0, "position": 3, "batch_size": 50})


@pytest.mark.parametrize("name", ["digits", "ring8"])
def test_processes_read_their_rows_of_the_global_batch(name, digits_dir):
    kwargs = {"data_dir": digits_dir} if name == "digits" else {}
    whole = _iterator(name, 64, 2, **kwargs)
    shards = [_iterator(name, 64, 2, process_index=p, process_count=4, **kwargs) for p in range(4)]
    for _ in range(3):
        want = next(whole)
        parts = [next(s) for s in shards]
        assert parts[0]["x"].shape[0] == 16
        np.testing.assert_array_equal(np.concatenate([p["x"] for p in parts]), want["x"])
        np.testing.assert_array_equal(np.concatenate([p["label"] for p in parts]), want["label"])


def test_process_defaults_come_from_jax_and_batch_must_divide():
    import jax

    it = data.make_iterator("ring8", batch_size=8, seed=0)
    assert next(it)["x"].shape == (8 // jax.process_count(), 2)
    with pytest.raises(data.DataError, match="multiple of the process count 3"):
        data.make_iterator("ring8", batch_size=8, seed=0, process_index=0, process_count=3)


# --------------------------------------------------------------------------- errors


def test_unprepared_catalog_set_gives_one_line_how_to_without_network(tmp_path, no_network):
    empty = os.fspath(tmp_path / "empty_tfds")
    with pytest.raises(data.DataError) as err:
        data.make_iterator("mnist", batch_size=64, seed=0, data_dir=empty, process_index=0,
                           process_count=1)
    message = str(err.value)
    assert "\n" not in message
    assert f"python -m jaxgan.data.prepare mnist --data_dir={os.path.abspath(empty)}" in message
    assert "tensorflow-cpu" in message
    assert not os.path.exists(os.path.join(empty, "mnist", "3.0.1", "dataset_info.json"))


def test_manual_download_set_names_the_manual_dir(tmp_path, no_network):
    with pytest.raises(data.DataError) as err:
        data.get_spec("imagenet2012", data_dir=os.fspath(tmp_path))
    assert "\n" not in str(err.value)
    assert f"--manual_dir={os.path.join(tmp_path, 'downloads', 'manual')}" in str(err.value)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"name": "no_such_data_set"}, "unknown data set 'no_such_data_set'"),
    ({"name": "imdb_reviews"}, "no single image feature"),
    ({"name": "digits", "resolution": 24}, "digits resolution must be one of"),
    ({"name": "digits", "channels": 2}, "channels must be 1"),
    ({"name": "digits", "split": "test"}, "bad split 'test'"),
    ({"name": "ring8", "resolution": 32}, "2-D point data"),
])
def test_bad_requests_raise_one_line_data_errors(kwargs, pattern, digits_dir):
    with pytest.raises(data.DataError, match=pattern) as err:
        data.get_spec(data_dir=digits_dir, **kwargs)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_batch_larger_than_the_data_set_is_an_error(digits_dir):
    with pytest.raises(data.DataError, match="exceeds the 1797 examples"):
        _iterator("digits", 2048, 0, data_dir=digits_dir)


# --------------------------------------------------------------------------- toy mixtures


def _reference_centres(name: str) -> np.ndarray:
    if name == "ring8":  # (cos 2πi/8, sin 2πi/8), i = 0..7
        return np.array([[np.cos(np.pi * i / 4), np.sin(np.pi * i / 4)] for i in range(8)])
    return np.array([[a, b] for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)], float)


@pytest.mark.parametrize("name, num_modes, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_toy_mixture_statistics(name, num_modes, std):
    spec = data.get_spec(name)
    centres = _reference_centres(name)
    assert spec.kind == "points" and spec.shape == (2,) and spec.num_examples is None
    assert spec.num_classes == num_modes and spec.mode_std == std
    np.testing.assert_allclose(spec.mode_centers, centres, atol=1e-12)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + 10 * np.eye(num_modes)
    assert gaps.min() > 0.7  # all modes distinct (the linspace bug would give a 0 gap on the ring)

    it = _iterator(name, 500, 4)
    batches = [next(it) for _ in range(60)]  # 30,000 points
    x = np.concatenate([b["x"] for b in batches]).astype(np.float64)
    labels = np.concatenate([b["label"] for b in batches])
    assert x.dtype == np.float64 and batches[0]["x"].dtype == np.float32
    nearest = np.argmin(np.linalg.norm(x[:, None] - centres[None], axis=-1), axis=1)
    np.testing.assert_array_equal(nearest, labels)  # the label is the mode a point came from
    counts = np.bincount(labels, minlength=num_modes)
    expected = len(x) / num_modes
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    for k in range(num_modes):
        points = x[labels == k]
        n = len(points)
        np.testing.assert_array_less(np.abs(points.mean(0) - centres[k]), 5 * std / np.sqrt(n))
        # sample std of n normals: relative standard error about 1/sqrt(2n)
        np.testing.assert_array_less(np.abs(points.std(0, ddof=1) / std - 1), 5 / np.sqrt(2 * n))


def test_toy_streams_are_deterministic_and_seed_dependent():
    a, b, c = (next(_iterator("ring8", 100, s)) for s in (7, 7, 8))
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], c["x"])


def test_sample_real():
    points = data.sample_real("grid25", 1000, seed=1)
    np.testing.assert_array_equal(points, data.sample_real("grid25", 1000, seed=1))
    assert points.shape == (1000, 2) and points.dtype == np.float32
    assert not np.array_equal(points[:100], next(_iterator("grid25", 100, 1))["x"])


def test_sample_real_images_are_distinct_real_examples(digits_dir):
    x = data.sample_real("digits", 1797, seed=0, data_dir=digits_dir)
    assert x.shape == (1797, 32, 32, 1)
    ref_images, _ = digits_raw.load_digits_uint8(32)
    flat = lambda u: np.sort(u.reshape(len(u), -1).view(f"V{32 * 32}").ravel())  # noqa: E731
    np.testing.assert_array_equal(flat(_to_uint8(x)), flat(ref_images))
    with pytest.raises(data.DataError, match="only 1797"):
        data.sample_real("digits", 1798, seed=0, data_dir=digits_dir)


# --------------------------------------------------------------------------- conversions


def test_pad_28_to_32_puts_the_image_in_the_middle_of_a_black_frame():
    image = np.random.default_rng(0).integers(1, 256, (28, 28, 1), dtype=np.uint8)
    assert convert.choose_resize_method("auto", (28, 28), 32) == "pad"
    out = convert.convert_images([image], 32, 1, "pad")[0]
    np.testing.assert_array_equal(out[2:30, 2:30], image)
    assert out.sum() == image.astype(np.int64).sum()  # the frame is 0 (-1 in data space)
    np.testing.assert_array_equal(convert.to_unit_range(np.array([0, 255], np.uint8)), [-1, 1])


def test_rgb_to_grey_matches_pil_luminance_and_crop_resize_takes_the_centre():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    grey = convert.convert_images([rgb], None, 1, "resize")[0]
    pil_grey = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.abs(grey[..., 0].astype(int) - pil_grey).max() <= 1  # PIL rounds in fixed point
    assert convert.choose_resize_method("auto", (40, 30), 16) == "resize"
    out = convert.convert_images([rgb], 16, 3, "resize")[0]
    centre = Image.fromarray(rgb[5:35]).resize((16, 16), Image.BILINEAR)
    np.testing.assert_array_equal(out, np.asarray(centre))


def test_bad_resize_requests_are_data_errors():
    with pytest.raises(data.DataError, match="cannot pad 40x30 images to 16x16"):
        convert.choose_resize_method("pad", (40, 30), 16)
    with pytest.raises(data.DataError, match="unknown resize_method 'bicubic'"):
        convert.choose_resize_method("bicubic", (28, 28), 32)


class NumpyImageDigits(tfds.core.GeneratorBasedBuilder):
    """A real builder that, like mnist/cifar10, hands TFDS numpy images (TF encodes them)."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(
            {"image": tfds.features.Image(shape=(8, 8, 1))}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for index, image in enumerate(digits_raw.load_digits_uint8(8)[0][:4]):
            yield index, {"image": image}


def test_prepare_without_tensorflow_says_what_to_install(tmp_path, no_network, capsys):
    try:
        import tensorflow  # noqa: F401
        pytest.skip("TensorFlow is installed: numpy images can be encoded")
    except ImportError:
        pass
    status = prepare.main(["numpy_image_digits", "--data_dir", os.fspath(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("error: preparing 'numpy_image_digits' needs TensorFlow to encode its images: "
                   "pip install tensorflow-cpu, then run this again")
