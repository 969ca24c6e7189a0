"""Prepare a TFDS data set as array_record, the format the pipeline reads (needs network once).

    python -m jaxgan.data.prepare mnist [--data_dir DIR] [--manual_dir DIR]

This is `tfds.builder(name, file_format='array_record').download_and_prepare()`. It avoids the
`tfds build` command line, which in tfds 4.9.10 cannot start without TensorFlow and Apache Beam.
Catalog sets whose builders hand TFDS numpy images (mnist, fashion_mnist, cifar10) need TensorFlow
to PNG-encode them while preparing (`pip install tensorflow-cpu`); reading needs neither.
'digits' prepares offline with no extra package.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import urllib.parse

import tensorflow_datasets as tfds

from jaxgan.data import digits_builder, digits_raw
from jaxgan.data.errors import DataError
from jaxgan.data.tfds_source import image_and_label_keys, resolve_data_dir


def prepare(name: str, data_dir: str | None = None, manual_dir: str | None = None) -> str:
    """Downloads and prepares data set `name` into `data_dir` as array_record; returns its path."""
    data_dir = resolve_data_dir(data_dir)
    if name == "digits":
        paths = [digits_builder.prepared_digits_builder(data_dir, r).data_path
                 for r in digits_raw.ALLOWED_RESOLUTIONS]
        return os.fspath(paths[0].parent.parent)
    builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    image_and_label_keys(builder, name)
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    if not builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        check_reachable(builder, name, data_dir)
    try:
        builder.download_and_prepare(download_config=config)
    except ModuleNotFoundError as err:
        if not _is_missing_tensorflow(err):
            raise
        raise DataError(f"preparing '{name}' needs TensorFlow to encode its images: "
                        f"pip install tensorflow-cpu, then run this again") from None
    return os.fspath(builder.data_path)


# TFDS tries its own mirror first (try_download_gcs); the builder's URLs come after.
TFDS_MIRROR = "storage.googleapis.com"
PROBE_TIMEOUT_S = 3.0


def check_reachable(builder, name: str, data_dir: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raises DataError within seconds when no host of `builder`'s downloads (nor TFDS's mirror)
    accepts a TCP connection, instead of letting TFDS retry each download for minutes. A builder
    that lists no downloads (its files are local) is not probed."""
    urls = list(getattr(builder, "url_infos", None) or {})
    if not urls:
        return
    hosts = sorted({urllib.parse.urlsplit(u).hostname for u in urls} - {None} | {TFDS_MIRROR})
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            return
        except OSError:
            continue
    raise DataError(f"cannot download '{name}': no network connection to {', '.join(hosts)}. "
                    f"Prepare it on a machine with network access (python -m jaxgan.data.prepare "
                    f"{name}) and copy {os.path.join(data_dir, name)} here, or put its files in "
                    f"a folder and pass --manual_dir")


def _is_missing_tensorflow(err: BaseException | None) -> bool:
    """Whether `err` or an exception it was raised from is "No module named 'tensorflow'"."""
    while err is not None:
        if isinstance(err, ModuleNotFoundError) and "No module named 'tensorflow'" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxgan.data.prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="TFDS catalog name (mnist, cifar10, celeb_a, ...) or 'digits'")
    parser.add_argument("--data_dir", default=None,
                        help="default: $TFDS_DATA_DIR or ~/tensorflow_datasets")
    parser.add_argument("--manual_dir", default=None,
                        help="folder with files downloaded by hand (sets that require it)")
    args = parser.parse_args(argv)
    try:
        print(prepare(args.name, args.data_dir, args.manual_dir))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. a read-only --data_dir, a full disk
        print(f"error: {err.filename or args.data_dir or 'data_dir'}: {err.strerror or err}; "
              f"pass a writable --data_dir with free space", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
