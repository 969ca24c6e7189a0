"""Test set-up: 8 simulated CPU devices for the data-parallel tests; a private TFDS data_dir; one
persistent XLA compilation cache shared by the run's processes.

The device flag must be set before JAX creates its backends, so it is set here, at import time.
Each test process (each pytest-xdist worker) builds the embedded digits into its own temporary
TFDS data_dir, so parallel workers never race on one directory and the user's
~/tensorflow_datasets is left alone.
"""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
# XLA:CPU aborts the whole process (SIGABRT: an xdist "worker crashed") when one simulated device
# joins a collective 40 s after the others (warning at 20 s): measured with a pmap psum whose device
# 0 is held back (tests of issue 20). On a machine loaded by other work a starved device thread can
# be that late; the test should then be slow, not kill its worker. Flags of jaxlib >= 0.10.
_COLLECTIVE_TIMEOUTS = {"--xla_cpu_collective_call_warn_stuck_timeout_seconds": "120",
                        "--xla_cpu_collective_call_terminate_timeout_seconds": "1200"}


def _jaxlib_at_least(major: int, minor: int) -> bool:
    from importlib import metadata

    try:
        version = tuple(int(p) for p in metadata.version("jaxlib").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return version >= (major, minor)


if _jaxlib_at_least(0, 10):
    _flags = os.environ.get("XLA_FLAGS", "").split()
    _flags += [f"{name}={value}" for name, value in _COLLECTIVE_TIMEOUTS.items()
               if not any(f.startswith(name + "=") for f in _flags)]
    os.environ["XLA_FLAGS"] = " ".join(_flags)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Many tests compile the same step (the digits default's in the CLI, EMA, monitor and precision
# tests; the same tiny networks in several files): JAX's persistent compilation cache lets every
# later compile of the same program load the executable instead (measured: tests/test_digits_default
# 76 -> 49 CPU-s). The cache is new and empty for each test run (made by the first process, which
# xdist workers and CLI subprocesses inherit through the environment, and removed by it at exit),
# so a run never loads what another version of the code compiled; a user's own cache dir is kept.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxgan-tests-xla-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
os.environ["TFDS_DATA_DIR"] = tempfile.mkdtemp(
    prefix=f"jaxgan-tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
atexit.register(shutil.rmtree, os.environ["TFDS_DATA_DIR"], ignore_errors=True)
