"""Reads a PyTorch `state_dict` file (`torch.save` output) into NumPy arrays without importing torch.

Both of torch's formats are read:
* the zip format (torch >= 1.6): `<name>/data.pkl` plus one raw little-endian blob per storage
  in `<name>/data/<key>`;
* the legacy format (torch < 1.6, or `_use_new_zipfile_serialization=False`): five consecutive pickles
  (magic number, protocol version, system info, the object, the list of storage keys) followed by each
  storage as an int64 element count and its raw bytes.

The unpickler is restricted: it only resolves `collections.OrderedDict`, torch's typed storage classes
and its tensor rebuild functions, and refuses every other global, so a weight file cannot run code.
"""
from __future__ import annotations

import collections
import dataclasses
import pathlib
import pickle
import struct
import zipfile

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """The file is not a readable PyTorch state dict."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclasses.dataclass
class _Storage:
    key: str
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclasses.dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise TorchFileError(f"storage {self.storage.key} has no data in the file")
        if not self.shape:
            return np.array(flat[self.offset])
        itemsize = flat.dtype.itemsize
        extent = self.offset + 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride) if n > 0)
        if min(self.shape) > 0 and extent > flat.shape[0]:
            raise TorchFileError(f"tensor view exceeds its storage {self.storage.key} (truncated file?)")
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.shape, strides=[s * itemsize for s in self.stride])
        return np.array(view)  # a contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise TorchFileError(f"the weight file refers to {module}.{name}, which a plain state dict "
                             "of tensors does not contain; re-save it with torch.save(model.state_dict())")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise TorchFileError(f"unsupported persistent id {pid!r} in the weight file")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise TorchFileError(f"unsupported storage type {storage_type!r} in the weight file")
        if len(pid) > 5 and pid[5] is not None:
            raise TorchFileError("storage views (torch < 0.4 files) are not supported; re-save the "
                                 "state dict with a current torch")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(key, storage_type.dtype, int(numel))
        return self._storages[key]


def _materialise(obj):
    if isinstance(obj, _LazyTensor):
        return obj.materialise()
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _read_zip(path: pathlib.Path) -> object:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise TorchFileError(f"{path} is a zip file but not a torch.save archive (no data.pkl)")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = archive.read(prefix + "byteorder").decode().strip()
        storages: dict[str, _Storage] = {}
        with archive.open(pkl[0]) as f:
            obj = _RestrictedUnpickler(f, storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            dtype = np.dtype(storage.dtype).newbyteorder("<" if byteorder == "little" else ">")
            storage.data = np.frombuffer(raw, dtype=dtype, count=storage.numel).astype(storage.dtype)
    return obj


def _read_legacy(path: pathlib.Path) -> object:
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
        except Exception:
            magic = None
        if magic != _LEGACY_MAGIC:
            raise TorchFileError(f"{path} is not a PyTorch weight file (neither zip nor legacy format)")
        pickle.load(f)  # protocol version
        sys_info = pickle.load(f)
        little_endian = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
        obj = _RestrictedUnpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            storage = storages[str(key)]
            header = f.read(8)
            if len(header) != 8:
                raise TorchFileError(f"{path} is truncated (storage {key} missing)")
            numel = struct.unpack("<q" if little_endian else ">q", header)[0]
            dtype = np.dtype(storage.dtype).newbyteorder("<" if little_endian else ">")
            raw = f.read(numel * dtype.itemsize)
            if len(raw) != numel * dtype.itemsize:
                raise TorchFileError(f"{path} is truncated (storage {key} is short)")
            storage.data = np.frombuffer(raw, dtype=dtype).astype(storage.dtype)
    return obj


def read_torch_state_dict(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """Returns {name: np.ndarray} from a `torch.save(state_dict)` file, zip or legacy format."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise TorchFileError(f"weight file not found: {path}")
    try:
        obj = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except TorchFileError:
        raise
    except Exception as err:  # corrupt pickles raise many unrelated types
        raise TorchFileError(f"{path} could not be read as a PyTorch state dict "
                             f"({type(err).__name__}: {err})") from None
    obj = _materialise(obj)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise TorchFileError(f"{path} does not hold a flat state dict of tensors")
    return dict(obj)
