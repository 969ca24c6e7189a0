#!/usr/bin/env bash
# Fetch the wheels benchmarks/gpu_check.sh needs on a GPU machine that has JAX, Flax, Optax, Orbax,
# chex, torch and scikit-learn but no network (the H200 image this project is lent: Python 3.12,
# jax 0.11.2 with CUDA 13). Run here, where PyPI is reachable, from the repository root:
#   bash benchmarks/gpu_wheels.sh            # -> .whl/ (git-ignored through .git/info/exclude)
# then carry `.whl` with the device run (the device tool's README, "nvidia-h200").
# ml_collections is all the throughput rows need; the rest lets the digits data set build there
# (tensorflow-datasets without TensorFlow, as jaxgan builds it here) for the short training run.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
rm -rf .whl && mkdir -p .whl
platforms=()
for n in 2_17 2_27 2_28 2_31 2_34 2_35; do platforms+=(--platform "manylinux_${n}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
get() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl "$@"
}
get ml_collections==1.1.0 tensorflow-datasets==4.9.10 array_record==0.8.6 dm-tree==0.1.10 \
  immutabledict==4.3.1 simple_parsing==0.1.9 docstring-parser tensorflow-metadata==1.21.0 \
  googleapis-common-protos termcolor==3.3.0 toml==0.10.2 tensorboardX==2.6.5 importlib_resources
# promise (imported by tfds) is published as a source archive only: build its pure-Python wheel.
python3 -m pip wheel -q --no-deps -w .whl promise==2.3
du -sh .whl
ls .whl
