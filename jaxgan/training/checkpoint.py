"""Checkpoints of a whole GAN run with Orbax: save, keep the last few, restore onto any layout.

One checkpoint is one step directory written by `orbax.checkpoint.CheckpointManager` with four
items (`ocp.args.Composite`):

  state   the `GANState` pytree (both nets' params, BatchNorm statistics, optimizer states, EMA
          params when kept, step) — `ocp.args.StandardSave` / `StandardRestore`;
  data    the data iterator's state (a JSON dict) — `ocp.args.JsonSave` / `JsonRestore`;
  config  the run's config (a JSON dict);
  meta    the state's leaf paths, dtypes and shapes, so a restore can tell a config that changes
          shapes from a corrupt checkpoint before it reads any array; and the SHA-256 of every
          state leaf's bytes, of the data and config items (canonical JSON) and of meta itself.

Integrity: Orbax and TensorStore keep no checksum of the arrays (a byte changed inside an OCDBT
data file restores silently), so `save` hashes each leaf's host bytes as it hands the state over
(`leaf_digests`) and `restore` hashes what it read back: a digest that differs, a state holding
NaN/Inf, or a meta whose own digest differs makes the step corrupt, like an unreadable one.
Checkpoints of format 1 (written before the digests) are restored with the NaN/Inf check only.

Orbax writes a step into `<step>.orbax-checkpoint-tmp` and renames it to `<step>` once every item is
on disk, so a step directory without the suffix is complete; an interrupted write (preemption,
SIGKILL) leaves only the temporary directory, which `latest_step` never returns.

Failure handling, all reported and nothing deleted silently:
  * a state with NaN/Inf is never written (`NonFiniteStateError` names the leaf and the step);
  * leftover temporary directories of interrupted writes are removed on the first save, each with
    a logged warning naming it;
  * a complete-looking step that fails to restore (a truncated, missing or garbled file, a
    checksum mismatch, a non-finite value) is reported with `warnings.warn` and the log naming the
    reason, moved aside into `<directory>/corrupt/` (by a writer; readers such as `jaxgan sample`
    pass `move_corrupt=False` and only skip it), and the previous step is tried;
  * a save that fails (a full disk: OSError ENOSPC, in the background thread or at once) raises
    `CheckpointWriteError` (an OSError) naming the step and the latest complete step, which stays
    the latest: Orbax only renames a step directory into place once all of it is written;
  * a config that changes the state's shapes or tree structure is refused with one line naming
    the config keys that differ.

Restore places every array on the layout of the abstract target it is given (e.g. a replicated
`NamedSharding` over the current mesh, or one device), so a checkpoint written on 8 devices
restores onto 1 and the other way round.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import gc
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from typing import Any, Mapping

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as ocp_managers

from jaxgan.core.state import GANState

logger = logging.getLogger(__name__)

PyTree = Any

STATE, DATA, CONFIG, META = "state", "data", "config", "meta"
ITEM_NAMES = (STATE, DATA, CONFIG, META)
META_FORMAT = 2  # 1: leaf specs only; 2: + SHA-256 digests
TMP_SUFFIX = ".orbax-checkpoint-tmp"
CORRUPT_DIRNAME = "corrupt"


class CheckpointError(ValueError):
    """A checkpoint cannot be written or used; the message says why and what to do."""


class NonFiniteStateError(CheckpointError):
    """The state to save holds NaN or Inf; nothing was written."""


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (e.g. the disk is full); the previous checkpoint is kept."""


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint step could not be read and was skipped (moved aside)."""


@dataclasses.dataclass
class Restored:
    """What `Checkpointer.restore` gives back.

    Attributes:
      state: the `GANState`, each array on the sharding of the abstract target.
      data_state: the data iterator's state as saved.
      config: the config the checkpoint was written with.
      step: the checkpoint's step.
    """

    state: GANState
    data_state: dict
    config: dict
    step: int


def _to_json_dict(value: Any, what: str) -> dict:
    """A plain JSON dict from a dict or `ConfigDict` (tuples become lists), or a CheckpointError."""
    if value is None:
        return {}
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise CheckpointError(f"{what} to checkpoint must be a dict, got {type(value).__name__}")

    def default(obj):
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} {obj!r}")

    try:
        return json.loads(json.dumps(dict(value), default=default))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{what} to checkpoint is not JSON-serialisable: {e}") from None


def _flat(d: Mapping, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _config_changes(saved: Mapping, current: Mapping) -> list[tuple[str, Any, Any]]:
    """(dotted key, saved value, current value) for every key whose value differs."""
    old, new = _flat(saved), _flat(current)
    return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]


def _path_str(path) -> str:
    """A leaf's tree path as text, e.g. "generator.params['Dense_0']['kernel']"."""
    return jax.tree_util.keystr(path).lstrip(".")


def _leaf_specs(tree: PyTree) -> list[list]:
    """[[path, dtype, shape], ...] of a pytree of arrays or ShapeDtypeStructs, in leaf order."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [[_path_str(path), str(np.dtype(leaf.dtype)), list(leaf.shape)]
            for path, leaf in leaves]


def _spec_str(spec: list) -> str:
    return f"{spec[1]}[{','.join(map(str, spec[2]))}]"


def _first_spec_difference(saved: list[list], current: list[list]) -> str | None:
    """A description of the first leaf whose path, dtype or shape differs; None when all agree."""
    saved_by_path = {s[0]: s for s in saved}
    current_by_path = {c[0]: c for c in current}
    for path, cur in current_by_path.items():
        old = saved_by_path.get(path)
        if old is None:
            return f"{path} is new (not in the checkpoint)"
        if old != cur:
            return f"{path}: saved {_spec_str(old)}, now {_spec_str(cur)}"
    for path in saved_by_path:
        if path not in current_by_path:
            return f"{path} is in the checkpoint but not in this state"
    return None


def _host_bytes(leaf: Any) -> np.ndarray | None:
    """This process's full copy of a leaf as a numpy array (None for a leaf sharded across
    processes, which no single process holds whole)."""
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        if not leaf.sharding.is_fully_replicated:
            return None
        leaf = leaf.addressable_data(0)
    return np.ascontiguousarray(np.asarray(leaf))


def leaf_digests(state: PyTree) -> list[str | None]:
    """SHA-256 (hex) of every leaf's bytes in C order, in leaf order; None where no process-local
    copy of the whole leaf exists."""
    digests = []
    for leaf in jax.tree_util.tree_leaves(state):
        host = _host_bytes(leaf)
        digests.append(None if host is None else hashlib.sha256(host.tobytes()).hexdigest())
    return digests


def json_digest(value: Any) -> str:
    """SHA-256 of a JSON value's canonical text (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _meta_with_digest(meta: dict) -> dict:
    return {**meta, "meta_sha256": json_digest(meta)}


def _verify_meta(meta: dict) -> None:
    """Raises ValueError unless meta's own digest matches (format 2) and it lists leaves."""
    if not isinstance(meta.get("leaves"), list):
        raise ValueError("meta lists no leaves")
    if meta.get("format", 1) >= 2:
        body = {k: v for k, v in meta.items() if k != "meta_sha256"}
        if meta.get("meta_sha256") != json_digest(body):
            raise ValueError("checksum mismatch in meta (its SHA-256 differs from the saved one)")


def _verify_json_item(meta: dict, item: str, value: Any) -> None:
    expected = meta.get("sha256", {}).get(item)
    if expected is not None and json_digest(value) != expected:
        raise ValueError(f"checksum mismatch in item {item!r} (its SHA-256 differs from the "
                         f"saved one)")


def verify_state(meta: dict, state: PyTree) -> None:
    """Raises ValueError naming the first leaf whose digest differs from meta's, or that holds
    NaN/Inf. Both are checked on this process's copy of each leaf (`_host_bytes`), so a state
    replicated over several processes' devices is verified by each of them."""
    expected = meta.get("sha256", {}).get(STATE)
    leaves, _ = jax.tree_util.tree_flatten_with_path(state)
    if expected is not None and len(expected) != len(leaves):
        raise ValueError(f"meta has {len(expected)} state digests for {len(leaves)} leaves")
    for i, (path, leaf) in enumerate(leaves):
        host = _host_bytes(leaf)
        if host is None:  # sharded across processes: no whole copy here
            continue
        want = None if expected is None else expected[i]
        if want is not None and hashlib.sha256(host.tobytes()).hexdigest() != want:
            raise ValueError(f"checksum mismatch in {_path_str(path)} (the SHA-256 of the "
                             f"restored array differs from the saved one)")
        if jax.numpy.issubdtype(leaf.dtype, jax.numpy.inexact) and not np.isfinite(host).all():
            raise ValueError(f"{_path_str(path)} holds NaN or Inf")


@jax.jit
def _all_finite_flags(leaves: list[jax.Array]) -> jax.Array:
    """One bool per leaf: all of its entries are finite (one compiled call for the whole tree)."""
    return jax.numpy.stack([jax.numpy.isfinite(leaf).all() for leaf in leaves])


def _on_host(leaf: Any) -> bool:
    devices = leaf.devices() if isinstance(leaf, jax.Array) else ()
    return not isinstance(leaf, jax.Array) or all(d.platform == "cpu" for d in devices)


def first_non_finite_leaf(state: PyTree) -> str | None:
    """The tree path of the first floating-point leaf holding NaN or Inf, or None.

    Leaves in host memory (numpy, CPU devices) are checked in place with numpy; the others on
    their devices in one compiled call, whose flags come back in one transfer.
    """
    leaves, _ = jax.tree_util.tree_flatten_with_path(state)
    floating = [(path, leaf) for path, leaf in leaves
                if jax.numpy.issubdtype(leaf.dtype, jax.numpy.inexact)]
    finite = {i: bool(np.isfinite(np.asarray(leaf)).all())
              for i, (_, leaf) in enumerate(floating) if _on_host(leaf)}
    on_device = [i for i in range(len(floating)) if i not in finite]
    if on_device:
        flags = jax.device_get(_all_finite_flags([floating[i][1] for i in on_device]))
        finite.update(zip(on_device, map(bool, flags)))
    bad = [i for i in range(len(floating)) if not finite[i]]
    return _path_str(floating[bad[0]][0]) if bad else None


def _abstract_leaf(leaf: Any, default_sharding: jax.sharding.Sharding) -> jax.ShapeDtypeStruct:
    """A ShapeDtypeStruct with a sharding: the leaf's own, else one device."""
    sharding = getattr(leaf, "sharding", None) or default_sharding
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding)


class Checkpointer:
    """Saves and restores a GAN run's state, data iterator state and config in `directory`.

    Args:
      directory: where the step directories live (created when missing).
      max_to_keep: how many of the newest checkpoints to keep (None: all). Orbax deletes older
        ones after each save (its `LatestN` preservation policy).
      async_save: write in a background thread: `save` returns once the arrays are copied off the
        devices (so the caller may donate or overwrite them); call `wait_until_finished` or
        `close` before the process exits.
      save_interval_steps: the interval `should_save` answers for (Orbax's FixedIntervalPolicy).
        `save` itself always writes the step it is given.
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int | None = 3,
                 async_save: bool = True, save_interval_steps: int = 1):
        if max_to_keep is not None and max_to_keep < 1:
            raise CheckpointError(
                f"max_to_keep must be >= 1 (or None to keep all), got {max_to_keep}")
        if save_interval_steps < 1:
            raise CheckpointError(f"save_interval_steps must be >= 1, got {save_interval_steps}")
        self._directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=async_save,
            cleanup_tmp_directories=False,  # removed by _remove_stale_tmp, which says so
            save_decision_policy=ocp_managers.FixedIntervalPolicy(save_interval_steps),
            preservation_policy=ocp_managers.LatestN(n=max_to_keep),
            enable_should_save_is_saving_in_progress_check=False,
        )
        self._manager = ocp.CheckpointManager(
            self._directory, options=options, item_names=ITEM_NAMES,
            item_handlers={STATE: ocp.StandardCheckpointHandler(),
                           DATA: ocp.JsonCheckpointHandler(),
                           CONFIG: ocp.JsonCheckpointHandler(),
                           META: ocp.JsonCheckpointHandler()})
        self._name_format = ocp.path.step.standard_name_format()
        self._stale_tmp_checked = False
        self._closed = False
        self._saving: int | None = None  # the step of the last save started

    @property
    def directory(self) -> str:
        return self._directory

    # -- listing ---------------------------------------------------------------------------------

    def all_steps(self) -> list[int]:
        """Steps of the complete (committed) checkpoints on disk, oldest first.

        Read from the directory without touching the manager's own list, which also holds the
        steps still being written by this process.
        """
        if not os.path.isdir(self._directory):
            return []
        return sorted(m.step for m in self._name_format.find_all(self._directory))

    def latest_step(self) -> int | None:
        """The newest complete checkpoint's step, or None when there is none."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def should_save(self, step: int) -> bool:
        """Whether `step` is on the save interval and newer than the latest checkpoint."""
        return bool(self._manager.should_save(step))

    # -- saving ----------------------------------------------------------------------------------

    def save(self, step: int, state: GANState, data_state: dict, config: dict, *,
             wait: bool = False) -> bool:
        """Writes checkpoint `step` (asynchronously unless `wait` or `async_save=False`).

        Refuses a state with NaN/Inf (raises `NonFiniteStateError`, writes nothing). A step that
        is already saved or being saved is left as it is (returns False; `wait` still waits for
        it), so a final save at the step of the last periodic one is harmless. Returns True when
        a save was started.
        """
        step = int(step)
        bad = first_non_finite_leaf(state)
        if bad is not None:
            latest = self.latest_step()
            advice = ("lower the learning rate and start again" if latest is None else
                      f"lower the learning rate or resume from checkpoint step {latest}")
            raise NonFiniteStateError(
                f"refusing to checkpoint step {step}: {bad} contains NaN or Inf (training "
                f"diverged); {advice}")
        data_json = _to_json_dict(data_state, "data iterator state")
        config_json = _to_json_dict(config, "config")
        if not self._stale_tmp_checked:
            self._remove_stale_tmp()
            self._stale_tmp_checked = True
        if step in self._manager.all_steps() or step in self.all_steps():
            logger.info("checkpoint step %d already in %s; not saving it again", step,
                        self._directory)
            if wait:  # the earlier save of this step may still be writing
                self.wait_until_finished()
            return False
        meta = _meta_with_digest({
            "format": META_FORMAT, "step": step, "leaves": _leaf_specs(state),
            "sha256": {STATE: leaf_digests(state), DATA: json_digest(data_json),
                       CONFIG: json_digest(config_json)}})
        self._saving = step
        try:
            self._manager.save(step, force=True, args=ocp.args.Composite(**{
                STATE: ocp.args.StandardSave(state),
                DATA: ocp.args.JsonSave(data_json),
                CONFIG: ocp.args.JsonSave(config_json),
                META: ocp.args.JsonSave(meta),
            }))
        except Exception as err:  # noqa: BLE001 - e.g. ENOSPC before the background write
            self._raise_write_error(step, err)
        logger.info("saving checkpoint step %d to %s", step, self._directory)
        if wait:
            self.wait_until_finished()
        return True

    def _raise_write_error(self, step: int | None, err: BaseException):
        """A failed write as one CheckpointWriteError: which step, why, what is kept."""
        if isinstance(err, CheckpointWriteError):
            raise err
        cause = _os_error_in(err)
        reason = (f"{cause.strerror or cause}" if cause is not None else _short(err))
        kept = self.latest_step()
        kept_text = (f"checkpoint step {kept} is still the latest and restorable"
                     if kept is not None else "no earlier checkpoint exists")
        advice = ("free space on that disk, then run the same command to resume"
                  if cause is not None and cause.errno == errno.ENOSPC else
                  "fix the cause, then run the same command to resume")
        which = f"checkpoint step {step}" if step is not None else "a checkpoint"
        error = CheckpointWriteError(
            cause.errno if cause is not None else errno.EIO,
            f"could not write {which} to {self._directory} ({reason}); {kept_text}: {advice}")
        raise error from err

    def _remove_stale_tmp(self) -> None:
        """Removes temporary directories left by interrupted writes, logging each one."""
        if jax.process_index() != 0 or not os.path.isdir(self._directory):
            return
        for name in sorted(os.listdir(self._directory)):
            if TMP_SUFFIX in name:
                path = os.path.join(self._directory, name)
                logger.warning("removing %s: an unfinished checkpoint write from an interrupted "
                               "run (it was never complete)", path)
                shutil.rmtree(path, ignore_errors=True)

    def wait_until_finished(self) -> None:
        """Blocks until every started save is committed; a failed background save raises
        `CheckpointWriteError`."""
        try:
            self._manager.wait_until_finished()
        except Exception as err:  # noqa: BLE001 - the background write's error, whatever its type
            self._raise_write_error(self._saving, err)

    def close(self) -> None:
        """Waits for pending saves, then releases Orbax's resources (a second call does nothing)."""
        if self._closed:
            return
        try:
            self.wait_until_finished()
        finally:
            self._closed = True
            try:
                self._manager.close()
            except Exception as err:  # noqa: BLE001 - e.g. ENOSPC finishing a failed save
                self._raise_write_error(self._saving, err)

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- restoring -------------------------------------------------------------------------------

    def _read_json(self, step: int, item: str) -> dict:
        restored = self._manager.restore(step, args=ocp.args.Composite(
            **{item: ocp.args.JsonRestore()}))
        value = restored[item]
        if not isinstance(value, dict):
            raise ValueError(f"item {item!r} is {type(value).__name__}, not a dict")
        return value

    def saved_config(self, step: int | None = None) -> dict | None:
        """The config saved with `step` (default: the newest readable checkpoint), or None."""
        if step is not None:
            try:
                return self._read_json(int(step), CONFIG)
            except Exception as e:  # noqa: BLE001 - any read failure means unusable
                raise CheckpointError(
                    f"cannot read the config of checkpoint step {step} in {self._directory}: "
                    f"{_short(e)}") from None
        for s in reversed(self.all_steps()):
            try:
                return self._read_json(s, CONFIG)
            except Exception as e:  # noqa: BLE001
                self._report_unreadable(s, e, move_aside=False)
        return None

    def restore(self, abstract_state: GANState, *, config: dict | None = None,
                step: int | None = None, move_corrupt: bool = True) -> Restored:
        """The newest usable checkpoint (or `step`) restored onto `abstract_state`'s layout.

        Args:
          abstract_state: the state's structure, e.g. `jax.eval_shape(create_train_state, gan,
            key)`; leaves (ShapeDtypeStructs or arrays) with a `.sharding` are placed on it, leaves
            without one on the first device.
          config: the current config; when the checkpoint's shapes differ from `abstract_state`
            the error names the config keys that differ from the saved config.
          step: a specific step (no fall-back when it is unusable).
          move_corrupt: move a corrupt step aside into corrupt/ (the writer); False only skips it
            (readers, which must not change a workdir another process trains in).

        Every step is verified before it is returned: meta's own digest, the digests of the data
        and config items and of every state leaf, and that the state holds no NaN/Inf.

        Raises:
          CheckpointError: no checkpoint, no usable checkpoint, or shapes that do not match.
        """
        default_sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        target = jax.tree.map(lambda leaf: _abstract_leaf(leaf, default_sharding), abstract_state)
        current_specs = _leaf_specs(target)
        current_config = None if config is None else _to_json_dict(config, "config")

        steps = self.all_steps()
        if step is not None:
            if int(step) not in steps:
                raise CheckpointError(
                    f"no complete checkpoint for step {step} in {self._directory} "
                    f"(available: {steps or 'none'})")
            candidates = [int(step)]
        else:
            candidates = list(reversed(steps))
        if not candidates:
            raise CheckpointError(f"no checkpoint in {self._directory}")

        skipped = []

        def unusable(s: int, e: Exception) -> None:
            # a corrupt step: an error when asked for by number, else reported and skipped
            if step is not None:
                raise CheckpointError(f"checkpoint step {s} in {self._directory} is unusable: "
                                      f"{_short(e)}") from None
            self._report_unreadable(s, e, move_aside=move_corrupt)
            skipped.append(s)

        for s in candidates:
            try:
                meta = self._read_json(s, META)
                _verify_meta(meta)
                saved_config = self._read_json(s, CONFIG)
                _verify_json_item(meta, CONFIG, saved_config)
                saved_specs = meta["leaves"]
            except Exception as e:  # noqa: BLE001 - unreadable metadata: corrupt step
                unusable(s, e)
                continue
            self._check_fits(s, saved_specs, current_specs, saved_config, current_config)
            try:
                with _quiet_failed_read_noise():
                    restored = self._manager.restore(s, args=ocp.args.Composite(**{
                        STATE: ocp.args.StandardRestore(target),
                        DATA: ocp.args.JsonRestore(),
                    }))
                state = restored[STATE]
                if _leaf_specs(state) != saved_specs:
                    raise ValueError("restored arrays do not match the saved leaf list")
                _verify_json_item(meta, DATA, restored[DATA])
                verify_state(meta, state)
            except Exception as e:  # noqa: BLE001 - unreadable or altered arrays: corrupt step
                unusable(s, e)
                continue
            if skipped:
                logger.warning("restored checkpoint step %d from %s after skipping corrupt "
                               "step(s) %s", s, self._directory, skipped)
            else:
                logger.info("restored checkpoint step %d from %s", s, self._directory)
            changes = [] if current_config is None else _config_changes(saved_config,
                                                                         current_config)
            if changes:
                logger.info("config differs from the one checkpoint step %d was saved with "
                            "(shapes agree): %s", s,
                            ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in changes))
            return Restored(state=state, data_state=dict(restored[DATA] or {}),
                            config=saved_config, step=s)
        where = (f"moved to {os.path.join(self._directory, CORRUPT_DIRNAME)}" if move_corrupt
                 else "left in place")
        raise CheckpointError(
            f"no usable checkpoint in {self._directory}: step(s) {skipped} are corrupt ({where}); "
            f"start a new --workdir")

    def _check_fits(self, step: int, saved_specs: list, current_specs: list,
                    saved_config: dict, current_config: dict | None) -> None:
        difference = _first_spec_difference(saved_specs, current_specs)
        if difference is None:
            return
        changes = [] if current_config is None else _config_changes(saved_config,
                                                                     current_config)
        if changes:
            was = ", ".join(f"{k}={a!r}" for k, a, _ in changes)
            now = ", ".join(f"{k}={b!r}" for k, _, b in changes)
            raise CheckpointError(
                f"workdir {self._directory} was trained with {was}; this config has {now}, which "
                f"changes the state's shapes ({difference}): use a new --workdir or the old config")
        raise CheckpointError(
            f"checkpoint step {step} in {self._directory} does not fit this state ({difference}): "
            f"use a new --workdir or the config it was trained with")

    def _report_unreadable(self, step: int, error: Exception, *, move_aside: bool) -> None:
        """Warns (warnings + log) about an unreadable step; optionally moves it out of the way."""
        where = ""
        if move_aside and jax.process_index() == 0:
            source = os.path.join(self._directory, str(step))
            corrupt_dir = os.path.join(self._directory, CORRUPT_DIRNAME)
            target = os.path.join(corrupt_dir, str(step))
            n = 1
            while os.path.exists(target):
                target = os.path.join(corrupt_dir, f"{step}.{n}")
                n += 1
            try:
                os.makedirs(corrupt_dir, exist_ok=True)
                os.rename(source, target)
                where = f"; moved it to {target}"
            except OSError as e:
                where = f"; could not move it aside ({e})"
            if not self._manager.is_saving_in_progress():
                self._manager.reload()
        message = (f"checkpoint step {step} in {self._directory} is corrupt or incomplete "
                   f"({_short(error)}); skipping it{where}")
        logger.warning(message)
        warnings.warn(message, CorruptCheckpointWarning, stacklevel=3)


class _DropOrphanedTaskErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "exception was never retrieved" not in record.getMessage()


@contextlib.contextmanager
def _quiet_failed_read_noise(settle_s: float = 0.05, max_wait_s: float = 1.0):
    """Hides the echoes of a failed Orbax read; every other report still goes through.

    When one array of a corrupt checkpoint fails to read, Orbax closes its event loop while
    TensorStore still completes the other reads: each completion reports an unraisable
    'RuntimeError: Event loop is closed', and asyncio logs 'Task exception was never retrieved'
    with a full TensorStore spec. The one warning `restore` gives says it all, so only those two
    kinds are dropped (through `sys.unraisablehook` and a filter on the 'asyncio' logger).
    """
    log = logging.getLogger("asyncio")
    quiet = _DropOrphanedTaskErrors()
    previous_hook = sys.unraisablehook
    last_dropped = [time.monotonic()]

    def hook(unraisable):
        value = unraisable.exc_value
        if isinstance(value, RuntimeError) and str(value) == "Event loop is closed":
            last_dropped[0] = time.monotonic()
            return
        previous_hook(unraisable)

    log.addFilter(quiet)
    sys.unraisablehook = hook
    try:
        yield
    except BaseException:
        deadline = time.monotonic() + max_wait_s  # let the stray completions arrive
        while time.monotonic() < deadline and time.monotonic() - last_dropped[0] < settle_s:
            time.sleep(settle_s / 2)
        gc.collect()  # orphaned tasks are reported when collected: do it while filtered
        raise
    finally:
        sys.unraisablehook = previous_hook
        log.removeFilter(quiet)


def _os_error_in(err: BaseException | None) -> OSError | None:
    """The first OSError in `err`'s chain of causes and contexts (Orbax wraps some)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError):
            return err
        err = err.__cause__ or err.__context__
    return None


def _short(error: BaseException, limit: int = 200) -> str:
    """One line of an exception: its type and the start of its message."""
    text = " ".join(str(error).split())
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"{type(error).__name__}: {text}"
