"""Experiment files, dotted overrides and config validation (jaxgan.training.run_config)."""
from __future__ import annotations

import pathlib

import pytest

from jaxgan.config import base_config
from jaxgan.core.losses import LOSSES
from jaxgan.training.run_config import (ConfigError, all_keys, apply_override,
                                        available_experiments, load_experiment, parse_value,
                                        validate_config)

EXPERIMENTS = pathlib.Path(__file__).resolve().parent.parent / "experiments"
SHIPPED = ["dcgan_celeba64", "dcgan_cifar10", "dcgan_digits", "dcgan_mnist", "grid25", "ring8",
           "wgan_gp_cifar10", "dcgan_digits_unconditional"]


def test_every_shipped_experiment_loads_and_validates():
    assert set(SHIPPED) <= set(available_experiments())
    for name in SHIPPED:
        config = validate_config(load_experiment(str(EXPERIMENTS / f"{name}.py")))
        assert set(config.keys()) == set(base_config().keys()), name


def test_image_experiments_have_the_published_hyperparameters():
    """DCGAN (Radford et al. 2015) and WGAN-GP's gan_cifar.py (Gulrajani et al. 2017)."""
    for name, (dataset, resolution, channels) in {
            "dcgan_mnist": ("mnist", 32, 1), "dcgan_cifar10": ("cifar10", 32, 3),
            "dcgan_celeba64": ("celeb_a", 64, 3)}.items():
        c = load_experiment(name)
        assert (c.dataset, c.resolution, c.channels) == (dataset, resolution, channels)
        assert (c.batch_size, c.optimizer, c.g_lr, c.d_lr, c.b1) == (128, "adam", 2e-4, 2e-4, 0.5)
        assert (c.model, c.loss, c.d_norm, c.n_critic) == ("dcgan", "non_saturating", "batch", 1)
    c = load_experiment("wgan_gp_cifar10")
    assert (c.penalty, c.penalty_weight, c.n_critic, c.batch_size) == ("wgan_gp", 10.0, 5, 64)
    assert (c.g_lr, c.d_lr, c.b1, c.b2, c.d_norm) == (1e-4, 1e-4, 0.5, 0.9, "layer")


def test_pacgan_preset_has_the_pacgan_setup_and_toy_experiments_the_toy_preset():
    from jaxgan.config import presets

    for name in ("ring8", "grid25"):
        c = presets.pacgan_mixture(name)
        assert (c.dataset, c.model, c.latent_dim, c.batch_size, c.g_lr, c.d_lr, c.b1) == \
            (name, "mlp", 2, 100, 1e-4, 1e-4, 0.8)
        assert tuple(c.mlp_g_hidden) == (400,) * 4 and c.mlp_g_batch_norm
        assert tuple(c.mlp_d_hidden) == (200,) * 3 and c.mlp_d_activation == "maxout"
        # the shipped experiments: the small nets that reach PacGAN's table on a CPU budget
        assert load_experiment(name).to_dict() == presets.toy_mixture(name, 160_000).to_dict()


@pytest.mark.parametrize("text, like, expected", [
    ("5", 1, 5), ("-3", 1, -3), ("1e-4", 0.1, 1e-4), ("2", 0.5, 2.0), ("hinge", "x", "hinge"),
    ("true", False, True), ("No", True, False), ("0", True, False),
    ("400,400", (1, 2), (400, 400)), ("(7,)", (1,), (7,)), ("[3, 4, 5]", (1,), (3, 4, 5)),
    ("9", (1, 2), (9,)),
])
def test_parse_value_keeps_the_type(text, like, expected):
    value = parse_value("k", text, like)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text, like, message", [
    ("1.5", 1, "config.k expects an integer, got '1.5'"),
    ("fast", 0.1, "config.k expects a number, got 'fast'"),
    ("maybe", True, "config.k expects true or false, got 'maybe'"),
    ("4,x", (1, 2), "config.k expects a comma-separated list like 1,2, got '4,x'"),
    ("4,1.5", (1, 2), "config.k expects an integer, got '1.5'"),
])
def test_parse_value_rejects_the_wrong_type(text, like, message):
    with pytest.raises(ConfigError) as info:
        parse_value("k", text, like)
    assert str(info.value) == message


def test_unknown_key_suggests_close_keys_and_lists_all():
    config = base_config()
    with pytest.raises(ConfigError) as info:
        apply_override(config, "g_lrr", "1")
    message = str(info.value)
    assert message.startswith("unknown config key 'g_lrr'; did you mean g_lr")
    first_keys = ", ".join(sorted(config.keys())[:3])  # the list starts with the sorted keys
    assert f"valid keys: {first_keys}" in message and "\n" not in message


@pytest.mark.parametrize("name,expected", [("learning_rate", "did you mean g_lr or d_lr"),
                                           ("beta1", "did you mean b1"),
                                           ("z_dim", "did you mean latent_dim"),
                                           ("n_dis", "did you mean n_critic")])
def test_unknown_key_from_another_framework_points_at_the_jaxgan_key(name, expected):
    with pytest.raises(ConfigError) as info:
        apply_override(base_config(), name, "1")
    assert str(info.value).startswith(f"unknown config key {name!r}; {expected}")


def test_synonyms_point_only_at_keys_that_exist():
    from jaxgan.training.run_config import SYNONYMS
    keys = set(all_keys(base_config()))
    assert {k for targets in SYNONYMS.values() for k in targets} <= keys
    assert not set(SYNONYMS) & keys  # a synonym never shadows a real key


def test_override_sets_a_typed_value():
    config = base_config()
    apply_override(config, "steps", "123")
    apply_override(config, "g_lr", "3e-4")
    apply_override(config, "loss", "hinge")
    assert (config.steps, config.g_lr, config.loss) == (123, 3e-4, "hinge")


@pytest.mark.parametrize("key, value, message", [
    ("steps", 0, "config.steps must be an integer > 0, got 0"),
    ("batch_size", -4, "config.batch_size must be an integer > 0, got -4"),
    ("d_lr", -1e-3, "config.d_lr must be a number > 0, got -0.001"),
    ("b2", 1.0, "config.b2 must be a number in [0, 1), got 1.0"),
    ("resolution", 48, "config.resolution must be a power of two >= 8 (8, 16, 32, 64), got 48"),
    ("resolution", 4, "config.resolution must be a power of two >= 8 (8, 16, 32, 64), got 4"),
    ("channels", 2, "config.channels must be 1 (grey) or 3 (RGB), got 2"),
    ("real_label", 0.0, "config.real_label must be a number in (0, 1], got 0.0"),
    ("keep_checkpoints", 0, "config.keep_checkpoints must be an integer >= 1, got 0"),
    ("mlp_g_hidden", (400, 0), "config.mlp_g_hidden must be positive widths, got (400, 0)"),
    ("d_norm", "group", "unknown discriminator norm 'group' (config.d_norm); valid choices: "
                        "batch, layer, none"),
    ("optimizer", "sgd", "unknown optimizer 'sgd' (config.optimizer); valid choices: adam, "
                         "rmsprop"),
    ("parallel", "mpi", "unknown parallel mode 'mpi' (config.parallel); valid choices: auto, jit"),
])
def test_validate_config_names_the_field_and_the_valid_values(key, value, message):
    config = base_config()
    config[key] = value
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert str(info.value).startswith(message)


def test_every_loss_is_selectable():
    for name in LOSSES:
        config = base_config()
        apply_override(config, "loss", name)
        assert validate_config(config).loss == name


def test_broken_experiment_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def get_config():\n    return {'steps': 1}\n")
    with pytest.raises(ConfigError, match="must return an ml_collections.ConfigDict, got dict"):
        load_experiment(str(bad))
    bad.write_text("import no_such_module_xyz\n")
    with pytest.raises(ConfigError, match="ModuleNotFoundError: No module named "
                                          "'no_such_module_xyz'"):
        load_experiment(str(bad))


def test_apply_assignments_parses_key_value_strings_with_the_field_types():
    from jaxgan.training.run_config import apply_assignments

    c = apply_assignments(base_config(), ["steps=7", "g_lr=1", "mlp_d_hidden=(8,8)",
                                          "d_spectral_norm=true", "loss=hinge"])
    assert (c.steps, c.g_lr, tuple(c.mlp_d_hidden), c.d_spectral_norm, c.loss) == \
        (7, 1.0, (8, 8), True, "hinge")
    assert isinstance(c.g_lr, float)
    for bad, message in (("steps", "expected KEY=VALUE"), ("=3", "expected KEY=VALUE"),
                         ("stepz=3", "unknown config key 'stepz'"),
                         ("steps=many", "expects an integer")):
        with pytest.raises(ConfigError, match=message):
            apply_assignments(base_config(), [bad])
