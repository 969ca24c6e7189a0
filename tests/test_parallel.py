"""Data-parallel step (jaxgan.training.parallel) on 8 simulated CPU devices (tests/conftest.py).

What "the same" means here. The single-device step draws its noise from the step key, while each
of N devices draws from fold_in(key, device index): deliberately different noise per device, so
the two cannot agree draw for draw. To compare them we make the noise identical with a test-only
hook, `SharedNoiseGAN`: z comes from one fixed table of B_global rows; the single-device step takes
the whole table and device j takes rows [j·b, (j+1)·b), the rows of the real batch it is given
(`device_major`). Then, with a loss that is a mean over the batch (RpGAN, which pairs real row i
with fake row i, so a wrong row layout would show), no penalty (its ε would come from the folded
key) and BatchNorm either absent (MLP critic) or synchronised across devices (MLP generator,
`sync_batch_norm=True`), the pmean of per-device gradients *is* the full-batch gradient, and the
new states must agree up to float32 summation order. pmap and shard_map fold the same device
indices, so they are compared with the model's own noise and per-device BatchNorm.
"""
from __future__ import annotations

import dataclasses
import functools

import chex
import jax
import numpy as np
import pytest

from jaxgan import config as config_lib
from jaxgan.core.gan import GAN
from jaxgan.core.registry import UnknownNameError
from jaxgan.core.state import create_train_state
from jaxgan.core.step import step_key
from jaxgan.training import parallel

NUM_DEVICES = 8
B = 16  # global batch per critic step: 2 rows per device
N_CRITIC = 2
STEPS = 2
# float32, 2 Adam steps: observed max |difference| over the whole state 6.6e-7 (in Adam's second
# moments; params 4e-9): summation order only.
RTOL, ATOL = 1e-5, 2e-6


def _mlp_config(sync_batch_norm: bool = True):
    c = config_lib.base_config()
    c.model = "mlp"
    c.mlp_g_hidden = (16, 16)  # with BatchNorm
    c.mlp_d_hidden = (16,)  # no BatchNorm in the MLP critic
    c.latent_dim = 4
    c.n_critic = N_CRITIC
    c.loss = "relativistic"  # pairs real row i with fake row i: sensitive to which rows go where
    c.ema_decay = 0.9
    c.sync_batch_norm = sync_batch_norm
    return c


def _dcgan_config(sync_batch_norm: bool = False):
    c = config_lib.base_config()
    c.resolution, c.channels = 16, 1
    c.g_features = c.d_features = 8
    c.latent_dim = 8
    c.n_critic = N_CRITIC
    c.sync_batch_norm = sync_batch_norm
    return c


@dataclasses.dataclass(frozen=True)
class SharedNoiseGAN(GAN):
    """Test-only hook: z is a fixed table of `global_batch` rows, split over devices like the data.

    Called with the whole global batch (single device) it returns the table; called with b rows
    inside the parallel step, device j returns rows [j·b, (j+1)·b). The key is ignored on purpose:
    per-device keys are folded and could never reproduce the single-device draws.
    """

    global_batch: int = 0

    def sample_latent(self, key, num):
        del key
        table = jax.random.normal(jax.random.PRNGKey(1234), (self.global_batch, self.latent_dim))
        if num == self.global_batch:
            return table
        return jax.lax.dynamic_slice_in_dim(table, jax.lax.axis_index(parallel.DATA_AXIS) * num,
                                            num)


def _shared_noise(gan: GAN) -> SharedNoiseGAN:
    fields = {f.name: getattr(gan, f.name) for f in dataclasses.fields(GAN)}
    return SharedNoiseGAN(**fields, global_batch=B)


@functools.lru_cache(maxsize=None)
def _mlp_step(mode: str, sync_batch_norm: bool, shared_noise: bool
              ) -> tuple[GAN, parallel.CompiledStep]:
    """(gan, compiled step), built and compiled once per test session (always pass all three
    arguments: the cache is keyed on them as given)."""
    gan = config_lib.build_gan(_mlp_config(sync_batch_norm), (2,),
                               axis_name=parallel.step_axis_name(mode))
    gan = _shared_noise(gan) if shared_noise else gan
    return gan, parallel.compile_train_step(gan, mode, jax.devices()[:NUM_DEVICES])


def _batches(shape, seed: int = 0, steps: int = STEPS):
    rng = np.random.RandomState(seed)
    return [{"x": rng.randn(N_CRITIC * B, *shape).astype(np.float32)} for _ in range(steps)]


def _train(compiled: parallel.CompiledStep, state, batches, key, start: int = 0):
    """Runs `compiled` over `batches` from logical `state`; the logical state and last metrics."""
    device_state = compiled.put_state(state)
    metrics = None
    for i, batch in enumerate(batches):
        device_state, metrics = compiled(device_state, compiled.put_batch(batch),
                                         step_key(key, start + i))
    return compiled.get_state(device_state), metrics


def _as_numpy(tree):
    return jax.tree.map(np.asarray, tree)


@functools.lru_cache(maxsize=None)
def _mlp_run(mode: str, sync_batch_norm: bool, shared_noise: bool):
    """The logical state and metrics after STEPS steps from a fixed init, batches and key."""
    gan, compiled = _mlp_step(mode, sync_batch_norm, shared_noise)
    state = create_train_state(gan, jax.random.PRNGKey(0))
    new_state, metrics = _train(compiled, state, _batches((2,)), jax.random.PRNGKey(1))
    return _as_numpy(new_state), _as_numpy(metrics)


# --- layout -----------------------------------------------------------------------------------

def test_device_major_gives_each_device_its_rows_of_every_chunk():
    n_critic, b, ndev = 3, 2, 4
    x = np.arange(n_critic * b * ndev)
    laid = parallel.device_major(x, n_critic, ndev)
    assert laid.shape == (ndev, n_critic * b)
    for j in range(ndev):
        expected = [c * b * ndev + j * b + r for c in range(n_critic) for r in range(b)]
        np.testing.assert_array_equal(laid[j], expected)


def test_process_shards_compose_to_the_global_device_layout():
    """P processes × D local devices lay rows out as one process with P·D devices."""
    n_critic, processes, local_devices = 2, 2, 4
    x = np.arange(n_critic * 16 * 3).reshape(n_critic * 16, 3)
    per_process = [parallel.device_major(
        parallel.process_shard({"x": x}, n_critic, p, processes)["x"], n_critic, local_devices)
        for p in range(processes)]
    np.testing.assert_array_equal(np.concatenate(per_process),
                                  parallel.device_major(x, n_critic, processes * local_devices))


def test_batch_that_does_not_split_over_devices_is_rejected():
    with pytest.raises(ValueError, match="does not split over 8 devices"):
        parallel.device_major(np.zeros((2 * 12, 2)), 2, 8)


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_put_batch_places_device_major_rows_on_each_device(mode):
    _, compiled = _mlp_step(mode, True, True)
    batch = {"x": np.arange(N_CRITIC * B * 2, dtype=np.float32).reshape(N_CRITIC * B, 2),
             "label": np.arange(N_CRITIC * B)}
    placed = compiled.put_batch(batch)
    devices = jax.devices()[:NUM_DEVICES]
    for name in batch:
        expected = parallel.device_major(batch[name], N_CRITIC, NUM_DEVICES)
        shards = {s.device: np.asarray(s.data) for s in placed[name].addressable_shards}
        for j, device in enumerate(devices):
            np.testing.assert_array_equal(shards[device].reshape(expected[j].shape), expected[j])


def test_resolve_mode():
    assert parallel.resolve_mode("auto", 8) == "shard_map"
    assert parallel.resolve_mode("auto", 1) == "jit"
    assert parallel.resolve_mode("pmap", 8) == "pmap"
    assert parallel.step_axis_name("jit") is None
    assert parallel.step_axis_name("shard_map") == parallel.DATA_AXIS
    with pytest.raises(UnknownNameError, match="valid choices: jit, pmap, shard_map"):
        parallel.resolve_mode("dataparallel", 8)


def test_sync_batch_norm_sets_the_axis_only_when_asked():
    for sync, expected in [(True, parallel.DATA_AXIS), (False, None)]:
        gan = config_lib.build_gan(_dcgan_config(sync), (16, 16, 1),
                                   axis_name=parallel.DATA_AXIS)
        assert gan.generator.bn_axis_name == expected
        assert gan.discriminator.bn_axis_name == expected
    assert config_lib.build_gan(_dcgan_config(True), (16, 16, 1)).generator.bn_axis_name is None


# --- same state whatever the compilation --------------------------------------------------------

@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_parallel_step_equals_single_device_step_on_the_global_batch(mode):
    """8 devices (b = 2 rows each, synchronised BatchNorm in G) vs one device on all B = 16 rows,
    same noise (SharedNoiseGAN), 2 steps of n_critic = 2: every leaf of the new state (params,
    BatchNorm statistics, Adam moments, EMA, step) and every metric agree to rtol 1e-5,
    atol 2e-6."""
    state, metrics = _mlp_run(mode, True, True)
    ref_state, ref_metrics = _mlp_run("jit", True, True)
    chex.assert_trees_all_close(state, ref_state, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(metrics, ref_metrics, rtol=RTOL, atol=ATOL)
    assert int(state.step) == STEPS
    assert all(np.shape(m) == () for m in jax.tree.leaves(metrics))  # unreplicated scalars


def test_per_device_batch_norm_is_not_the_single_device_step():
    """The sync_batch_norm choice matters: per-device statistics over 2 rows move G's params
    ~8e-4 away from the single-device run (the synchronised run: < 1e-8), so the agreement
    above is not vacuous."""
    state, _ = _mlp_run("shard_map", False, True)
    ref_state, _ = _mlp_run("jit", True, True)
    diffs = jax.tree.map(lambda a, b: float(np.max(np.abs(a - b))), state.generator.params,
                         ref_state.generator.params)
    assert max(jax.tree.leaves(diffs)) > 1e-4


@pytest.mark.slow  # excluded from the default run (pytest -m slow); a control beside the synchronised-BN tests
def test_pmap_and_shard_map_give_the_same_state_with_per_device_batch_norm():
    """The model's own noise (each device folds its index into the key) and per-device BatchNorm
    statistics in G: pmap and shard_map number the devices alike, so their states and metrics
    after 2 steps agree to rtol 1e-5, atol 2e-6."""
    pmap_run = _mlp_run("pmap", False, False)
    shard_map_run = _mlp_run("shard_map", False, False)
    chex.assert_trees_all_close(pmap_run, shard_map_run, rtol=RTOL, atol=ATOL)
    # and the folded noise is not the shared table: another state than the shared-noise run
    shared_state, _ = _mlp_run("shard_map", False, True)
    assert not np.allclose(shared_state.generator.params["Dense_0"]["kernel"],
                           shard_map_run[0].generator.params["Dense_0"]["kernel"], atol=1e-5)


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_step_donates_the_state_and_keeps_replicas_equal(mode):
    gan, compiled = _mlp_step(mode, True, True)
    device_state = compiled.put_state(create_train_state(gan, jax.random.PRNGKey(0)))
    new_state, _ = compiled(device_state, compiled.put_batch(_batches((2,))[0]),
                            jax.random.PRNGKey(1))
    assert all(leaf.is_deleted() for leaf in jax.tree.leaves(device_state))
    for leaf in jax.tree.leaves(new_state):
        copies = [np.asarray(s.data) for s in leaf.addressable_shards]
        if mode == "pmap":  # one row of the leading device axis per device
            copies = [c[0] for c in copies]
        for copy in copies[1:]:
            np.testing.assert_array_equal(copy, copies[0])


@pytest.mark.parametrize("mode", ["jit", "pmap", "shard_map"])
def test_abstract_state_matches_the_state_and_carries_the_sharding(mode):
    gan, compiled = _mlp_step(mode, True, True)
    target = parallel.abstract_state(compiled, gan)
    state = create_train_state(gan, jax.random.PRNGKey(0))
    chex.assert_trees_all_equal_shapes_and_dtypes(target, state)
    for leaf in jax.tree.leaves(target):
        assert leaf.sharding == compiled.state_sharding
    if mode == "shard_map":
        assert compiled.state_sharding.spec == jax.sharding.PartitionSpec()
        assert compiled.state_sharding.mesh.size == NUM_DEVICES


# --- several processes: argument checks (the real run is tests/test_multiprocess.py) ------------

def test_initialize_distributed_without_coordinator_does_nothing(monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    assert parallel.initialize_distributed() is False


def test_initialize_distributed_names_the_missing_setting(monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    with pytest.raises(ValueError, match="need the coordinator's address"):
        parallel.initialize_distributed(num_processes=2, process_id=0)
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "localhost:1")
    monkeypatch.delenv("JAX_NUM_PROCESSES", raising=False)
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES"):
        parallel.initialize_distributed(process_id=0)
    with pytest.raises(ValueError, match=r"process_id must be in \[0, num_processes=2\)"):
        parallel.initialize_distributed(num_processes=2, process_id=2)


# --- checkpoints across device counts ------------------------------------------------------------

@pytest.mark.parametrize("first, then", [("shard_map", "jit"), ("jit", "shard_map")])
def test_checkpoint_restores_and_continues_on_another_device_count(tmp_path, first, then):
    """Step 0 on `first` (8 devices or 1), checkpoint, restore onto `then`'s layout
    (`abstract_state`: a replicated NamedSharding over 8 devices, or one device), step 1 there.
    The restored state is the saved one exactly, sits on the new layout, and the continued run
    ends where two uninterrupted steps on 8 devices end (rtol 1e-5, atol 2e-6)."""
    from jaxgan.training.checkpoint import Checkpointer

    batches, key = _batches((2,)), jax.random.PRNGKey(1)
    gan, before = _mlp_step(first, True, True)
    _, after = _mlp_step(then, True, True)
    saved, _ = _train(before, create_train_state(gan, jax.random.PRNGKey(0)), batches[:1], key)
    expected_saved = _as_numpy(saved)
    with Checkpointer(tmp_path / "checkpoints", async_save=False) as checkpointer:
        checkpointer.save(1, saved, {"position": 1}, {"parallel": first}, wait=True)
    with Checkpointer(tmp_path / "checkpoints", async_save=False) as checkpointer:
        restored = checkpointer.restore(parallel.abstract_state(after, gan))
    assert restored.step == 1
    chex.assert_trees_all_equal(_as_numpy(restored.state), expected_saved)
    for leaf in jax.tree.leaves(restored.state):
        assert leaf.sharding.is_equivalent_to(after.state_sharding, leaf.ndim)
    continued, _ = _train(after, restored.state, batches[1:], key, start=1)
    uninterrupted, _ = _mlp_run("shard_map", True, True)
    chex.assert_trees_all_close(_as_numpy(continued), uninterrupted, rtol=RTOL, atol=ATOL)
