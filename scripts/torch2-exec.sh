#!/usr/bin/env bash
# Runs a bash command inside the Debian 13 root with PyTorch 2.x that scripts/check-torch2.sh builds,
# with the repository mounted at /repo, in a private mount namespace (the mounts vanish with it,
# whatever happens inside). Used by check-torch2.sh and by tests that hold pMF Lab to PyTorch 2.x
# too (test/cli/gate.test.ts). Needs root and the built root; exits 3 when the root is missing.
#
#   sudo scripts/torch2-exec.sh 'python3 -c "import torch; print(torch.__version__)"'
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${PMF_TORCH2_ROOT:-/var/cache/pmf-lab/torch2-trixie}
[ -f "$ROOT/.pmf-lab-packages" ] || { echo "torch2-exec: no PyTorch 2.x root at $ROOT (run scripts/check-torch2.sh)" >&2; exit 3; }
[ "$(id -u)" -eq 0 ] || { echo "torch2-exec: needs root (chroot)" >&2; exit 3; }
unshare --mount --propagation private bash -euo pipefail -s "$ROOT" "$REPO" "$1" <<'INNER'
ROOT=$1 REPO=$2 CMD=$3
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mkdir -p "$ROOT/repo"
mount --bind "$REPO" "$ROOT/repo"
chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 \
  OPENBLAS_NUM_THREADS=1 bash -euo pipefail -c "cd /repo; $CMD"
INNER
