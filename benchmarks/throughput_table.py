"""Many rows of `throughput.py` in one process, as one table: the step's speed across model
families, precision, fused steps per call, batch and resolution (issue 21's table).

Each row is a `throughput.py` command line run in this process (one JAX start-up for the whole
table; what one row compiles is dropped before the next). Rows append to `--out` (JSON lines) as
they finish, so a run cut short keeps what it measured; the Markdown table goes to stdout and to
`--markdown`. A row that fails is reported with its error and the table goes on.

  python benchmarks/throughput_table.py --set cpu  --out /tmp/tp.jsonl [--markdown /tmp/tp.md]
  python benchmarks/throughput_table.py --set gpu  --out $OUT/throughput.jsonl   # the H200 run
  python benchmarks/throughput_table.py --set smoke --out /tmp/smoke.jsonl          # seconds, CPU
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402

import throughput  # noqa: E402  (benchmarks/throughput.py)

DCGAN32 = ["--arch", "dcgan", "--resolution", "32", "--channels", "3"]


def _grid(base: list[str], **axes: list[str]) -> list[list[str]]:
    """Every combination of the given flag values added to `base`."""
    rows = [list(base)]
    for flag, values in axes.items():
        rows = [r + [f"--{flag.replace('_', '-')}", v] for r in rows for v in values]
    return rows


def row_sets(models: tuple[str, ...]) -> dict[str, list[list[str]]]:
    """The named tables. `models`: what jaxgan.models registers (stylegan2 only once it exists)."""
    cpu = (
        _grid(DCGAN32 + ["--batch", "64", "--steps", "10", "--torch"],
              compute_dtype=["float32", "bfloat16"], steps_per_call=["1", "5"])
        + _grid(["--arch", "dcgan", "--channels", "3", "--batch", "64", "--steps", "10"],
                resolution=["16", "64"])
        + _grid(DCGAN32 + ["--steps", "5"], batch=["16", "128", "512"])
        + _grid(DCGAN32 + ["--batch", "64", "--steps", "5"], n_critic=["2", "5"])
        + [["--arch", "mlp", "--batch", "100", "--steps", "50", "--steps-per-call", k]
           for k in ("1", "100")])
    gpu = (
        _grid(["--arch", "dcgan", "--channels", "3", "--batch", "64", "--steps", "30", "--torch",
               "--torch-device", "cuda", "--peak-size", "8192"],
              resolution=["32", "64"], compute_dtype=["float32", "bfloat16"],
              steps_per_call=["1", "20"])
        + _grid(DCGAN32 + ["--steps", "20", "--steps-per-call", "20", "--peak-size", "8192"],
                batch=["16", "128", "512"])
        + [["--arch", a, "--resolution", "32", "--channels", "3", "--batch", "64", "--loss",
            loss, "--steps", "10", "--steps-per-call", k, "--peak-size", "8192"]
           for a, loss in (("resnet", "hinge"), ("biggan", "hinge"),
                           ("stylegan2", "non_saturating"))
           if a in models for k in (("1",) if a == "stylegan2" else ("1", "10"))]
        + [["--arch", "mlp", "--batch", "100", "--steps", "30", "--steps-per-call", k]
           for k in ("1", "1000")])
    smoke = [["--arch", "dcgan", "--resolution", "16", "--channels", "1", "--batch", "8",
              "--steps", "1", "--warmup", "1", "--steps-per-call", "2", "--compute-dtype",
              "bfloat16", "--peak-size", "256"],
             ["--arch", "mlp", "--batch", "8", "--steps", "1", "--warmup", "1",
              "--peak-size", "256"]]
    with_memory = lambda rows: [r + ["--memory"] for r in rows]  # noqa: E731
    return {"cpu": with_memory(cpu), "gpu": with_memory(gpu), "smoke": with_memory(smoke)}


COLUMNS = [("arch", "{}"), ("resolution", "{}"), ("batch", "{}"), ("n_critic", "{}"),
           ("compute_dtype", "{}"), ("steps_per_call", "{}"), ("ms_per_step", "{:.2f}"),
           ("images_per_s", "{:.0f}"), ("gflops_per_s", "{:.1f}"), ("fraction_of_peak", "{:.1%}"),
           ("peak_memory_bytes", "{:,}"), ("torch_ms_per_step", "{:.2f}"),
           ("jax_over_torch", "{:.2f}")]


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [("" if r.get(c) is None else fmt.format(r[c])) for c, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", default="cpu", choices=("cpu", "gpu", "smoke"))
    p.add_argument("--out", required=True, help="JSON lines, one row each, appended as measured")
    p.add_argument("--markdown", default="", help="also write the Markdown table here")
    a = p.parse_args(argv)
    from jaxgan.models import MODELS
    rows, failed = [], 0
    for argv_row in row_sets(tuple(MODELS))[a.set]:
        t0 = time.perf_counter()
        try:
            row = throughput.run(throughput.parse_args(argv_row))
        except Exception as e:  # noqa: BLE001 - one failed row must not lose the others
            failed += 1
            print(f"row {' '.join(argv_row)}: {type(e).__name__}: {e}", file=sys.stderr)
            traceback.print_exc(limit=3)
            continue
        finally:
            jax.clear_caches()
            gc.collect()
        row["argv"], row["row_seconds"] = argv_row, time.perf_counter() - t0
        rows.append(row)
        with open(a.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"[{len(rows)}] {row['arch']}-{row['resolution']} b{row['batch']} "
              f"{row['compute_dtype']} K={row['steps_per_call']}: {row['ms_per_step']:.2f} ms/step "
              f"({row['row_seconds']:.0f} s)", flush=True)
    table = markdown(rows)
    print(table)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
