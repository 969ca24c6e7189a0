"""benchmarks/toy_loop_speed.py's clock (issue 21 session 7): the rate of a run is read between
clock marks inside the run, so set-up, compilation and the final checkpoint stay out of it.

The former method (the time difference of a short and a long run) reported the per-step loop at
6,329 steps/s on the idle machine, 2.4× its own CPU rate on 2 cores; a single compiled toy step
costs ~0.75 ms there (benchmarks/README.md, "#21 session 7"). These tests pin the window logic
with a fake clock: marks only at multiples of K from the warm-up on, and the rate between the
first and the last mark."""
from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import toy_loop_speed  # noqa: E402


class FakeTime:
    """A clock at `step`: 2 ms of wall time and 1 ms of CPU time per step."""

    def __init__(self):
        self.step = 0

    def perf_counter(self) -> float:
        return 0.002 * self.step

    def process_time(self) -> float:
        return 0.001 * self.step


def test_clock_window_starts_after_warmup_and_counts_only_call_boundaries(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(toy_loop_speed, "time", fake)
    clock = toy_loop_speed.Clock(every=10, warmup=25)
    for step in range(1, 101):
        fake.step = step + (1000 if step <= 25 else 0)  # a slow start (compilation): excluded
        clock(step, {})
    assert [m[0] for m in clock.marks] == [30, 40, 50, 60, 70, 80, 90, 100]
    wall, cpu, steps = clock.rates()
    assert steps == 70
    assert wall == pytest.approx(500.0)  # 1 step per 2 ms
    assert cpu == pytest.approx(1000.0)  # 1 step per CPU-ms


def test_clock_refuses_a_window_without_steps():
    clock = toy_loop_speed.Clock(every=1000, warmup=0)
    clock(1000, {})
    with pytest.raises(ValueError, match="too short"):
        clock.rates()
