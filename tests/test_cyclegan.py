"""CycleGAN (issue 19): the loss terms against their formulas, the image pool (fill, probability,
resume), a pure step, the data-parallel step against the one-device step, instance norm, and
`jaxgan translate` end to end. Tiny networks (8×8 images, 1 residual block, 4 features)."""
import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import cli
from jaxgan.config.cyclegan import build_cyclegan, cyclegan_config, cyclegan_experiment
from jaxgan.core import cyclegan as core
from jaxgan.models.cyclegan import PatchDiscriminator, instance_norm
from jaxgan.training import cyclegan_loop, parallel
from jaxgan.training.checkpoint import Checkpointer

SHAPE = (8, 8, 3)
B = 8  # global batch: one row per simulated device


def _config():
    c = cyclegan_config()
    c.resolution, c.g_features, c.d_features = 8, 4, 4
    c.cyclegan_blocks, c.cyclegan_d_layers = 1, 1
    c.batch_size, c.steps, c.decay_steps, c.pool_size = B, 10, 5, 6
    c.sample_every = c.checkpoint_every = 0
    return c


@functools.lru_cache(maxsize=None)
def _cg():
    return build_cyclegan(_config(), SHAPE, SHAPE)


@functools.lru_cache(maxsize=None)
def _compiled(mode: str):
    cg = _cg()
    body = parallel.StepBody(make=lambda axis_name: core.make_train_step(cg, axis_name))
    return parallel.compile_step(body, mode, jax.devices()[:B if mode != "jit" else 1])


def _batches(steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [{k: rng.uniform(-1, 1, (B,) + SHAPE).astype(np.float32) for k in ("a", "b")}
            for _ in range(steps)]


def _run(mode: str, state, batches, start: int = 0):
    compiled = _compiled(mode)
    device_state, metrics = compiled.put_state(state), None
    for i, batch in enumerate(batches):
        device_state, metrics = compiled(device_state, compiled.put_batch(batch),
                                         jax.random.fold_in(jax.random.key(1), start + i))
    return jax.tree.map(np.asarray, compiled.get_state(device_state)), jax.tree.map(
        np.asarray, metrics)


@functools.lru_cache(maxsize=None)
def _initial():
    key = jax.random.key(0)
    init = jax.jit(functools.partial(core.create_state, _cg())).lower(key).compile(
        {"xla_backend_optimization_level": 0})
    return jax.tree.map(np.asarray, init(key))


# --- losses ---------------------------------------------------------------------------------------

def _network(module, params):
    """x -> module(x) as numpy, compiled once without XLA's backend optimisations (cheap)."""
    fn = jax.jit(lambda x: module.apply({"params": params}, x, None))
    compiled = {}

    def apply(x):
        x = jnp.asarray(x)
        if x.shape not in compiled:
            compiled[x.shape] = fn.lower(x).compile({"xla_backend_optimization_level": 0})
        return np.asarray(compiled[x.shape](x))
    return apply


def test_cycle_identity_and_lsgan_terms_equal_their_formulas():
    """The step's loss terms (computed with the state before its update) against the formulas,
    each network applied on its own and composed here."""
    cg, state = _cg(), _initial()
    batch = _batches(1, seed=3)[0]
    _, metrics = _run("jit", state, [batch])
    g, f, d_a, d_b = (_network(m, p) for m, p in (
        (cg.g_ab, state.g_ab.params), (cg.g_ba, state.g_ba.params),
        (cg.d_a, state.d_a.params), (cg.d_b, state.d_b.params)))
    a, b = batch["a"], batch["b"]
    expected = {
        "cycle_a": 10.0 * np.abs(f(g(a)) - a).mean(),
        "cycle_b": 10.0 * np.abs(g(f(b)) - b).mean(),
        "identity_b": 10.0 * 0.5 * np.abs(g(b) - b).mean(),
        "identity_a": 10.0 * 0.5 * np.abs(f(a) - a).mean(),
        "g_adv_ab": ((d_b(g(a)) - 1.0) ** 2).mean(),
        "g_adv_ba": ((d_a(f(b)) - 1.0) ** 2).mean(),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(float(metrics[name]), value, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(float(metrics["g_loss"]), sum(expected.values()), rtol=1e-5)
    # with noise between the generators: λ·E|F(G(a) + σ_a·n_a) − a|, λ·E|G(F(b) + σ_b·n_b) − b|
    noisy = dataclasses.replace(cg, cycle_noise_a=0.3, cycle_noise_b=0.2)
    n_a, n_b = (np.asarray(n) for n in core.cycle_noise(noisy, jax.random.key(5), a, b))
    assert n_a.shape == n_b.shape == a.shape and abs(n_a.std() - 1) < 0.1
    _, (terms, _, _) = jax.jit(functools.partial(core.generator_losses, noisy)).lower(
        state.g_ab.params, state.g_ba.params, state.d_a.params, state.d_b.params, a, b,
        (n_a, n_b)).compile({"xla_backend_optimization_level": 0})(
        state.g_ab.params, state.g_ba.params, state.d_a.params, state.d_b.params, a, b,
        (n_a, n_b))
    np.testing.assert_allclose(float(terms["cycle_a"]),
                               10.0 * np.abs(f(g(a) + 0.3 * n_a) - a).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(terms["cycle_b"]),
                               10.0 * np.abs(g(f(b) + 0.2 * n_b) - b).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(terms["g_adv_ab"]), expected["g_adv_ab"], rtol=1e-5)
    assert core.cycle_noise(cg, jax.random.key(5), a, b) is None  # σ = 0: the paper's cycles
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(4, 2, 2)), rng.normal(size=(4, 2, 2))
    np.testing.assert_allclose(float(core.CYCLEGAN_LSGAN.discriminator(real, fake)),
                               0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean()), rtol=1e-6)
    np.testing.assert_allclose(float(core.CYCLEGAN_LSGAN.generator(fake)),
                               ((fake - 1) ** 2).mean(), rtol=1e-6)


def test_lr_is_constant_then_decays_linearly_to_zero():
    schedule = core.lr_schedule(2e-4, total_steps=10, decay_steps=4)
    np.testing.assert_allclose([float(schedule(t)) for t in (0, 5, 6, 7, 8, 10)],
                               [2e-4, 2e-4, 2e-4, 1.5e-4, 1e-4, 0.0], atol=1e-10)


# --- the pool -------------------------------------------------------------------------------------

def _images(values):
    return jnp.asarray(values, jnp.float32)[:, None, None, None] * jnp.ones((1, 2, 2, 1))


def test_pool_returns_new_images_until_full_then_stored_ones_half_the_time():
    size = 5
    pool = core.ImagePool.empty(size, (2, 2, 1))
    pool, out = core.pool_query(pool, _images(np.arange(3)), jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(out[:, 0, 0, 0]), [0, 1, 2])  # filling: as given
    assert int(pool.count) == 3
    # 2 more fill it; the rest (values 100..) are answered by the coin flips
    n = 4000
    values = np.concatenate([[3, 4], 100 + np.arange(n)])
    pool, out = core.pool_query(pool, _images(values), jax.random.key(1))
    out = np.asarray(out[:, 0, 0, 0])
    np.testing.assert_array_equal(out[:2], [3, 4])
    assert int(pool.count) == size
    old = out[2:] != values[2:]
    # an old answer is an image stored earlier: one of the first five or an earlier query's
    assert np.all((out[2:][old] < 5) | ((out[2:][old] >= 100) & (out[2:][old] < values[2:][old])))
    # P(old) = 1/2: within 4 standard deviations of n/2
    assert abs(old.sum() - n / 2) < 4 * np.sqrt(n / 4)
    # every image returned old was in the pool exactly once: stored values stay distinct
    stored = np.asarray(pool.images[:, 0, 0, 0])
    assert len(set(stored)) == size


def test_pool_of_size_zero_passes_fakes_through():
    pool = core.ImagePool.empty(0, (2, 2, 1))
    _, out = core.pool_query(pool, _images([1.0, 2.0]), jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(out[:, 0, 0, 0]), [1, 2])


# --- the step -------------------------------------------------------------------------------------

def test_step_is_pure_and_resume_from_a_checkpoint_is_exact(tmp_path):
    batches = _batches(4)
    straight, metrics = _run("jit", _initial(), batches)
    again, metrics_again = _run("jit", _initial(), batches)
    for x, y in zip(jax.tree.leaves((straight, metrics)), jax.tree.leaves((again,
                                                                           metrics_again))):
        np.testing.assert_array_equal(x, y)
    # the pool has been filled and is part of the state
    assert int(straight.pool_a.count) == 6 and int(straight.pool_b.count) == 6
    half, _ = _run("jit", _initial(), batches[:2])
    with Checkpointer(tmp_path / "ckpt") as checkpointer:
        checkpointer.save(2, half, {"a": {}, "b": {}}, {"task": "cyclegan"}, wait=True)
        restored = checkpointer.restore(jax.eval_shape(lambda: half)).state
    resumed, _ = _run("jit", restored, batches[2:], start=2)
    for x, y in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(x, y)


def _network_outputs(state, x):
    """G(x), F(x), D_A(x), D_B(x) of a state (what its parameters compute)."""
    cg = _cg()
    return [_network(m, net.params)(x)
            for m, net in ((cg.g_ab, state.g_ab), (cg.g_ba, state.g_ba), (cg.d_a, state.d_a),
                           (cg.d_b, state.d_b))]


def test_data_parallel_step_equals_the_one_device_step():
    """shard_map over 8 devices (one row each) against jit on one, 3 steps from one state.

    Compared: the pools (contents and counts), the metrics, Adam's step counts and what the four
    networks compute on fixed inputs. Not compared leaf by leaf: the biases of the convolutions
    that feed an instance norm (kept, as in the reference) have a zero gradient in exact
    arithmetic (IN subtracts the mean), so their float-noise gradients differ between the two
    reduction orders and Adam, which divides by √v, turns that noise into lr-sized steps that
    change nothing the networks compute."""
    batches = _batches(3, seed=5)
    single, single_metrics = _run("jit", _initial(), batches)
    sharded, sharded_metrics = _run("shard_map", _initial(), batches)
    for pool in ("pool_a", "pool_b"):
        np.testing.assert_allclose(getattr(single, pool).images, getattr(sharded, pool).images,
                                   atol=1e-4)
        assert int(getattr(single, pool).count) == int(getattr(sharded, pool).count) == 6
    x = np.random.default_rng(9).uniform(-1, 1, (4,) + SHAPE).astype(np.float32)
    for s, p in zip(_network_outputs(single, x), _network_outputs(sharded, x)):
        np.testing.assert_allclose(s, p, atol=1e-4)
    for key in ("g_loss", "cycle_a", "identity_b", "d_a_loss", "d_b_loss"):
        np.testing.assert_allclose(single_metrics[key], sharded_metrics[key], rtol=1e-4)


# --- instance norm ---------------------------------------------------------------------------------

def test_instance_norm_normalises_each_image_and_channel():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=rng.normal(size=(3, 1, 1, 4)) * 5, scale=rng.uniform(0.5, 3, (3, 1, 1, 4)),
                   size=(3, 6, 6, 4)).astype(np.float32)
    norm = instance_norm()
    y = np.asarray(norm.apply(norm.init(jax.random.key(0), x), x))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), atol=1e-4)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
    assert norm.init(jax.random.key(0), x) == {}  # affine=False: no parameters


# --- configs and the minibatch-stddev PatchGAN --------------------------------------------------

def test_experiments_are_one_call_of_cyclegan_experiment():
    import importlib.util
    import pathlib

    def load(name):
        path = pathlib.Path(__file__).parents[1] / "experiments" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.get_config()

    h2z = load("cyclegan_horse2zebra")  # the paper's settings (Zhu et al. 2017, section 4 / 7)
    assert (h2z.resolution, h2z.cyclegan_blocks, h2z.cyclegan_d_layers, h2z.g_features,
            h2z.d_features, h2z.batch_size) == (256, 9, 3, 64, 64, 1)
    assert (h2z.steps, h2z.decay_steps) == (200 * 1334, 100 * 1334)
    assert (h2z.lambda_a, h2z.lambda_b, h2z.lambda_identity, h2z.pool_size) == (10, 10, 0.5, 50)
    assert h2z.dataset == h2z.dataset_a == "cycle_gan/horse2zebra:trainA"
    digits = load("cyclegan_digits")
    assert (digits.dataset_a, digits.dataset_b, digits.task) == ("digits", "digits_photo_bright",
                                                                 "cyclegan")
    assert digits.decay_steps <= digits.steps
    mnistm = load("cyclegan_digits_mnistm")  # the same settings on MNIST-M's blend
    assert mnistm.dataset_b == "digits_photo"
    mnistm.dataset_b = digits.dataset_b
    assert mnistm.to_dict() == digits.to_dict()
    with pytest.raises(ValueError, match="unknown config key 'lambda_c'"):
        cyclegan_experiment("digits", "digits_photo", resolution=16, blocks=1, d_layers=1,
                            steps=2, decay_steps=1, lambda_c=1.0)


def test_minibatch_std_lets_the_patchgan_see_the_other_rows():
    """Without it D scores each image alone; with it (groups of 2) row 0's logits change when
    only row 1 changes."""
    x = np.random.default_rng(0).uniform(-1, 1, (2,) + SHAPE).astype(np.float32)
    y = x.copy()
    y[1] = -y[1]  # row 1 changed, row 0 the same
    for group in (0, 2):
        d = PatchDiscriminator(features=4, num_layers=1, minibatch_std_group=group)
        apply = _network(d, d.init(jax.random.key(0), x)["params"])
        same = np.allclose(apply(x)[0], apply(y)[0], atol=1e-6)
        assert same == (group == 0), group


# --- translate CLI ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A CycleGAN workdir with the checkpoint of a fresh state (what translate reads)."""
    path = tmp_path_factory.mktemp("cyclegan")
    config = _config()  # both domains digits_photo: built in memory (no TFDS preparation)
    config.dataset_a, config.dataset_b = "digits_photo", "digits_photo"
    run = cyclegan_loop.setup_run(config, path, devices=jax.devices()[:1])
    try:
        state, step, _ = cyclegan_loop.restore_or_init(run)
        from jaxgan.training.workdir import write_run_files
        write_run_files(run.workdir, run.config_json, run.iterators[0].spec)
        cyclegan_loop._save(run, 0, state, wait=True)
        run.checkpointer.close()
    finally:
        run.lock.release()
    return path, state


def test_translate_cli_on_a_folder_of_images(workdir, tmp_path):
    path, state = workdir
    folder = tmp_path / "digits"
    folder.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(folder / f"{i}.png")
    out = tmp_path / "out.npy"
    assert cli.main(["translate", "--workdir", str(path), "--direction", "a2b", "--input",
                     str(folder), "--out", str(out)]) == 0
    expected = core.translate(_cg(), state, pixels.astype(np.float32) / 127.5 - 1, "a2b")
    np.testing.assert_allclose(np.load(out), np.asarray(expected), atol=1e-5)
    png = tmp_path / "out.png"
    assert cli.main(["translate", "--workdir", str(path), "--direction", "b2a", "--input",
                     str(out), "--out", str(png)]) == 0
    assert Image.open(png).size[0] > 0
    assert json.loads((path / "config.json").read_text())["task"] == "cyclegan"


def test_translate_bad_inputs_exit_2_with_one_line(workdir, tmp_path, capsys):
    path, _ = workdir
    np.save(tmp_path / "wrong.npy", np.zeros((2, 16, 16, 3), np.float32))
    (tmp_path / "empty").mkdir()
    cases = [
        ["--input", str(tmp_path / "wrong.npy"), "--out", str(tmp_path / "o.npy")],
        ["--input", str(tmp_path / "empty"), "--out", str(tmp_path / "o.npy")],
        ["--input", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "o.npy")],
        ["--input", str(tmp_path / "wrong.npy"), "--out", str(tmp_path / "o.jpg")],
    ]
    for args in cases:
        capsys.readouterr()
        assert cli.main(["translate", "--workdir", str(path), "--direction", "a2b",
                         *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("jaxgan translate: error:"), err
    assert cli.main(["translate", "--workdir", str(tmp_path), "--direction", "a2b", "--input",
                     str(tmp_path / "wrong.npy"), "--out", str(tmp_path / "o.npy")]) == 2


def test_sample_and_interpolate_refuse_a_cyclegan_run(workdir, tmp_path, capsys):
    """A CycleGAN run has no latent space: one line pointing to `jaxgan translate`, exit 2."""
    path, _ = workdir
    for command in ("sample", "interpolate"):
        capsys.readouterr()
        assert cli.main([command, "--workdir", str(path), "--out", str(tmp_path / "o.png")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "jaxgan translate" in err[0] and command in err[0], err
    assert not (tmp_path / "o.png").exists()
