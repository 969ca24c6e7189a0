"""One writer per workdir: an OS file lock on DIR/.jaxgan.lock, held while `jaxgan train` runs.

The lock is `fcntl.flock(LOCK_EX | LOCK_NB)` on an open file description of DIR/.jaxgan.lock. The
kernel releases it when the holder closes the file or dies, so SIGKILL, an out-of-memory kill or a
power cut never leave a stale lock that someone must delete by hand; the file itself stays and
says who held it last. The holder writes one JSON line into it: pid, host, process index and count,
start time (UTC) and the command line, which a second writer's error message repeats:

    workdir runs/r is in use by another `jaxgan train` (pid 4242 on host gpu-3, process 0 of 1,
    since 2026-12-01 22:41:07 UTC): wait for it to finish or stop it (kill -TERM 4242 checkpoints
    and stops it), or use another --workdir

Readers (`jaxgan sample`, `eval`, `interpolate`) take no lock: checkpoints appear atomically (Orbax
renames a finished step directory), so a reader always sees complete steps while a run trains.

Multi-host runs: only process 0 takes the lock (the other processes write no run files; their
share of a checkpoint goes through Orbax's own coordination), so the holder named is process 0 of
N. flock is local to one machine on most network file systems; two runs started on different hosts
against one shared directory are only caught where the file system forwards flock (NFSv4, Lustre
with -o flock).
"""
from __future__ import annotations

import datetime
import errno
import fcntl
import json
import logging
import os
import pathlib
import socket
import sys

LOCK_FILE = ".jaxgan.lock"
# flock errors meaning "this file system has no locks" (not "someone holds it")
UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP)

logger = logging.getLogger(__name__)


class WorkdirLockedError(ValueError):
    """Another live process holds the workdir's lock (bad input: exit status 2)."""


def _holder_text(info: dict) -> str:
    pid = info.get("pid", "?")
    parts = [f"pid {pid} on host {info.get('host', '?')}"]
    if "process_index" in info:
        parts.append(f"process {info['process_index']} of {info.get('process_count', 1)}")
    if "started" in info:
        parts.append(f"since {info['started']}")
    return ", ".join(parts)


def read_holder(workdir: str | os.PathLike) -> dict | None:
    """The holder record written into DIR/.jaxgan.lock (the last holder's if none holds it now)."""
    try:
        text = (pathlib.Path(workdir) / LOCK_FILE).read_text().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


class WorkdirLock:
    """The exclusive lock of one workdir. `acquire()` raises WorkdirLockedError naming the holder;
    `release()` (or the process's death) frees it. Usable as a context manager."""

    def __init__(self, workdir: str | os.PathLike, process_index: int = 0, process_count: int = 1):
        self.workdir = pathlib.Path(workdir)
        self.path = self.workdir / LOCK_FILE
        self.process_index = process_index
        self.process_count = process_count
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "WorkdirLock":
        if self._fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in UNSUPPORTED:  # e.g. NFSv3 without lockd: run, but say so
                logger.warning("cannot lock workdir %s (%s): this file system has no file "
                               "locks, so nothing stops a second `jaxgan train` on it",
                               self.workdir, err.strerror)
                self._fd = fd
                return self
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            info = read_holder(self.workdir)
            who = (_holder_text(info) if info else
                   "a process that has not written its details yet")
            pid = info.get("pid") if info else None
            stop = f" (kill -TERM {pid} checkpoints and stops it)" if pid else ""
            raise WorkdirLockedError(
                f"workdir {self.workdir} is in use by another `jaxgan train` ({who}): wait for "
                f"it to finish or stop it{stop}, or use another --workdir") from None
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "process_index": self.process_index, "process_count": self.process_count,
                  "started": started, "command": " ".join(sys.argv)}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only its description is missing
        self._fd = fd
        return self

    def release(self) -> None:
        """Frees the lock (the file and its last holder record stay)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass  # never locked (a file system without locks); closing is all there is
        finally:
            os.close(fd)

    def __enter__(self) -> "WorkdirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
