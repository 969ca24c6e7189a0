"""What a run reports while it trains: metrics.jsonl, TensorBoard events, a progress display.

* `MetricsFile`: DIR/metrics.jsonl, one JSON object per logged step. On resume from step S the
  records after S (written by the interrupted run after its last checkpoint) are dropped, so the
  file always describes one consistent history.
* `TensorBoard`: tensorboardX event files under DIR/tensorboard (scalars and images); on resume,
  events after the restored step are purged (tensorboardX `purge_step`).
* `Progress`: on a terminal, a one-line bar redrawn in place (step, steps/s, ETA, losses); otherwise
  (CI, a file) plain lines every `log_every` steps.

Only process 0 of a multi-process run writes (`RunLog(enabled=jax.process_index() == 0)`).
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import sys
import time
from collections.abc import Mapping
from typing import IO

import numpy as np

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
PROGRESS_KEYS = ("d_loss", "g_loss", "penalty")


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics.jsonl file (a torn last line from a crash is skipped)."""
    records = []
    path = pathlib.Path(path)
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _json_value(value):
    value = np.asarray(value)
    if value.dtype == bool:
        return bool(value)
    number = float(value)
    # JSON has no NaN/Infinity: write them as strings so every line stays valid JSON.
    return number if math.isfinite(number) else str(number)


class MetricsFile:
    """Appends one JSON object per logged step to DIR/metrics.jsonl."""

    def __init__(self, workdir: pathlib.Path, resume_step: int = 0):
        self.path = workdir / METRICS_FILE
        kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._file = self.path.open("a")

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        record = {"step": int(step), **{k: _json_value(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as err:  # the last flush failed (a full disk): say which file
            raise OSError(err.errno, err.strerror, os.fspath(self.path)) from err


def _summary_writer_class():
    """tensorboardX.SummaryWriter, imported without PyTorch.

    tensorboardX imports torch, when installed, only to recognise torch tensors; that costs seconds
    of start-up and jaxgan passes numpy arrays. So torch is hidden while tensorboardX is imported
    (unless either is already loaded).
    """
    if "tensorboardX" in sys.modules or "torch" in sys.modules:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    sys.modules["torch"] = None  # makes `import torch` raise ImportError
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter


class TensorBoard:
    """Scalars and images for TensorBoard (`tensorboard --logdir DIR`)."""

    def __init__(self, workdir: pathlib.Path, resume_step: int = 0):
        self.logdir = workdir / TENSORBOARD_DIR
        self._writer = _summary_writer_class()(logdir=str(workdir / TENSORBOARD_DIR),
                                     purge_step=resume_step + 1 if resume_step else None)

    def scalars(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self._writer.add_scalar(f"train/{key}", float(value), step)

    def text(self, tag: str, step: int, text: str) -> None:
        self._writer.add_text(tag, text, step)

    def image(self, tag: str, step: int, picture: np.ndarray) -> None:
        """`picture`: uint8 [H, W, C]."""
        picture = np.asarray(picture, np.uint8)
        if picture.ndim == 2:
            picture = picture[..., None]
        if picture.shape[-1] == 1:
            picture = np.repeat(picture, 3, axis=-1)
        self._writer.add_image(tag, picture, step, dataformats="HWC")

    def close(self) -> None:
        """Flushes and closes the event file. When the flush fails (a full disk) the writer is
        stopped all the same, so that tensorboardX does not retry (and fail again, with a
        traceback) at exit, and the OSError names the folder."""
        try:
            self._writer.close()
        except OSError as err:
            writers = getattr(self._writer, "all_writers", None) or {}
            for file_writer in writers.values():
                events = file_writer.event_writer
                events._closed = True  # tensorboardX's own flag: no flush at exit
                worker = getattr(events, "_worker", None)
                if worker is not None:
                    try:
                        worker.stop()
                    except Exception:  # noqa: BLE001 - best effort on a broken writer
                        pass
            raise OSError(err.errno, err.strerror, os.fspath(self.logdir)) from err


def format_duration(seconds: float) -> str:
    """h:mm:ss or m:ss."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Step, steps/s, ETA and the current losses: a bar on a terminal, plain lines elsewhere.

    The rate counts only steps after the first one of this session (which includes compilation).
    """

    def __init__(self, total: int, start: int, log_every: int, stream: IO[str] | None = None,
                 interactive: bool | None = None, clock=time.monotonic):
        self.total, self.start, self.log_every = total, start, log_every
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._clock = clock
        self._first: tuple[int, float] | None = None  # (step, time) after the first step
        self._last_draw = -math.inf
        self._drawn = False

    def rate(self, step: int) -> float:
        """Steps per second since the first step of this session (nan until two steps ran)."""
        if self._first is None or step <= self._first[0]:
            return math.nan
        return (step - self._first[0]) / max(self._clock() - self._first[1], 1e-9)

    def line(self, step: int, metrics: Mapping[str, float]) -> str:
        rate = self.rate(step)
        eta = (self.total - step) / rate if rate > 0 else math.nan
        losses = " ".join(f"{k} {float(metrics[k]):.4f}" for k in PROGRESS_KEYS if k in metrics)
        rate_text = f"{rate:.2f}" if math.isfinite(rate) else "?"
        return (f"step {step}/{self.total}  {rate_text} steps/s  ETA {format_duration(eta)}  "
                f"{losses}")

    def update(self, step: int, metrics: Mapping[str, float]) -> None:
        now = self._clock()
        if self._first is None:
            self._first = (step, now)
        if self.interactive:
            if now - self._last_draw >= 0.1 or step == self.total:
                width = 24
                filled = int(width * step / max(self.total, 1))
                bar = "#" * filled + "." * (width - filled)
                self.stream.write(f"\r[{bar}] {self.line(step, metrics)}\x1b[K")
                self.stream.flush()
                self._last_draw, self._drawn = now, True
        elif step % self.log_every == 0 or step == self.total:
            self.stream.write(self.line(step, metrics) + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (ends the bar's line first)."""
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class RunLog:
    """metrics.jsonl + TensorBoard + progress for one run; silent when not `enabled`."""

    def __init__(self, workdir: pathlib.Path, *, total_steps: int, start_step: int,
                 log_every: int, enabled: bool = True, stream: IO[str] | None = None):
        self.enabled, self.log_every, self.total_steps = enabled, log_every, total_steps
        self.progress = Progress(total_steps, start_step, log_every, stream=stream)
        self.metrics_file = MetricsFile(workdir, start_step) if enabled else None
        self.tensorboard = TensorBoard(workdir, start_step) if enabled else None

    def step(self, step: int, metrics: Mapping[str, float], force: bool = False) -> None:
        """Called after every step with its host metrics; writes every `log_every` steps, at the
        run's last step (so a run shorter than `log_every` still leaves a record) and at this one
        if `force`."""
        if not self.enabled:
            return
        self.progress.update(step, metrics)
        if force or step % self.log_every == 0 or step == self.total_steps:
            logged = {**metrics, "steps_per_sec": self.progress.rate(step)}
            logged = {k: v for k, v in logged.items() if not (k == "steps_per_sec" and
                                                              not math.isfinite(v))}
            self.metrics_file.write(step, logged)
            self.tensorboard.scalars(step, logged)

    def image(self, tag: str, step: int, picture: np.ndarray) -> None:
        if self.enabled:
            self.tensorboard.image(tag, step, picture)

    def message(self, text: str) -> None:
        if self.enabled:
            self.progress.message(text)

    def warning(self, step: int, text: str) -> None:
        """A warning line on the console and as TensorBoard text (tag 'warnings')."""
        if self.enabled:
            self.progress.message(text)
            self.tensorboard.text("warnings", step, text)

    def close(self) -> None:
        """Closes every part, even when one fails; then raises the first failure."""
        if not self.enabled:
            return
        errors = []
        for part in (self.progress, self.metrics_file, self.tensorboard):
            try:
                part.close()
            except OSError as err:
                errors.append(err)
        if errors:
            raise errors[0]
