"""Test set-up: 8 simulated CPU devices for the data-parallel tests; a private TFDS data_dir.

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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TFDS_DATA_DIR"] = tempfile.mkdtemp(
    prefix=f"jaxgan-tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
atexit.register(shutil.rmtree, os.environ["TFDS_DATA_DIR"], ignore_errors=True)
