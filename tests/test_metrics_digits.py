"""The shipped digits classifier and `evaluate_images` with it."""
import hashlib

import jax
import numpy as np
import pytest

from jaxgan.data.digits_raw import load_digits_uint8
from jaxgan.metrics import digits_classifier as dc
from jaxgan.metrics import evaluate_images
from jaxgan.metrics.fid import fid_from_features


@pytest.fixture(scope="module")
def classifier():
    return dc.load_classifier()


def test_held_out_split_is_fixed_disjoint_and_complete():
    train, held = dc.held_out_split()
    assert len(held) == 359 and len(train) == 1797 - 359
    assert not set(train) & set(held) and set(train) | set(held) == set(range(1797))
    np.testing.assert_array_equal(held, dc.held_out_split()[1])


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_shipped_weights_reach_97_percent_on_the_held_out_split(classifier, resolution):
    images, labels = load_digits_uint8(resolution)
    _, held = dc.held_out_split()
    floats = images[held].astype(np.float32) / 127.5 - 1.0   # what the GAN sees
    accuracy = (classifier.probabilities(floats).argmax(1) == labels[held]).mean()
    assert accuracy >= 0.97


def test_features_probabilities_and_channel_handling(classifier):
    images = load_digits_uint8(16)[0][:40].astype(np.float32) / 127.5 - 1.0
    feats, probs = classifier.features_and_probabilities(images, batch_size=16)
    assert feats.shape == (40, dc.FEATURE_DIM) and probs.shape == (40, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    rgb = classifier.features(np.repeat(images, 3, axis=-1))
    np.testing.assert_allclose(rgb, feats, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        classifier.features(np.zeros((2, 16, 16, 2), np.float32))


def test_missing_or_corrupt_weights_give_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="train_digits_classifier"):
        dc.load_classifier(tmp_path / "absent.msgpack")
    bad = tmp_path / "bad.msgpack"
    bad.write_bytes(b"\x00not msgpack at all")
    with pytest.raises(ValueError, match="train_digits_classifier"):
        dc.load_classifier(bad)


def test_evaluate_images_real_halves_against_a_collapsed_generator(classifier):
    images, labels = load_digits_uint8(32)
    a, b = dc.two_halves()
    real, fake = images[a], images[b]
    result = evaluate_images(fake, real, "digits", reference_split="digits:two_halves[0]",
                             kid_num_subsets=10, kid_subset_size=300)
    feats = classifier.features(images.astype(np.float32) / 127.5 - 1.0)
    assert result["fid"] == pytest.approx(fid_from_features(feats[a], feats[b]), rel=1e-6)
    assert result["fid"] < 1.0 and result["class_coverage"]["classes_covered"] == 10
    proto = result["protocol"]
    assert proto["num_real"] == len(a) and proto["num_fake"] == len(b)
    assert proto["reference_split"] == "digits:two_halves[0]" and proto["kid_subset_size"] == 300
    assert proto["weights_sha256"] == hashlib.sha256(dc.WEIGHTS_PATH.read_bytes()).hexdigest()
    assert proto["feature_extractor"] == "digits_classifier" and "bilinear" in proto["resize_filter"]

    zeros = images[labels == 0].astype(np.float32) / 127.5 - 1.0

    def generate_fn(key, n):   # a mode-collapsed "generator": only zeros
        return zeros[np.asarray(jax.random.choice(key, len(zeros), (n,)))]

    collapsed = evaluate_images(generate_fn, real, "digits", num_fake=120, batch_size=50,
                                allow_rank_deficient=False, kid_num_subsets=10, kid_subset_size=100)
    cov = collapsed["class_coverage"]
    assert cov["classes_covered"] == 1 and cov["kl_to_uniform"] == pytest.approx(np.log(10))
    assert collapsed["fid"] > 20 * result["fid"] and collapsed["recall"] < 0.2
    assert collapsed["protocol"]["num_fake"] == 120 and collapsed["protocol"]["fake_seed"] == 0
    with pytest.raises(ValueError, match="unknown feature extractor"):
        evaluate_images(fake, real, "lenet")
