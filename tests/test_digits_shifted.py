"""`digits_shifted` (jaxgan.data.digits_shifted): each image is its half-size digit at its offset
on black, the offsets cover the canvas, the set is fixed, and it loads like any data set."""
import numpy as np
import pytest

from jaxgan import data
from jaxgan.data import digits_raw, digits_shifted
from jaxgan.data.classes import ClassSplit
from jaxgan.data.errors import DataError


def test_each_image_is_its_digit_pasted_at_its_offset_on_black():
    images, labels = digits_shifted.load_digits_shifted_uint8(16)
    digits, digit_labels = digits_raw.load_digits_uint8(8)
    offsets = digits_shifted.shifts(len(images), 16)
    assert images.shape == (1797, 16, 16, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, digit_labels)
    for image, digit, (dy, dx) in zip(images, digits, offsets):
        np.testing.assert_array_equal(image[dy:dy + 8, dx:dx + 8], digit)
        assert int(image.sum()) == int(digit.sum())  # nothing else is lit
    # offsets span {0..8} on both axes; the same set every time, read-only
    assert offsets.min() == 0 and offsets.max() == 8 and len(np.unique(offsets[:, 0])) == 9
    np.testing.assert_array_equal(digits_shifted.shifts(1797, 16), offsets)
    assert not images.flags.writeable


def test_loads_with_a_class_split_and_refuses_a_bad_resolution():
    split = ClassSplit(exclude=(7,), seed=0)
    train, train_labels = data.load_images("digits_shifted", resolution=16, class_split=split,
                                           part="train")
    test, test_labels = data.load_images("digits_shifted", resolution=16, class_split=split,
                                         part="test")
    assert train.shape[1:] == (16, 16, 1) and 7 not in set(train_labels.tolist())
    assert (test_labels == 7).sum() == 179 and len(train) + len(test) == 1797
    assert train.min() == -1.0 and train.max() == 1.0  # black background, full-intensity strokes
    rgb, _ = data.load_images("digits_shifted", resolution=16, channels=3)
    np.testing.assert_array_equal(rgb, np.repeat(data.load_images("digits_shifted",
                                                                  resolution=16)[0], 3, -1))
    with pytest.raises(DataError, match="resolution must be one of"):
        data.load_images("digits_shifted", resolution=12)
