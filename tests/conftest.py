"""Test set-up: 8 simulated CPU devices for the data-parallel tests.

The flag must be set before JAX creates its backends, so it is set here, at import time.
"""
import os

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
