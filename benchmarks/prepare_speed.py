"""How fast `jaxgan prepare` turns a folder of JPEGs into a data set, how much memory it needs, and
how fast training reads the result (issue 15).

    python benchmarks/prepare_speed.py --out /tmp/prepare_bench --sizes 5000,20000 --workers 2

1. Writes N 64x64 RGB JPEGs (quality 90; smooth random colour fields plus noise, ~3 KB each, in
   10 class folders) for the largest N; smaller sizes use the first files (by sorted path) through
   a folder of symlinks.
2. For every size, runs `prepare_images(..., workers=W)` in a fresh Python process and reports
   wall seconds, images/s and the peak resident memory of that process and of its largest
   worker (getrusage ru_maxrss), so one can see whether memory grows with N.
3. Reads the largest set with `jaxgan.data.make_iterator(batch_size=128, resolution=64,
   channels=3)`: batches/s streamed from array_record (PNG decode per batch, in_memory=False) and
   from memory (in_memory=True, after a one-off load whose time is reported).

Prints one JSON object per measurement and a final summary object.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
RESOLUTION = 64


def make_jpegs(folder: pathlib.Path, num: int, seed: int = 0) -> float:
    """num JPEGs of smooth random colour fields; returns the seconds it took."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    for k in range(10):
        (folder / f"class_{k}").mkdir(parents=True, exist_ok=True)
    for i in range(num):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((RESOLUTION, RESOLUTION), Image.BICUBIC)
        pixels = np.asarray(image).astype(np.int16) + rng.integers(-12, 13, (64, 64, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            folder / f"class_{i % 10}" / f"img_{i:06d}.jpg", quality=90)
    return time.perf_counter() - start


def subset(folder: pathlib.Path, target: pathlib.Path, num: int) -> None:
    """A folder of symlinks to the first `num` files in sorted path order."""
    files = sorted(folder.rglob("*.jpg"))[:num]
    for path in files:
        link = target / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)


CHILD = r"""
import json, resource, sys, time
from jaxgan.data import prepare_images
source, name, data_dir, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
out = prepare_images(source, name, data_dir=data_dir, resolution=64, labels="folders",
                     workers=workers, overwrite=True, progress=sys.stderr)
seconds = time.perf_counter() - start
print(json.dumps({"images": out.num_examples, "seconds": seconds,
                  "images_per_s": out.num_examples / seconds, "bytes": out.num_bytes,
                  "peak_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_rss_largest_worker_mb":
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "summary": out.summary()}))
"""


def prepare_in_child(source, name, data_dir, workers) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", CHILD, str(source), name, str(data_dir),
                             str(workers)], env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def reading_speed(name: str, data_dir: str, in_memory: bool, batches: int) -> dict:
    from jaxgan import data

    start = time.perf_counter()
    iterator = data.make_iterator(name, batch_size=128, seed=0, data_dir=data_dir,
                                  resolution=RESOLUTION, channels=3, in_memory=in_memory,
                                  process_index=0, process_count=1)
    open_seconds = time.perf_counter() - start
    next(iterator)  # first batch: permutation, caches
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
    seconds = time.perf_counter() - start
    assert batch["x"].shape == (128, RESOLUTION, RESOLUTION, 3)
    return {"in_memory": in_memory, "open_seconds": open_seconds, "batches": batches,
            "batches_per_s": batches / seconds, "images_per_s": 128 * batches / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="scratch folder (images and data sets)")
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stream_batches", type=int, default=30)
    parser.add_argument("--memory_batches", type=int, default=300)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    images = out / f"jpegs_{sizes[-1]}"
    if not images.exists():
        seconds = make_jpegs(images, sizes[-1])
        print(json.dumps({"generated_jpegs": sizes[-1], "seconds": seconds}), flush=True)
    data_dir = out / "tfds"
    results = {}
    for num in sizes:
        source = images
        if num != sizes[-1]:
            source = out / f"subset_{num}"
            shutil.rmtree(source, ignore_errors=True)
            subset(images, source, num)
        measured = prepare_in_child(source, f"bench_{num}", data_dir, args.workers)
        results[num] = measured
        print(json.dumps({"prepare": num, "workers": args.workers, **measured}), flush=True)
    name = f"bench_{sizes[-1]}"
    streamed = reading_speed(name, str(data_dir), False, args.stream_batches)
    print(json.dumps({"read": name, **streamed}), flush=True)
    in_memory = reading_speed(name, str(data_dir), True, args.memory_batches)
    print(json.dumps({"read": name, **in_memory}), flush=True)
    print(json.dumps({"summary": {
        "images_per_s": {n: round(r["images_per_s"]) for n, r in results.items()},
        "peak_rss_main_mb": {n: round(r["peak_rss_main_mb"]) for n, r in results.items()},
        "peak_rss_worker_mb": {n: round(r["peak_rss_largest_worker_mb"])
                               for n, r in results.items()},
        "rss_growth_kb_per_image": round(
            (results[sizes[-1]]["peak_rss_main_mb"] - results[sizes[0]]["peak_rss_main_mb"])
            * 1024 / max(sizes[-1] - sizes[0], 1), 3) if len(sizes) > 1 else None,
        "record_kb_per_image": round(results[sizes[-1]]["bytes"] / 1024 / sizes[-1], 2),
        "read_batches_per_s": {"streamed": round(streamed["batches_per_s"], 1),
                               "in_memory": round(in_memory["batches_per_s"], 1),
                               "in_memory_load_s": round(in_memory["open_seconds"], 1)},
        "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}}), flush=True)


if __name__ == "__main__":
    main()
