"""`digits_photo_bright` (jaxgan.data.digits_photo_bright): every stroke brighter than the
background by the documented margin, deterministic, the digits' labels, reachable by name, and
its shipped digit classifier (jaxgan.metrics.digits_photo_classifier)."""
import numpy as np
import pytest

from jaxgan import data
from jaxgan.data import DataError, digits_photo, digits_photo_bright, digits_raw, photo_digits

R = 8  # the cheapest resolution


def test_strokes_are_brighter_than_the_background_by_the_stated_margin():
    images, _ = digits_photo_bright.load_digits_photo_bright_uint8(R)
    digits, _ = digits_raw.load_digits_uint8(R)
    crops = digits_photo.photo_crops(len(digits), R)  # the crops `digits_photo` uses
    d = np.broadcast_to(digits.astype(np.float64) / 255, images.shape)
    lift = images.astype(np.float64) - crops / 2  # documented: 127.5·d (± rounding)
    np.testing.assert_allclose(lift, digits_photo_bright.STROKE_LIFT * d, atol=0.5 + 1e-9)
    # every full stroke pixel is at least as bright as every background pixel of its image
    grey = images.astype(np.float64).mean(axis=-1)
    on, off = digits[..., 0] == 255, digits[..., 0] == 0
    for img, s, b in zip(grey, on, off):
        if s.any() and b.any():
            assert img[s].min() >= img[b].max() - 1.0
    # MNIST-M's blend does not have this property (why the new set exists)
    mnistm = digits_photo.load_digits_photo_uint8(R)[0].astype(np.float64).mean(axis=-1)
    dark_strokes = [img[s].mean() < img[b].mean() for img, s, b in zip(mnistm, on, off)
                    if s.any() and b.any()]
    assert np.mean(dark_strokes) > 0.2


def test_deterministic_and_labelled_like_the_digits():
    images, labels = digits_photo_bright.load_digits_photo_bright_uint8(R)
    digits_photo_bright.load_digits_photo_bright_uint8.cache_clear()
    again, _ = digits_photo_bright.load_digits_photo_bright_uint8(R)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, digits_raw.load_digits_uint8(R)[1])
    assert images.shape == (1797, R, R, 3) and images.dtype == np.uint8
    assert not images.flags.writeable


def test_registered_by_name_and_bad_resolution_is_one_clear_error():
    name = digits_photo_bright.NAME
    assert name in photo_digits.LOADERS and data.dataset_kind(name) == "embedded"
    spec = data.get_spec(name, resolution=R)
    assert (spec.shape, spec.num_examples, spec.num_classes) == ((R, R, 3), 1797, 10)
    images, labels = data.load_images(name, resolution=R)
    expected, expected_labels = digits_photo_bright.load_digits_photo_bright_uint8(R)
    np.testing.assert_allclose(images, expected / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, expected_labels)
    with pytest.raises(DataError, match=r"digits_photo_bright resolution must be one of"):
        data.get_spec(name, resolution=12)


def test_shipped_digit_classifier_reads_held_out_images():
    from jaxgan.metrics import digits_photo_classifier as dpc

    classifier = dpc.load_photo_digit_classifier(dataset=digits_photo_bright.NAME)
    assert dpc.held_out_accuracy(classifier, 16, digits_photo_bright.NAME) >= 0.9
    with pytest.raises(ValueError, match="no digit classifier for data set 'digits'"):
        dpc.load_photo_digit_classifier(dataset="digits")
