"""Do two code trees train bit-identically? Checkpoints and outputs of the same runs, compared.

Made for issue 22 (the package regrouped into rooms, `train_and_evaluate` split into steps): a pure
restructuring must leave every run unchanged. The script checks out `--before REV` (default
1e5287a, the commit before the move) into a temporary `git worktree`, and trains in each tree, in a
subprocess with `PYTHONPATH` set to that tree (and a TFDS data_dir of its own), with the tree's own
experiments/ files:

  default      `jaxgan train --workdir W` (the default experiment, dcgan_digits)
  cgan_digits  `jaxgan train --config experiments/cgan_digits.py` (class-conditional)
  ring8_x2     `jaxgan train --config experiments/ring8.py --config.num_seeds=2` (two seeds at once)

each with `--config.steps=STEPS --config.checkpoint_every=EVERY`. Then for every run (and seed) it
compares:

  checkpoints  the same steps; at each step every leaf of the state (read with Orbax, no target)
               bit for bit (dtype, shape, bytes), and the data iterator, config and meta items;
  outputs      the same files; config.json, data_spec.json, samples/*.png, training_curves.png
               byte for byte; metrics.jsonl without the wall-clock `steps_per_sec`; the printed
               lines with the rate, ETA, duration, workdir and data_dir paths masked.

Prints a table and exits 1 if anything differs.

    python benchmarks/layout_parity.py                      # before: 1e5287a, after: this checkout
    python benchmarks/layout_parity.py --before HEAD~3 --steps 100 --keep /tmp/parity
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import orbax.checkpoint as ocp

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_BEFORE = "1e5287a"

# name -> the `jaxgan train` arguments, given the tree (its own experiments/ files)
RUNS = {
    "default": lambda tree: [],
    "cgan_digits": lambda tree: ["--config", str(tree / "experiments" / "cgan_digits.py")],
    "ring8_x2": lambda tree: ["--config", str(tree / "experiments" / "ring8.py"),
                              "--config.num_seeds=2"],
}
BYTE_EQUAL_FILES = ("config.json", "data_spec.json", "training_curves.png")
WALL_CLOCK_METRICS = ("steps_per_sec",)


def _env(tree: pathlib.Path, data_dir: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), TFDS_DATA_DIR=str(data_dir),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("JAX_NUM_CPU_DEVICES", None)
    return env


def _check_imports_from(tree: pathlib.Path, env: dict[str, str]) -> None:
    found = subprocess.run([sys.executable, "-c", "import jaxgan; print(jaxgan.__file__)"],
                           env=env, cwd=tree, capture_output=True, text=True, check=True)
    path = pathlib.Path(found.stdout.strip()).resolve()
    if tree.resolve() not in path.parents:
        raise SystemExit(f"PYTHONPATH={tree} imports jaxgan from {path}, not from that tree")


def train(tree: pathlib.Path, name: str, workdir: pathlib.Path, env: dict[str, str],
          steps: int, every: int) -> tuple[float, str]:
    """Runs `jaxgan train` of run `name` in `tree`; returns (seconds, stdout)."""
    command = [sys.executable, "-m", "jaxgan.cli", "train", "--workdir", str(workdir),
               *RUNS[name](tree), f"--config.steps={steps}", f"--config.checkpoint_every={every}"]
    started = time.monotonic()
    result = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)
    seconds = time.monotonic() - started
    (workdir.parent / f"{name}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} (in {tree}) exited {result.returncode}:\n"
                         f"{result.stderr[-3000:]}")
    return seconds, result.stdout


# --- comparisons ----------------------------------------------------------------------------------

def run_dirs(workdir: pathlib.Path) -> list[pathlib.Path]:
    """The run directories of a workdir: itself, or its seed_<k> directories."""
    seeds = sorted(p for p in workdir.glob("seed_*") if p.is_dir())
    return seeds or [workdir]


def checkpoint_steps(run_dir: pathlib.Path) -> list[int]:
    return sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())


def state_leaves(step_dir: pathlib.Path) -> dict[str, np.ndarray]:
    tree = ocp.PyTreeCheckpointer().restore(step_dir / "state")
    return {jax.tree_util.keystr(path): np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def compare_checkpoints(a: pathlib.Path, b: pathlib.Path) -> tuple[list[str], int, int, int]:
    """(differences, checkpoints compared, leaves compared, bytes compared)."""
    problems, leaves, nbytes = [], 0, 0
    steps_a, steps_b = checkpoint_steps(a), checkpoint_steps(b)
    if steps_a != steps_b:
        return [f"checkpoint steps differ: {steps_a} vs {steps_b}"], 0, 0, 0
    for step in steps_a:
        left, right = state_leaves(a / "checkpoints" / str(step)), \
            state_leaves(b / "checkpoints" / str(step))
        if left.keys() != right.keys():
            problems.append(f"step {step}: state leaves differ: "
                            f"{sorted(left.keys() ^ right.keys())[:5]}")
            continue
        for key in left:
            x, y = left[key], right[key]
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                problems.append(f"step {step}: {key} differs ({x.dtype}{list(x.shape)} vs "
                                f"{y.dtype}{list(y.shape)})")
            leaves += 1
            nbytes += x.nbytes
        for item in ("data", "config", "meta"):
            item_a = json.loads((a / "checkpoints" / str(step) / item / "metadata").read_text())
            item_b = json.loads((b / "checkpoints" / str(step) / item / "metadata").read_text())
            if item_a != item_b:
                problems.append(f"step {step}: checkpoint item {item!r} differs")
    return problems, len(steps_a), leaves, nbytes


def _files(run_dir: pathlib.Path) -> set[str]:
    names = set()
    for path in run_dir.rglob("*"):
        if path.is_file() and "checkpoints" not in path.relative_to(run_dir).parts:
            rel = path.relative_to(run_dir).as_posix()
            names.add(re.sub(r"events\.out\.tfevents\..*", "events.out.tfevents.*", rel))
    return names


def _metrics(path: pathlib.Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_METRICS} for r in records]


def compare_outputs(a: pathlib.Path, b: pathlib.Path) -> list[str]:
    problems = []
    files_a, files_b = _files(a), _files(b)
    if files_a != files_b:
        problems.append(f"files differ: {sorted(files_a ^ files_b)}")
    for name in sorted(files_a & files_b):
        if name in BYTE_EQUAL_FILES or name.startswith("samples/"):
            if (a / name).read_bytes() != (b / name).read_bytes():
                problems.append(f"{name} differs")
    if "metrics.jsonl" in files_a & files_b and \
            _metrics(a / "metrics.jsonl") != _metrics(b / "metrics.jsonl"):
        problems.append("metrics.jsonl differs (beyond steps_per_sec)")
    return problems


def masked_lines(stdout: str, workdir: pathlib.Path, data_dir: pathlib.Path) -> list[str]:
    text = stdout.replace(str(workdir), "WORKDIR").replace(str(data_dir), "TFDS_DATA_DIR")
    text = re.sub(r"\S+ steps/s  ETA \S+", "R steps/s  ETA T", text)
    text = re.sub(r"trained to step (\d+) in \d+ s", r"trained to step \1 in T s", text)
    return text.splitlines()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE,
                        help=f"git revision of the old tree (default {DEFAULT_BEFORE})")
    parser.add_argument("--after", default=None,
                        help="git revision of the new tree (default: this checkout as it is)")
    parser.add_argument("--steps", type=int, default=300, help="steps of every run (default 300)")
    parser.add_argument("--checkpoint-every", type=int, default=100,
                        help="config.checkpoint_every of every run (default 100)")
    parser.add_argument("--runs", default=",".join(RUNS),
                        help=f"comma-separated runs (default {','.join(RUNS)})")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="write the runs here and keep them (default: a temporary directory)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")

    root = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="jaxgan-parity-")).absolute()
    root.mkdir(parents=True, exist_ok=True)
    worktrees = []
    trees = {}
    try:
        for label, rev in (("before", args.before), ("after", args.after)):
            if rev is None:
                trees[label] = REPO
                continue
            tree = root / f"tree_{label}"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev],
                           check=True, capture_output=True, text=True)
            worktrees.append(tree)
            trees[label] = tree
        commits = {label: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                                         capture_output=True, text=True).stdout.strip()
                   for label, tree in trees.items()}
        dirty = subprocess.run(["git", "-C", str(trees["after"]), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True).stdout
        print(f"before: {trees['before']} ({commits['before']})")
        print(f"after:  {trees['after']} ({commits['after']}{', uncommitted changes' if dirty else ''})")
        print(f"runs:   {', '.join(names)}; {args.steps} steps, a checkpoint every "
              f"{args.checkpoint_every}\n")

        outputs = {}
        for label, tree in trees.items():
            env = _env(tree, root / f"tfds_{label}")
            _check_imports_from(tree, env)
            for name in names:
                workdir = root / label / name
                workdir.parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(workdir, ignore_errors=True)
                seconds, stdout = train(tree, name, workdir, env, args.steps,
                                        args.checkpoint_every)
                outputs[label, name] = (workdir, seconds,
                                        masked_lines(stdout, workdir, root / f"tfds_{label}"))
                print(f"  trained {name:<12} in the {label} tree: {seconds:.0f} s", flush=True)

        header = (f"{'run':<20} {'before s':>8} {'after s':>8} {'ckpts':>5} {'leaves':>7} "
                  f"{'MB':>7}  {'checkpoints':<12} {'outputs':<9} {'log lines':<9}")
        print("\n" + header + "\n" + "-" * len(header))
        failed = False
        for name in names:
            (wa, sa, lines_a), (wb, sb, lines_b) = outputs["before", name], outputs["after", name]
            same_lines = lines_a == lines_b
            dirs_a, dirs_b = run_dirs(wa), run_dirs(wb)
            if [d.name for d in dirs_a] != [d.name for d in dirs_b]:
                print(f"{name}: run directories differ: {[d.name for d in dirs_a]} vs "
                      f"{[d.name for d in dirs_b]}")
                failed = True
                continue
            for da, db in zip(dirs_a, dirs_b):
                label = name if da == wa else f"{name}/{da.name}"
                ckpt_problems, nckpt, nleaves, nbytes = compare_checkpoints(da, db)
                out_problems = compare_outputs(da, db)
                print(f"{label:<20} {sa:>8.0f} {sb:>8.0f} {nckpt:>5} {nleaves:>7} "
                      f"{nbytes / 1e6:>7.2f}  {'identical' if not ckpt_problems else 'DIFFER':<12} "
                      f"{'identical' if not out_problems else 'DIFFER':<9} "
                      f"{'identical' if same_lines else 'DIFFER':<9}")
                for problem in ckpt_problems + out_problems:
                    print(f"    {problem}")
                failed |= bool(ckpt_problems or out_problems)
            if not same_lines:
                failed = True
                for line_a, line_b in zip(lines_a + [""], lines_b + [""]):
                    if line_a != line_b:
                        print(f"    first differing line:\n      before: {line_a}\n"
                              f"      after:  {line_b}")
                        break
        print("\n" + ("DIFFERENCES FOUND" if failed else
                      "every checkpoint leaf, output file and log line identical"))
        return 1 if failed else 0
    finally:
        for tree in worktrees:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
