"""Resolving a run's config: experiment files, dotted overrides, validation.

The JAX ecosystem convention (flax examples, big_vision): an experiment is a Python file
`experiments/NAME.py` whose `get_config()` returns an `ml_collections.ConfigDict`, and the command
line overrides single fields with `--config.KEY=VALUE`. Values are parsed to the type the field
already has, so `--config.steps=1e3` or `--config.loss=3` fail with one line instead of training on
a silently wrong value. `validate_config` checks ranges and registry names before anything runs.
"""
from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import math
import pathlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ml_collections

from jaxgan.config import OPTIMIZERS, base_config
from jaxgan.config.build import TRAININGS
from jaxgan.core.ada import PIPELINES as ADA_PIPELINES
from jaxgan.core.augment import DIFF_AUGMENT_POLICIES
from jaxgan.core.conditioning import CONDITIONINGS
from jaxgan.core.losses import LOSSES
from jaxgan.core.optim import LR_SCHEDULES
from jaxgan.core.penalties import PENALTIES
from jaxgan.models import MODELS, NORMS
from jaxgan.models.layers import MODEL_CONV_IMPLS
from jaxgan.training.monitors import SIGNS
from jaxgan.training.parallel import PARALLEL_MODES
from jaxgan.training.seeds import SEED_MAPS

DEFAULT_EXPERIMENT = "dcgan_digits"
EXPERIMENTS_DIR = "experiments"
MLP_ACTIVATIONS = ("maxout", "leaky_relu")


class ConfigError(ValueError):
    """A bad experiment file, override or config value; the message is one line with the fix."""


# --- experiment files -----------------------------------------------------------------------------

def experiment_dirs() -> list[pathlib.Path]:
    """Where bare experiment names are looked up: ./experiments, then the source checkout's."""
    here = pathlib.Path.cwd() / EXPERIMENTS_DIR
    checkout = pathlib.Path(__file__).resolve().parents[2] / EXPERIMENTS_DIR  # jaxgan/training/
    return [here] if here.resolve() == checkout.resolve() else [here, checkout]


def available_experiments() -> list[str]:
    """Names of the experiment files found in `experiment_dirs()`."""
    names = {p.stem for d in experiment_dirs() if d.is_dir() for p in d.glob("*.py")
             if not p.stem.startswith("_")}
    return sorted(names)


def resolve_experiment(spec: str) -> pathlib.Path:
    """An experiment file from a path (`experiments/ring8.py`) or a bare name (`ring8`)."""
    path = pathlib.Path(spec).expanduser()
    if path.is_file():
        return path
    if path.suffix != ".py" and len(path.parts) == 1:
        for directory in experiment_dirs():
            candidate = directory / f"{spec}.py"
            if candidate.is_file():
                return candidate
    raise ConfigError(f"experiment config {spec!r} not found; give a file path or one of: "
                      f"{', '.join(available_experiments()) or '(no experiments/ directory here)'}")


def load_experiment(spec: str) -> ml_collections.ConfigDict:
    """`get_config()` of the experiment file named by `spec` (path or bare name)."""
    path = resolve_experiment(spec)
    module_spec = importlib.util.spec_from_file_location(f"jaxgan_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # a broken user file: say which and why, in one line
        raise ConfigError(f"cannot load experiment config {str(path)!r}: "
                          f"{type(err).__name__}: {err}") from err
    if not callable(getattr(module, "get_config", None)):
        raise ConfigError(f"experiment config {str(path)!r} has no get_config() function")
    try:
        config = module.get_config()
    except Exception as err:  # the user's code raised: say where, in one line
        raise ConfigError(f"get_config() of experiment config {str(path)!r} raised "
                          f"{type(err).__name__}: {err}; fix that file") from err
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"get_config() of {str(path)!r} must return an "
                          f"ml_collections.ConfigDict, got {type(config).__name__}")
    return config


def config_from_dict(values: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """A ConfigDict from a saved resolved config (config.json): base_config() updated with it, lists
    turned back into tuples (JSON has no tuples)."""
    config = base_config()
    for key, value in values.items():
        config[key] = _from_json(value)
    return config


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    if isinstance(value, dict):
        return ml_collections.ConfigDict({k: _from_json(v) for k, v in value.items()})
    return value


def config_to_json(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The resolved config as a JSON-ready dict (tuples become lists)."""
    return json.loads(json.dumps(config.to_dict()))


# --- dotted overrides -----------------------------------------------------------------------------

def all_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """Dotted names of every leaf field."""
    keys = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict):
            keys.extend(all_keys(value, name + "."))
        else:
            keys.append(name)
    return sorted(keys)


# Names other GAN code bases (DCGAN-tensorflow, pytorch examples, StudioGAN, stylegan2-ada-pytorch)
# use for settings jaxgan spells differently: an unknown key that is one of these is pointed at the
# jaxgan keys, before the spelling-based guesses.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "learning_rate": ("g_lr", "d_lr"), "lr": ("g_lr", "d_lr"), "glr": ("g_lr",),
    "dlr": ("d_lr",), "beta1": ("b1",), "beta2": ("b2",),
    "z_dim": ("latent_dim",), "nz": ("latent_dim",), "latent_size": ("latent_dim",),
    "num_steps": ("steps",), "max_steps": ("steps",), "total_steps": ("steps",),
    "iterations": ("steps",), "num_iterations": ("steps",),
    "batch": ("batch_size",), "bs": ("batch_size",),
    "image_size": ("resolution",), "img_size": ("resolution",),
    "ngf": ("g_features",), "ndf": ("d_features",),
    "d_steps": ("n_critic",), "n_dis": ("n_critic",), "d_steps_per_g": ("n_critic",),
    "lambda_gp": ("penalty_weight",), "gp_weight": ("penalty_weight",),
    "gamma": ("r1_gamma",), "r1": ("r1_gamma",), "ema": ("ema_decay",),
    "dtype": ("compute_dtype",), "precision": ("compute_dtype",),
}


def _unknown_key(key: str, config: ml_collections.ConfigDict) -> ConfigError:
    keys = all_keys(config)
    synonyms = [k for k in SYNONYMS.get(key.lower(), ()) if k in keys]
    close = synonyms + [k for k in difflib.get_close_matches(key, keys, n=4, cutoff=0.5)
                        if k not in synonyms]
    hint = (f"did you mean {' or '.join(close)}?" if close else "")
    return ConfigError(f"unknown config key {key!r}; {hint + ' ' if hint else ''}"
                       f"valid keys: {', '.join(keys)}")


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _parse_scalar(key: str, text: str, like: Any) -> Any:
    if isinstance(like, bool):
        lowered = text.strip().lower()
        if lowered in _TRUE + _FALSE:
            return lowered in _TRUE
        raise ConfigError(f"config.{key} expects true or false, got {text!r}")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"config.{key} expects an integer, got {text!r}") from None
    if isinstance(like, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"config.{key} expects a number, got {text!r}") from None
    if isinstance(like, str) or like is None:
        return text
    raise ConfigError(f"config.{key} of type {type(like).__name__} cannot be set from the "
                      f"command line")


def parse_value(key: str, text: str, like: Any) -> Any:
    """`text` parsed to the type of the current value `like` (bool, int, float, str, tuple)."""
    if isinstance(like, (tuple, list)):
        stripped = text.strip()
        if stripped in ("", "()", "[]"):
            return ()
        try:
            parsed = ast.literal_eval(stripped if stripped[0] in "([" else f"({stripped},)")
        except (ValueError, SyntaxError):
            raise ConfigError(f"config.{key} expects a comma-separated list like "
                              f"{','.join(map(str, like)) or '1,2'}, got {text!r}") from None
        if not isinstance(parsed, (tuple, list)):
            parsed = (parsed,)
        element = like[0] if like else None
        return tuple(parse_value(key, str(v), element) if element is not None else v
                     for v in parsed)
    return _parse_scalar(key, text, like)


def apply_override(config: ml_collections.ConfigDict, key: str, text: str) -> None:
    """Sets dotted field `key` of `config` from its command-line text, keeping its type."""
    *parents, leaf = key.split(".")
    node = config
    for part in parents:
        if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
            raise _unknown_key(key, config)
        node = node[part]
    if leaf not in node or isinstance(node[leaf], ml_collections.ConfigDict):
        raise _unknown_key(key, config)
    value = parse_value(key, text, node[leaf])
    try:
        node[leaf] = value
    except TypeError as err:
        raise ConfigError(f"config.{key}: {err}") from None


def apply_overrides(config: ml_collections.ConfigDict, overrides: Iterable[tuple[str, str]]):
    """Applies `(key, text)` pairs in order; returns `config`."""
    for key, text in overrides:
        apply_override(config, key, text)
    return config


def apply_assignments(config: ml_collections.ConfigDict, assignments: Iterable[str]):
    """Applies `KEY=VALUE` strings (the benchmarks' `--set`) in order, as `apply_override` does;
    returns `config`."""
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, got {assignment!r}")
        apply_override(config, key, text)
    return config


# --- validation -----------------------------------------------------------------------------------

def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _is_int(v, low: int) -> bool:
    """An integer (not a bool, not a float) >= low."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_class_list(value) -> bool:
    """'' or comma-separated integers >= 0 (an int alone is one class)."""
    items = [p.strip() for p in str(value).split(",") if p.strip()]
    return not isinstance(value, bool) and all(p.isdigit() for p in items)


# key -> (check, what a valid value is). Only keys present in the config are checked.
RANGE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    # StyleGAN2 networks (jaxgan.models.stylegan2) and the StyleGAN2-ADA step
    # (jaxgan.core.stylegan_step); the reference's values in parentheses
    "w_dim": (lambda v: _is_int(v, 1), "an integer >= 1 (512)"),
    "mapping_layers": (lambda v: _is_int(v, 1), "an integer >= 1 (8; CIFAR: 2)"),
    "channel_base": (lambda v: _is_int(v, 1), "an integer >= 1 (32768)"),
    "channel_max": (lambda v: _is_int(v, 1), "an integer >= 1 (512)"),
    "conv_clamp": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no clamp; the reference: 256)"),
    "mbstd_group_size": (lambda v: _is_int(v, 1), "an integer >= 1 (4)"),
    "mbstd_num_channels": (lambda v: _is_int(v, 0), "an integer >= 0 (0: no minibatch std; 1)"),
    "r1_gamma": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no R1)"),
    "r1_interval": (lambda v: _is_int(v, 0), "an integer >= 0 (16; 0: R1 off)"),
    "pl_weight": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no path-length term; 2)"),
    "pl_interval": (lambda v: _is_int(v, 0), "an integer >= 0 (4; 0: path length off)"),
    "pl_decay": (lambda v: 0 <= v <= 1, "a number in [0, 1] (0.01)"),
    "pl_batch_shrink": (lambda v: _is_int(v, 1), "an integer >= 1 (2)"),
    "style_mixing_prob": (lambda v: 0 <= v <= 1, "a probability in [0, 1] (0.9)"),
    "ema_kimg": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no EMA; 10)"),
    "ema_rampup": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no ramp-up; 0.05)"),
    "ada_target": (lambda v: v == 0 or 0 < v < 1, "0 (ADA off) or a number in (0, 1) (0.6)"),
    "ada_interval": (lambda v: _is_int(v, 1), "an integer >= 1 (4)"),
    "ada_kimg": (lambda v: 0 < v < math.inf, "a number > 0 (500)"),
    "ada_p_init": (lambda v: 0 <= v <= 1, "a probability in [0, 1] (0)"),
    "seed": (lambda v: v >= 0, "an integer >= 0"),
    "num_seeds": (lambda v: v >= 1, "an integer >= 1 (1: one run)"),
    "steps": (lambda v: v > 0, "an integer > 0"),
    "batch_size": (lambda v: v > 0, "an integer > 0"),
    "n_critic": (lambda v: v >= 1, "an integer >= 1"),
    "latent_dim": (lambda v: v > 0, "an integer > 0"),
    "g_features": (lambda v: v > 0, "an integer > 0"),
    "d_features": (lambda v: v > 0, "an integer > 0"),
    "resolution": (lambda v: _is_power_of_two(v) and v >= 8, "a power of two >= 8 (8, 16, 32, 64)"),
    "channels": (lambda v: v in (1, 3), "1 (grey) or 3 (RGB)"),
    "train_classes": (lambda v: _is_class_list(v), "'' or comma-separated class indices, e.g. 0,1"),
    "exclude_classes": (lambda v: _is_class_list(v), "'' or comma-separated class indices, e.g. 7"),
    "normal_train_fraction": (lambda v: 0 < v <= 1, "a number in (0, 1] (EGBAD: 0.8)"),
    "split_seed": (lambda v: v >= 0, "an integer >= 0"),
    "g_lr": (lambda v: 0 < v < math.inf, "a number > 0"),
    "d_lr": (lambda v: 0 < v < math.inf, "a number > 0"),
    "b1": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "b2": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "ema_decay": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "real_label": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "penalty_weight": (lambda v: 0 <= v < math.inf, "a number >= 0"),
    "weight_clip": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no clipping)"),
    "log_every": (lambda v: v > 0, "an integer > 0"),
    "steps_per_call": (lambda v: v >= 1, "an integer >= 1 (1: one step per call)"),
    "xla_cpu_threads": (lambda v: v >= 0, "an integer >= 0 (0: XLA's default, the CPU count)"),
    "point_scale": (lambda v: 0 < v < math.inf, "a number > 0 (1: the data's own units)"),
    "sample_every": (lambda v: v >= 0, "an integer >= 0 (0: only at the end)"),
    "checkpoint_every": (lambda v: v >= 0, "an integer >= 0 (0: only at the end)"),
    "keep_checkpoints": (lambda v: v >= 1, "an integer >= 1"),
    "num_samples_grid": (lambda v: v >= 1, "an integer >= 1"),
    "mlp_g_hidden": (lambda v: len(v) > 0 and all(w > 0 for w in v), "positive widths"),
    "mlp_d_hidden": (lambda v: len(v) > 0 and all(w > 0 for w in v), "positive widths"),
    "label_embedding_dim": (lambda v: v >= 0, "an integer >= 0 (0: one-hot labels)"),
    "class_loss_weight": (lambda v: 0 <= v < math.inf, "a number >= 0"),
    # ResNet models (jaxgan.models.resnet) and the EMA start
    "g_attention_resolution": (lambda v: v >= 0, "an integer >= 0 (0: no self-attention)"),
    "d_attention_resolution": (lambda v: v >= 0, "an integer >= 0 (0: no self-attention)"),
    "g_shared_dim": (lambda v: v >= 0, "an integer >= 0 (0: per-layer class embeddings)"),
    "ema_start": (lambda v: v >= 0, "an integer >= 0 (0: average from the first step)"),
    # stabilisers and failure detection (jaxgan.core.augment, .critic_schedule, .optim, .monitors)
    "n_critic_boost": (lambda v: v >= 0, "an integer >= 0 (0: no boost; WGAN: 100)"),
    "n_critic_boost_first": (lambda v: v >= 0, "an integer >= 0"),
    "n_critic_boost_every": (lambda v: v >= 0, "an integer >= 0 (0: never again)"),
    "instance_noise_std": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: off)"),
    "instance_noise_anneal_steps": (lambda v: v >= 0, "an integer >= 0 (0: constant std)"),
    "diffaugment": (lambda v: isinstance(v, str) and all(
        p.strip() in DIFF_AUGMENT_POLICIES for p in v.split(",") if p.strip()),
        f"'' or a comma-separated list of {', '.join(sorted(DIFF_AUGMENT_POLICIES))}"),
    "warmup_steps": (lambda v: v >= 0, "an integer >= 0"),
    "grad_clip_norm": (lambda v: 0 <= v < math.inf, "a number >= 0 (0: no clipping)"),
    "monitor_every": (lambda v: v >= 0, "an integer >= 0 (0: no sample-based signs)"),
    "monitor_num_samples": (lambda v: v >= 2, "an integer >= 2"),
    "monitor_window": (lambda v: v >= 2, "an integer >= 2"),
    "monitor_check_every": (lambda v: v >= 1, "an integer >= 1"),
    "monitor_start_step": (lambda v: v >= 0, "an integer >= 0"),
    "monitor_d_loss_margin": (lambda v: 0 <= v < math.inf, "a number >= 0"),
    "monitor_min_fake_accuracy": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "monitor_min_real_accuracy": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "monitor_min_diversity_ratio": (lambda v: v >= 0, "a number >= 0"),
    "monitor_min_class_fraction": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "monitor_healthy_accuracy": (lambda v: len(v) == 2 and 0 <= v[0] <= v[1] <= 1,
                                 "two numbers low,high with 0 <= low <= high <= 1"),
    "monitor_stop_on": (lambda v: isinstance(v, str) and all(
        p.strip() in SIGNS for p in v.split(",") if p.strip()),
        f"'' or a comma-separated list of {', '.join(SIGNS)}"),
}

# What the keys without a range or registry check take (shown by `jaxgan train --help`).
KEY_NOTES = {
    "dataset": "ring8, grid25, digits or a TFDS catalog image data set (mnist, cifar10, ...)",
    "data_dir": "TFDS data directory ('': $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    "data_sha256": "content hash of a `jaxgan prepare` set ('': recorded from the data; "
                   "another value than the data's is refused)",
    "mlp_g_batch_norm": "true or false",
    "d_spectral_norm": "true or false",
    "g_spectral_norm": "true or false",
    "g_hierarchical_z": "true or false",
    "monitor_min_g_loss_slope": "a number (G loss rising: slope per step above it)",
}

# What a name-valued key is called in messages (default: the key).
NAME_LABELS = {"d_norm": "discriminator norm", "mlp_d_activation": "MLP discriminator activation",
               "parallel": "parallel mode", "lr_schedule": "learning-rate schedule",
               "conv_impl": "DCGAN conv impl", "d_batch_stats": "D batch statistics mode",
               "resnet_init": "ResNet weight init", "training": "training step",
               "ada_pipeline": "ADA pipeline", "d_architecture": "StyleGAN2 D architecture"}

# key -> the valid names (registries list their names themselves).
NAME_CHECKS: dict[str, Callable[[], Iterable[str]]] = {
    "loss": lambda: LOSSES,
    "penalty": lambda: PENALTIES,
    "model": lambda: MODELS,
    "optimizer": lambda: OPTIMIZERS,
    "d_norm": lambda: NORMS,
    "mlp_d_activation": lambda: MLP_ACTIVATIONS,
    "parallel": lambda: ("auto", *PARALLEL_MODES),
    "lr_schedule": lambda: LR_SCHEDULES,
    "conditioning": lambda: CONDITIONINGS,
    "conv_impl": lambda: MODEL_CONV_IMPLS,
    "seed_map": lambda: SEED_MAPS,
    "d_batch_stats": lambda: ("separate", "joint"),
    "resnet_init": lambda: ("auto", "xavier", "ortho"),
    "training": lambda: TRAININGS,
    "ada_pipeline": lambda: ADA_PIPELINES,
    "d_architecture": lambda: ("resnet", "orig"),
}


def validate_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Checks every field's range and every name against its registry; returns `config`.

    Raises ConfigError with one line naming the field, the bad value and the valid values.
    """
    for key, (check, valid) in RANGE_CHECKS.items():
        if key not in config:
            continue
        value = config[key]
        try:
            ok = bool(check(value))
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(f"config.{key} must be {valid}, got {value!r}")
    for key, names in NAME_CHECKS.items():
        if key in config and config[key] not in set(names()):
            raise ConfigError(f"unknown {NAME_LABELS.get(key, key)} {config[key]!r} "
                              f"(config.{key}); valid choices: {', '.join(sorted(names()))}")
    if "dataset" in config and not (isinstance(config.dataset, str) and config.dataset):
        raise ConfigError(f"config.dataset must be a data set name, got {config.dataset!r}")
    return config
