#!/usr/bin/env bash
# The GPU checks of issues 21, 16 and 17 in one call of the device tool (well under its 10 min):
#   1. the throughput table (benchmarks/throughput_table.py --set gpu): DCGAN 32/64 px, float32 and
#      bfloat16, K = 1 and 20 fused steps per call, each beside PyTorch's same DCGAN step on the
#      same card (benchmarks/torch_reference.py, interleaved); a batch sweep; the ResNet (SNGAN,
#      BigGAN) and StyleGAN2 steps where registered; the MLP toy step at K = 1 and 1,000;
#   2. a short training run of the `sngan_cifar10` networks on the embedded digits at 32x32x3
#      through the CLI (no data set can be downloaded there), reporting images/s.
# Prepare here first (PyPI reachable): `bash benchmarks/gpu_wheels.sh` (-> .whl/, ~10 MB), then
# call the device tool from the repository root with carry [".whl"] and the command
#   bash benchmarks/gpu_check.sh
# Everything it measures lands in $OUT (returned by the tool): throughput.jsonl, throughput.md,
# train.log, sngan_digits32.png, summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "gpu_check: installing .whl failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
# JAX and PyTorch share the card in one process: no up-front grab of 75% of its memory.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export TFDS_DATA_DIR=/tmp/tfds
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import jax, flax, optax, torch; print('jax', jax.__version__, jax.devices(), \
'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__)"
} 2>&1 | tee "$OUT/summary.txt"

timeout 360 python3 benchmarks/throughput_table.py --set gpu --out "$OUT/throughput.jsonl" \
  --markdown "$OUT/throughput.md" 2>&1 | tail -n 60 | tee -a "$OUT/summary.txt"

W=/tmp/gpu_sngan_digits32
start=$(date +%s.%N)
timeout 180 python3 -m jaxgan.cli train --config experiments/sngan_cifar10.py --workdir "$W" \
  --config.dataset=digits --config.resolution=32 --config.channels=3 --config.steps=2000 \
  --config.steps_per_call=50 --config.sample_every=2000 --config.checkpoint_every=2000 \
  --config.monitor_every=0 --config.lr_schedule=constant > "$OUT/train.log" 2>&1
rc=$?
end=$(date +%s.%N)
python3 - "$W" "$start" "$end" "$rc" <<'PY' 2>&1 | tee -a "$OUT/summary.txt"
import json, sys
workdir, start, end, rc = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
lines = [json.loads(l) for l in open(f"{workdir}/metrics.jsonl")] if rc == "0" else []
steps = lines[-1]["step"] if lines else 0
config = json.load(open(f"{workdir}/config.json")) if rc == "0" else {}
images = steps * config.get("batch_size", 64) * config.get("n_critic", 5)
print(f"sngan_cifar10 networks on digits 32x32x3: exit {rc}, {steps} G steps, "
      f"{end - start:.0f} s wall incl. start-up and compile, {images / (end - start):.0f} real "
      f"images/s seen by D")
PY
cp "$W"/samples/*.png "$OUT/sngan_digits32.png" 2>/dev/null || true
tail -n 5 "$OUT/train.log"
