"""The issue 21 session 8 benchmark helpers: benchmarks/toy_step_ops.py's HLO op count of a scan
body (on a hand-written HLO text, so the expected counts are known) and toy_loop_speed.py's
NPROC setting (only before JAX's backends exist, never over a user's value)."""
from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import toy_loop_speed  # noqa: E402
import toy_step_ops  # noqa: E402

HLO = """HloModule m

small_body {
  p = (s32[], f32[2]{0}) parameter(0)
  a = f32[2]{0} fusion(g), kind=kLoop
}

step_body {
  p = (s32[], f32[4]{0}) parameter(0)
  i = s32[] get-tuple-element(p), index=0
  c = f32[4]{0} copy(x)
  f1 = f32[4]{0} fusion(c), kind=kLoop, calls=f
  f2 = f32[4]{0} fusion(f1), kind=kLoop, calls=f
  d = f32[4,4]{1,0} dot(a, b), lhs_contracting_dims={1}
  t = (s32[], f32[4]{0}) tuple(i, f2)
  w = (s32[], f32[2]{0}) while(t), condition=cond, body=small_body
}

ENTRY main {
  x = (s32[], f32[4]{0}) while(y), condition=cond, body=step_body
}
"""


def test_body_op_counts_reads_the_largest_while_body_without_bookkeeping_ops():
    counts = toy_step_ops.body_op_counts(HLO)
    assert dict(counts) == {"copy": 1, "fusion": 2, "dot": 1, "while": 1}


def test_set_xla_threads_only_before_the_backends_and_not_over_a_users_value(monkeypatch):
    from jax._src import xla_bridge

    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: False)
    monkeypatch.delenv("NPROC", raising=False)
    toy_loop_speed.set_xla_threads(1)
    assert toy_loop_speed.os.environ["NPROC"] == "1"
    monkeypatch.setenv("NPROC", "2")
    toy_loop_speed.set_xla_threads(1)
    assert toy_loop_speed.os.environ["NPROC"] == "2"
    monkeypatch.setattr(xla_bridge, "backends_are_initialized", lambda: True)
    with pytest.raises(ValueError, match="before the first computation"):
        toy_loop_speed.set_xla_threads(1)
