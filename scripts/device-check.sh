#!/usr/bin/env bash
# The trainer on PyTorch 2.x with CUDA, on a lent accelerator machine (the `device` tool).
#
#   scripts/device-check.sh prep     here: puts Fashion-MNIST in .device/ (ignored by git) in a
#                                    size that travels with the working tree (64 MiB in all)
#   scripts/device-check.sh run      there: the trainer's tests (the CUDA ones included), then a
#                                    Fashion-MNIST run on the GPU, exported, verified, evaluated
#
# A device call:  run(command="bash scripts/device-check.sh run", carry=[".device"])
# Results come back under $OUT (logs, metrics.json, samples.png, model.onnx).
# PMF_DEVICE_STEPS (default 3000) sets the training steps; PMF_DEVICE=cpu rehearses the run
# mode here without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=.device/fashion-mnist
LIMIT=$((64 * 1024 * 1024))

prep() {
  set -e
  local src=${PMF_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
  [ -f "$src/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST at $src: run scripts/setup-system.sh"; exit 1; }
  grep -qxs "/.device/" .git/info/exclude || grep -qxs "/.device/" .gitignore || echo "/.device/" >> .git/info/exclude
  mkdir -p "$DATA"
  local tree
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  # The test split whole (the evaluation's reference), and as many training images as fit.
  /usr/bin/python3 - "$src" "$DATA" "$tree" "$LIMIT" <<'PY'
import gzip, os, shutil, struct, sys
src, dst, tree, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
def read(path):
    data = gzip.open(path, "rb").read()
    ndim = struct.unpack(">I", data[:4])[0] & 0xFF
    dims = list(struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim]))
    return data[:4], dims, data[4 + 4 * ndim:]
def write(path, magic, dims, body):
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(magic + struct.pack(">" + "I" * len(dims), *dims) + body)
budget = limit - tree - sum(os.path.getsize(os.path.join(dst, f)) for f in os.listdir(dst) if f.startswith("t10k")) - (2 << 20)
mi, di, bi = read(os.path.join(src, "train-images-idx3-ubyte.gz"))
ml, dl, bl = read(os.path.join(src, "train-labels-idx1-ubyte.gz"))
whole = os.path.getsize(os.path.join(src, "train-images-idx3-ubyte.gz"))
n = min(di[0], int(di[0] * budget / whole) // 1000 * 1000)
if n < 10000:
    sys.exit(f"the working tree ({tree / 2**20:.1f} MiB) leaves room for only {n} training images")
per = di[1] * di[2]
write(os.path.join(dst, "train-images-idx3-ubyte.gz"), mi, [n] + di[1:], bi[:n * per])
write(os.path.join(dst, "train-labels-idx1-ubyte.gz"), ml, [n], bl[:n])
print(f"device-check: {dst} holds {n} of {di[0]} training images and the test split")
PY
  local total
  total=$(( tree + $(du -cb "$DATA" | tail -1 | cut -f1) ))
  echo "device-check: working tree + .device = $((total / 1024 / 1024)) MiB of 64"
}

run() {
  local out=${OUT:-/tmp/pmf-device-out} steps=${PMF_DEVICE_STEPS:-3000}
  local py=${PMF_PYTHON:-python3}
  mkdir -p "$out"
  [ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "no $DATA: run 'scripts/device-check.sh prep' here and carry .device"; exit 1; }
  export PMF_FASHION_MNIST=$PWD/$DATA PMF_PYTHON=$py PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
  export PMF_DEVICE=${PMF_DEVICE:-cuda}
  { command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$py" -c "import sys, torch; print('PyTorch', torch.__version__, 'CUDA', torch.version.cuda, 'GPU', torch.cuda.is_available(), 'Python', sys.version.split()[0])"
  } 2>&1 | tee "$out/versions.txt"

  echo "== the trainer's tests (CUDA tests run where PyTorch sees a GPU)"
  "$py" -m pytest -q -p no:cacheprovider -rs trainer/tests 2>&1 | tee "$out/pytest.log"
  local rc_tests=${PIPESTATUS[0]}

  echo "== Fashion-MNIST, $steps steps on $PMF_DEVICE"
  local run_dir=/tmp/pmf-device-fmnist
  rm -rf "$run_dir"
  scripts/pmf-trainer train --preset fashion-mnist --run-dir "$run_dir" --set "train.steps=$steps" \
    --set train.log_every=100 --set train.ckpt_every=1000 2>&1 | tee "$out/train.log"
  local rc_train=${PIPESTATUS[0]}
  cp "$run_dir/log.jsonl" "$out/log.jsonl" 2>/dev/null

  echo "== export, parity and evaluation"
  scripts/pmf-trainer publish-image --run-dir "$run_dir" --dest "$run_dir/card" \
    --classifier models/eval/fashion-mnist-classifier.pt --n-per-class "${PMF_DEVICE_EVAL_N:-500}" \
    2>&1 | tee "$out/publish.log"
  local rc_pub=${PIPESTATUS[0]}
  for f in metrics.json samples.png model.onnx; do cp "$run_dir/card/$f" "$out/" 2>/dev/null; done
  echo "device-check: tests rc=$rc_tests, training rc=$rc_train, publish rc=$rc_pub (results in $out)"
  [ "$rc_tests" = 0 ] && [ "$rc_train" = 0 ] && [ "$rc_pub" = 0 ]
}

case "${1:-}" in
  prep) prep ;;
  run) run ;;
  *) sed -n 2,13p "$0"; exit 2 ;;
esac
