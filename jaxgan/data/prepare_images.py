"""Your own images as a TFDS data set: a folder, a .zip or a .npz/.npy array -> array_record.

    prepare_images("photos/", "my_photos", data_dir="~/tensorflow_datasets", resolution=64)
    jaxgan prepare photos/ --name my_photos --resolution 64          (the same from the shell)

then `jaxgan train --config.dataset=my_photos --config.data_dir=D --config.resolution=64
--config.channels=3` reads it like any TFDS catalog set (`tfds.builder('my_photos', data_dir=D)`
finds it by its files; no TensorFlow and no network are needed, now or later).

SOURCE:
* a folder, searched recursively (names starting with '.' and __MACOSX are skipped; files whose
  extension Pillow cannot open are ignored and counted);
* a .zip of such files (its root plays the folder's part; when all its entries lie in one
  top-level folder, as when a folder was zipped, that folder's inside does);
* a .npy array x, or a .npz with x and optionally y: x is [N, H, W] or [N, H, W, C] with C in
  1, 2 (grey + alpha), 3, 4 (RGBA); uint8 in [0, 255] is taken as is, a float array must lie in
  [0, 1] and becomes round(255 x); y holds integer labels >= 0 (class names '0', '1', ...).
  A .npy is memory-mapped and read in chunks; a .npz is loaded whole.
Pixels in the data set are uint8 0..255; the training pipeline maps them to [−1, 1] by
x = u / 127.5 − 1 (jaxgan.data.convert.to_unit_range).

Every image goes through jaxgan.data.image_decode (modes, alpha, 16 bit, crop, resize filters).
Labels: labels='folders' makes the sorted first-level subfolder names the classes (kept in the
ClassLabel feature, label.labels.txt, so `sample --label NAME` and eval can name them); None/'none'
stores no label (arrays: y is used when present unless labels='none').

Deterministic: files are taken in sorted order of their path components, records are written in
that order (no shuffling: example i is the i-th file), PNG-encoded by Pillow; two preparations of
the same input are byte-identical. `content_sha256` (in metadata.json, in the summary, in every
run's config.json as `data_sha256` and in eval.json's protocol) is
    sha256( "jaxgan-prepare-v1 RxRxC " + json(class_names) + "\\n"
            + for each example in order: int64-LE label (−1 when unlabelled)
                                         + its R·R·C uint8 pixels, row-major )
so it names the pixels and labels themselves, independent of the PNG/array_record bytes.

Streaming, bounded memory: files are decoded by a pool of `workers` processes in chunks of
CHUNK_SIZE, at most 2 chunks per worker in flight, and every record is written as soon as it
arrives; memory holds the sorted file list (~100 bytes per file) plus that window, whatever N is.
Atomic: everything is written in a temporary folder inside data_dir that is renamed to
data_dir/NAME only once complete; on any error or interruption it is removed.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import struct
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan.data import image_decode
from jaxgan.data.errors import DataError

VERSION = "1.0.0"
SPLIT = "train"
CHUNK_SIZE = 64              # images per worker task
CHUNKS_IN_FLIGHT = 2         # per worker
SHARD_BYTES = 256 << 20      # a new array_record shard after this many record bytes
NAMED_SKIPS = 5              # skipped files named in the summary
HASH_FORMAT = "jaxgan-prepare-v1"
RESERVED_NAMES = ("digits", "ring8", "grid25", "sklearn_digits")
ARRAY_SUFFIXES = (".npy", ".npz")
LABEL_MODES = ("folders", "none")
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def image_extensions() -> frozenset[str]:
    """Lower-case file extensions of the formats Pillow can open ('.png', '.jpg', ...)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items()
                     if fmt in Image.OPEN)


class ContentHash:
    """The running `content_sha256` of a prepared set (formula in the module docstring)."""

    def __init__(self, resolution: int, channels: int, class_names: Sequence[str]):
        self._sha = hashlib.sha256(f"{HASH_FORMAT} {resolution}x{resolution}x{channels} "
                                   f"{json.dumps(list(class_names))}\n".encode())

    def update(self, label: int, pixels: np.ndarray) -> None:
        self._sha.update(struct.pack("<q", label))
        self._sha.update(np.ascontiguousarray(pixels, np.uint8).tobytes())

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


# --- what SOURCE holds ----------------------------------------------------------------------------

@dataclasses.dataclass
class Listing:
    """The images of SOURCE in order: file names (paths or zip members) or an array."""

    kind: str                        # 'files' | 'zip' | 'array'
    source: str
    names: list[str]                 # display names (relative paths / 'x[i]')
    members: list[str] | None        # zip members the workers open (folders: source/name)
    labels: np.ndarray | None        # int per image, or None
    class_names: list[str]
    ignored: int = 0                 # files that are not images (by extension)
    array: Any = None                # the x array (kind 'array')

    def __len__(self) -> int:
        return len(self.names)


def _hidden(parts: Sequence[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _select(relative: list[tuple[str, ...]], labels: str | None, source: str,
            class_dirs: Sequence[str] = ()) -> tuple[list[tuple[str, ...]], np.ndarray | None,
                                                       list[str], int]:
    """Image paths (as parts) in sorted order, their labels and the class names."""
    extensions = image_extensions()
    images = sorted(p for p in relative if os.path.splitext(p[-1])[1].lower() in extensions)
    ignored = len(relative) - len(images)
    if not images:
        found = f" ({ignored} other files ignored)" if ignored else ""
        raise DataError(f"no image files in {source}{found}: put PNG/JPEG/... files there "
                        f"(extensions Pillow opens, e.g. .png .jpg .bmp .webp .tif .gif)")
    if labels != "folders":
        return images, None, [], ignored
    loose = [p for p in images if len(p) == 1]
    if loose:
        raise DataError(f"--labels folders: {len(loose)} image(s) lie directly in {source} "
                        f"(e.g. {loose[0][0]}), not in a class folder; move them into one or use "
                        f"--labels none")
    class_names = sorted({p[0] for p in images})
    empty = sorted(set(class_dirs) - set(class_names))
    if empty:
        raise DataError(f"class folder '{empty[0]}' in {source} has no image files; add images "
                        f"or remove the folder")
    index = {name: k for k, name in enumerate(class_names)}
    return images, np.asarray([index[p[0]] for p in images], np.int64), class_names, ignored


def list_folder(folder: str, labels: str | None) -> Listing:
    relative, class_dirs = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _hidden([d]))
        parts = tuple(os.path.relpath(root, folder).split(os.sep)) if root != folder else ()
        if not parts:
            class_dirs = list(dirs)
        relative.extend((*parts, f) for f in files if not _hidden([f]))
    images, y, class_names, ignored = _select(relative, labels, folder, class_dirs)
    return Listing("files", folder, ["/".join(p) for p in images], None, y, class_names, ignored)


def list_zip(path: str, labels: str | None) -> Listing:
    """The images of a zip archive. Its root plays the folder's part, except that an archive whose
    entries all lie in one top-level folder (what zipping a folder gives) is read from inside it."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"cannot open the zip archive {path}: {err}") from None
    entries = []  # (parts, is_dir, member name)
    for info in infos:
        parts = tuple(p for p in info.filename.split("/") if p)
        if parts and not _hidden(parts):
            entries.append((parts, info.is_dir(), info.filename))
    tops = {parts[0] for parts, is_dir, _ in entries if len(parts) > 1 or is_dir}
    if len(tops) == 1 and all(len(parts) > 1 or is_dir for parts, is_dir, _ in entries):
        entries = [(parts[1:], is_dir, name) for parts, is_dir, name in entries if parts[1:]]
    relative, class_dirs, by_parts = [], set(), {}
    for parts, is_dir, name in entries:
        if len(parts) > 1 or is_dir:
            class_dirs.add(parts[0])
        if not is_dir:
            relative.append(parts)
            by_parts[parts] = name
    images, y, class_names, ignored = _select(relative, labels, path, sorted(class_dirs))
    return Listing("zip", path, ["/".join(p) for p in images], [by_parts[p] for p in images],
                   y, class_names, ignored)


def list_array(path: str, labels: str | None) -> Listing:
    if labels == "folders":
        raise DataError(f"--labels folders needs a folder or zip; {path} is an array (its labels "
                        f"come from y): drop --labels or use --labels none")
    try:
        if path.endswith(".npy"):
            x, y = np.load(path, mmap_mode="r", allow_pickle=False), None
        else:
            with np.load(path, allow_pickle=False) as arrays:
                if "x" not in arrays:
                    raise DataError(f"{path} has no array 'x' (it has {sorted(arrays.files)}); "
                                    f"save the images as x (and labels as y): np.savez(f, x=, y=)")
                x = arrays["x"]
                y = arrays["y"] if "y" in arrays else None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read the array file {path}: {str(err).splitlines()[0]}") from None
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 2, 3, 4)) or not len(x):
        raise DataError(f"x in {path} has shape {x.shape}; it must be [N, H, W] or [N, H, W, C] "
                        f"with N >= 1 and C in 1, 2, 3, 4")
    if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"x in {path} has dtype {x.dtype}; use uint8 in [0, 255] or float in "
                        f"[0, 1]")
    class_names: list[str] = []
    if y is not None and labels != "none":
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise DataError(f"y in {path} must be {len(x)} integer labels >= 0, got shape "
                            f"{y.shape} dtype {y.dtype}")
        y = y.astype(np.int64)
        class_names = [str(k) for k in range(int(y.max()) + 1)]
    else:
        y = None
    names = [f"x[{i}]" for i in range(len(x))]
    return Listing("array", path, names, None, y, class_names, array=x)


def list_source(source: str, labels: str | None) -> Listing:
    """What `source` holds, in the order it will be written; raises DataError when unusable."""
    path = os.path.abspath(os.path.expanduser(os.fspath(source)))
    if not os.path.exists(path):
        raise DataError(f"SOURCE {source} does not exist; give a folder of images, a .zip or a "
                        f".npz/.npy array")
    if os.path.isdir(path):
        return list_folder(path, labels)
    lower = path.lower()
    if lower.endswith(".zip"):
        return list_zip(path, labels)
    if lower.endswith(ARRAY_SUFFIXES):
        return list_array(path, labels)
    raise DataError(f"SOURCE {source} is a file that is neither a .zip nor a .npz/.npy array; "
                    f"give a folder of images, a .zip or an array")


def _array_chunk(x: np.ndarray, start: int, stop: int, source: str) -> np.ndarray:
    chunk = np.asarray(x[start:stop])
    if chunk.dtype == np.uint8:
        return chunk
    if not np.all(np.isfinite(chunk)) or chunk.min() < 0 or chunk.max() > 1:
        raise DataError(f"x in {source} is float but x[{start}:{stop}] has values outside [0, 1] "
                        f"(min {np.nanmin(chunk):g}, max {np.nanmax(chunk):g}); scale it to "
                        f"[0, 1] or save uint8 0..255")
    return np.rint(chunk.astype(np.float64) * 255).astype(np.uint8)


# --- checks before anything is written ------------------------------------------------------------

def check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise DataError(f"--name {name!r}: use lower-case letters, digits and '_', starting with "
                        f"a letter (e.g. my_photos)")
    if name in RESERVED_NAMES:
        raise DataError(f"--name {name!r} is a built-in jaxgan data set; choose another name")
    try:
        tfds.builder_cls(name)
    except tfds.core.registered.DatasetNotFoundError:
        return
    raise DataError(f"--name {name!r} is a TFDS catalog data set (training would read that one); "
                    f"choose another name")


def check_data_dir(data_dir: str) -> None:
    try:
        os.makedirs(data_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as err:
        raise DataError(f"cannot write to data_dir {data_dir} ({err.strerror or err}); choose a "
                        f"writable --data_dir") from None


def check_options(resolution, channels, crop, labels, background, workers) -> None:
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)
                                   or resolution < 1):
        raise DataError(f"--resolution must be a positive integer, got {resolution!r}")
    if channels not in (1, 3):
        raise DataError(f"--channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if crop not in image_decode.CROPS:
        raise DataError(f"--crop must be one of {', '.join(image_decode.CROPS)}, got {crop!r}")
    if labels is not None and labels not in LABEL_MODES:
        raise DataError(f"--labels must be one of {', '.join(LABEL_MODES)}, got {labels!r}")
    if isinstance(background, bool) or not isinstance(background, int) or \
            not 0 <= background <= 255:
        raise DataError(f"--background must be a grey level 0..255, got {background!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DataError(f"--workers must be a positive integer, got {workers!r}")


# --- decoding: in this process or a pool, in order, a bounded window ------------------------------

def _tasks(listing: Listing, options: dict) -> Iterator[tuple[Any, tuple]]:
    """(function, args) per chunk of CHUNK_SIZE images, in order."""
    for start in range(0, len(listing), CHUNK_SIZE):
        stop = min(start + CHUNK_SIZE, len(listing))
        if listing.kind == "array":
            yield image_decode.decode_arrays, (_array_chunk(listing.array, start, stop,
                                                            listing.source), options)
        elif listing.kind == "zip":
            yield image_decode.decode_files, (listing.source, listing.members[start:stop],
                                              options)
        else:
            paths = [os.path.join(listing.source, *n.split("/")) for n in listing.names[start:stop]]
            yield image_decode.decode_files, (None, paths, options)


def pool_context() -> multiprocessing.context.BaseContext:
    """'fork' where the OS has it (workers start at once and need no importable __main__; they run
    only numpy and Pillow, never JAX), else 'spawn'."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def decoded(listing: Listing, options: dict, workers: int) -> Iterator[image_decode.Result]:
    """Every image's result, in order; workers > 1 decode in a process pool with at most
    CHUNKS_IN_FLIGHT chunks per worker pending (a worker that dies raises BrokenProcessPool)."""
    tasks = _tasks(listing, options)
    if workers == 1:
        for function, args in tasks:
            yield from function(*args)
        return
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=pool_context()) as pool:
        pending: collections.deque = collections.deque()
        try:
            for function, args in tasks:
                pending.append(pool.submit(function, *args))
                if len(pending) >= workers * CHUNKS_IN_FLIGHT:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        except concurrent.futures.process.BrokenProcessPool:
            raise OSError("a decoding worker died (out of memory, or a crash inside an image "
                          "decoder); run with --workers 1 to see which file") from None
        finally:
            for future in pending:
                future.cancel()


# --- writing --------------------------------------------------------------------------------------

class ShardWriter:
    """array_record shards written as records arrive (TFDS's own record options, group_size:1)."""

    def __init__(self, directory: str, name: str):
        self.directory, self.name = directory, name
        self.shard_lengths: list[int] = []
        self.num_bytes = 0
        self._writer, self._shard_bytes = None, 0

    def _path(self, index: int, total: int | None) -> str:
        suffix = f"{index:05d}-of-{total:05d}" if total else f"{index:05d}-partial"
        return os.path.join(self.directory, f"{self.name}-{SPLIT}.array_record-{suffix}")

    def write(self, record: bytes) -> None:
        from array_record.python import array_record_module

        if self._writer is None:
            self._writer = array_record_module.ArrayRecordWriter(
                self._path(len(self.shard_lengths), None), "group_size:1")
            self.shard_lengths.append(0)
            self._shard_bytes = 0
        self._writer.write(record)
        self.shard_lengths[-1] += 1
        self._shard_bytes += len(record)
        if self._shard_bytes >= SHARD_BYTES:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def finish(self) -> None:
        """Closes the last shard and gives every shard its final name (...-00000-of-00003)."""
        self._close_shard()
        total = len(self.shard_lengths)
        for index in range(total):
            final = self._path(index, total)
            os.replace(self._path(index, None), final)
            self.num_bytes += os.path.getsize(final)


def _features(resolution: int, channels: int, class_names: Sequence[str], labelled: bool):
    features = {"image": tfds.features.Image(shape=(resolution, resolution, channels),
                                             encoding_format="png"),
                "file_name": tfds.features.Text()}
    if labelled:
        features["label"] = tfds.features.ClassLabel(names=list(class_names))
    return tfds.features.FeaturesDict(features)


class Progress:
    """A progress line on `stream`: done/total, images/s, ETA (redrawn in place on a terminal,
    a new line every `every` seconds otherwise)."""

    def __init__(self, total: int, name: str, stream: IO[str] | None):
        self.total, self.name, self.stream = total, name, stream
        self.start = self._last = time.monotonic()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.every = 0.2 if self.tty else 10.0

    def line(self, done: int) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / max(self.total, 1))
        return (f"prepare {self.name}: [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}"
                f" images, {rate:.0f} images/s, ETA {eta:.0f} s")

    def update(self, done: int, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r" + self.line(done) + ("\n" if force else ""))
        else:
            self.stream.write(self.line(done) + "\n")
        self.stream.flush()


@dataclasses.dataclass(frozen=True)
class PreparedImages:
    """What `prepare_images` wrote."""

    name: str
    path: str                      # data_dir/NAME/VERSION
    data_dir: str
    num_examples: int
    skipped: dict[str, int]        # reason -> count
    skipped_files: list[str]       # the first NAMED_SKIPS, "file (reason)"
    ignored: int                   # non-image files
    class_names: list[str]
    examples_per_class: list[int]
    resolution: int
    channels: int
    num_bytes: int
    content_sha256: str
    seconds: float

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """The last line `jaxgan prepare` prints."""
        skipped = f"{self.num_skipped} skipped"
        if self.num_skipped:
            skipped += " (" + "; ".join(self.skipped_files) + (
                ", ..." if self.num_skipped > len(self.skipped_files) else "") + ")"
        classes = (f"{len(self.class_names)} classes ({', '.join(self.class_names[:8])}"
                   f"{', ...' if len(self.class_names) > 8 else ''})" if self.class_names
                   else "no labels")
        ignored = f", {self.ignored} non-image files ignored" if self.ignored else ""
        return (f"prepared {self.name}: {self.num_examples} images written, {skipped}{ignored}, "
                f"{classes}, {self.resolution}x{self.resolution}x{self.channels}, "
                f"{self.num_bytes / 1e6:.1f} MB in {self.path}, sha256 {self.content_sha256[:16]}, "
                f"{self.seconds:.1f} s")


def prepare_images(source: str | os.PathLike, name: str, *, data_dir: str | os.PathLike | None
                   = None, resolution: int | None = None, channels: int = 3, crop: str = "center",
                   labels: str | None = None, background: int = 0, workers: int | None = None,
                   strict: bool = False, overwrite: bool = False,
                   progress: IO[str] | None = None) -> PreparedImages:
    """Prepares the images of `source` as TFDS data set `name` in `data_dir` (see module doc).

    Args:
      source: a folder (recursive), a .zip, or a .npz/.npy array.
      name: the data set's name (lower-case snake_case, not a TFDS catalog or jaxgan name).
      data_dir: TFDS data directory (default $TFDS_DATA_DIR or ~/tensorflow_datasets).
      resolution: stored side R; None keeps the images' (square) size, which must then agree.
      channels: 1 (grey, ITU-R 601-2 luma) or 3 (RGB).
      crop: 'center' (centre square crop) or 'none' (pad to a square with the background).
      labels: 'folders' (first-level subfolders are the classes) or None/'none'.
      background: grey level 0..255 under transparent pixels and in the padding.
      workers: decoding processes (default: os.cpu_count()); 1 decodes in this process.
      strict: stop at the first unreadable file instead of skipping it.
      overwrite: replace an existing data set `name` in `data_dir`.
      progress: stream for the progress line (None: silent).

    Raises DataError (one line) for every bad input; nothing is left in data_dir then.
    """
    from jaxgan.data.tfds_source import resolve_data_dir

    workers = (os.cpu_count() or 1) if workers is None else workers
    check_options(resolution, channels, crop, labels, background, workers)
    check_name(name)
    data_dir = resolve_data_dir(data_dir)
    target = os.path.join(data_dir, name)
    if os.path.exists(target) and not overwrite:
        raise DataError(f"data set '{name}' already exists in {target}; pass --overwrite to "
                        f"replace it, or choose another --name")
    listing = list_source(source, labels)
    check_data_dir(data_dir)

    start = time.monotonic()
    temporary = tempfile.mkdtemp(prefix=f".{name}.incomplete-", dir=data_dir)
    try:
        os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide the set from other users
        version_dir = os.path.join(temporary, VERSION)
        os.makedirs(version_dir)
        result = _write(listing, name, version_dir, dict(resolution=resolution, channels=channels,
                        crop=crop, background=background), workers, strict, progress, start,
                        data_dir)
        _replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return dataclasses.replace(result, path=os.path.join(target, VERSION),
                               seconds=time.monotonic() - start)


def _replace(temporary: str, target: str) -> None:
    """Renames the finished folder to `target`, moving an old set aside first (--overwrite)."""
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-",
                               dir=os.path.dirname(target))
        os.replace(target, os.path.join(old, "set"))
    os.replace(temporary, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(listing: Listing, name: str, version_dir: str, options: dict, workers: int,
           strict: bool, progress: IO[str] | None, start: float, data_dir: str) -> PreparedImages:
    from tensorflow_datasets.core import example_serializer

    labelled = listing.labels is not None
    resolution, channels = options["resolution"], options["channels"]
    writer = ShardWriter(version_dir, name)
    skipped: collections.Counter = collections.Counter()
    skipped_files: list[str] = []
    per_class = [0] * len(listing.class_names)
    features = serializer = content = None
    first_name = None
    bar = Progress(len(listing), name, progress)
    for index, result in enumerate(decoded(listing, options, workers)):
        shown = listing.names[index]
        if isinstance(result, str):
            if strict:
                raise DataError(f"{shown} in {listing.source} is not a readable image ({result}); "
                                f"fix or remove it, or drop --strict to skip such files")
            skipped[result] += 1
            if len(skipped_files) < NAMED_SKIPS:
                skipped_files.append(f"{shown}: {result}")
            bar.update(index + 1)
            continue
        png, pixels = result
        side = pixels.shape[0]
        if features is None:
            resolution, first_name = side, shown
            features = _features(side, channels, listing.class_names, labelled)
            serializer = example_serializer.ExampleSerializer(features.get_serialized_info())
            content = ContentHash(side, channels, listing.class_names)
        elif side != resolution:
            raise DataError(f"image sizes differ: {first_name} gives {resolution}x{resolution}, "
                            f"{shown} {side}x{side} (after --crop); pass --resolution N to resize "
                            f"them all to N x N")
        label = int(listing.labels[index]) if labelled else -1
        example = {"image": png, "file_name": shown}
        if labelled:
            example["label"] = label
            per_class[label] += 1
        writer.write(serializer.serialize_example(features.encode_example(example)))
        content.update(label, pixels)
        bar.update(index + 1)
    bar.update(len(listing), force=True)
    num_examples = sum(writer.shard_lengths)
    if num_examples == 0:
        first = f" (e.g. {skipped_files[0]})" if skipped_files else ""
        raise DataError(f"no readable image in {listing.source}: all {len(listing)} files were "
                        f"skipped{first}")
    empty = [n for n, count in zip(listing.class_names, per_class) if count == 0]
    if labelled and listing.kind != "array" and empty:
        raise DataError(f"class '{empty[0]}' has no readable image (all its files were skipped); "
                        f"fix its files or remove the folder")
    writer.finish()
    digest = content.hexdigest()
    metadata = {"content_sha256": digest, "source": listing.source,
                "options": {**options, "resolution": resolution,
                            "labels": "folders" if labelled and listing.kind != "array"
                            else ("y" if labelled else "none")},
                "num_examples": num_examples, "examples_per_class": per_class,
                "skipped": dict(sorted(skipped.items())), "ignored_non_images": listing.ignored,
                "hash_format": HASH_FORMAT}
    tfds.folder_dataset.write_metadata(
        data_dir=version_dir, features=features, check_data=False,
        split_infos=[tfds.core.SplitInfo(name=SPLIT, shard_lengths=writer.shard_lengths,
                                         num_bytes=writer.num_bytes)],
        description=(f"Images prepared by `jaxgan prepare` from {listing.source}; "
                     f"content_sha256 {digest}."),
        supervised_keys=("image", "label") if labelled else None,
        metadata=tfds.core.MetadataDict(metadata))
    return PreparedImages(
        name=name, path=version_dir, data_dir=data_dir, num_examples=num_examples,
        skipped=dict(skipped), skipped_files=skipped_files, ignored=listing.ignored,
        class_names=list(listing.class_names), examples_per_class=per_class,
        resolution=resolution, channels=channels, num_bytes=writer.num_bytes,
        content_sha256=digest, seconds=time.monotonic() - start)

