#!/usr/bin/env bash
# Runs the trainer's tests on PyTorch 2.x (CPU): Debian 13 (trixie) packages PyTorch 2.6,
# Python 3.13, NumPy 2 and the Python onnxruntime, so a trixie root made with debootstrap
# gives the same code path as the GPU machines' PyTorch 2.x, here and in CI. The host keeps
# Debian 12's PyTorch 1.13 for everything else.
#
# Usage: sudo scripts/check-torch2.sh         (CI runs it as root, through npm test)
#        scripts/check-torch2.sh --print-mirror   prints the mirror and proxy a build would use
# The root is cached in $PMF_TORCH2_ROOT (default /var/cache/pmf-lab/torch2-trixie), about
# 1.7 GB; the first run downloads it (about a minute), later runs reuse it. Its packages come
# from the Debian mirror this machine's apt sources name (PMF_DEBIAN_MIRROR overrides it; a host
# without a Debian mirror, Ubuntu say, gets debootstrap's default), through apt's proxy if it has one.
# Without root or debootstrap it says why and exits 0 (a test file run by hand), unless
# PMF_REQUIRE_TORCH2=1 or PMF_FULL_TEST=1 (npm test sets both): then, not root, it asks sudo
# (which may ask for a password on a terminal), and fails saying what to run when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt-sources.sh
REPO=$(pwd)
ROOT=${PMF_TORCH2_ROOT:-/var/cache/pmf-lab/torch2-trixie}
SUITE=trixie
PACKAGES="python3-torch python3-numpy python3-onnx python3-onnxruntime python3-pytest python3-pil dataset-fashion-mnist nodejs"
REQUIRED=0
[ "${PMF_REQUIRE_TORCH2:-0}" = 1 ] || [ "${PMF_FULL_TEST:-0}" = 1 ] && REQUIRED=1

# The mirror for debootstrap (empty: debootstrap's own default) and the proxy apt uses.
MIRROR=${PMF_DEBIAN_MIRROR:-$(pmf_debian_mirror "$SUITE" || true)}
MIRROR_SAID=${MIRROR:-"debootstrap's default (no Debian mirror in the apt sources)"}
pmf_apt_proxy_env
if [ "${1:-}" = "--print-mirror" ]; then
  echo "mirror: $MIRROR_SAID"
  echo "http_proxy: ${http_proxy:-(none)}"
  echo "https_proxy: ${https_proxy:-(none)}"
  exit 0
fi

skip() {
  if [ $REQUIRED -eq 1 ]; then echo "check-torch2: $1" >&2; exit 1; fi
  echo "check-torch2: skipped: $1"; exit 0
}
if [ "$(id -u)" -ne 0 ]; then
  [ $REQUIRED -eq 1 ] || skip "needs root (debootstrap, chroot); run it with sudo"
  command -v sudo > /dev/null ||
    skip "needs root (debootstrap, chroot) and there is no sudo: run the tests as root"
  if ! sudo -n true 2> /dev/null; then
    [ -t 0 ] || skip "needs root (debootstrap, chroot) and sudo cannot ask for a password here: run \`sudo -v\` first, or the tests as root"
    echo "check-torch2: needs root (debootstrap, chroot): asking sudo"
    sudo -v || skip "needs root (debootstrap, chroot): sudo refused; run \`sudo scripts/check-torch2.sh\`"
  fi
  exec sudo --preserve-env=PMF_TORCH2_ROOT,PMF_DEBIAN_MIRROR,PMF_REQUIRE_TORCH2,PMF_FULL_TEST,http_proxy,https_proxy \
    bash "$REPO/scripts/check-torch2.sh" "$@"
fi
command -v unshare > /dev/null || skip "needs unshare (util-linux)"
[ -d node_modules/onnxruntime-node ] || skip "run npm ci first (the export check uses onnxruntime-node too)"
if ! command -v debootstrap > /dev/null; then
  command -v apt-get > /dev/null || skip "needs debootstrap (a Debian or Ubuntu host)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap > /dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; }
fi

stamp="$ROOT/.pmf-lab-packages"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$PACKAGES" ]; then
  echo "check-torch2: building a Debian $SUITE root with PyTorch 2.x in $ROOT (mirror: $MIRROR_SAID)"
  rm -rf "$ROOT"
  mkdir -p "$(dirname "$ROOT")"
  # debootstrap lays the base; apt inside it resolves the packages (debootstrap's own
  # resolver cannot follow virtual packages, which onnxruntime's dependencies use).
  debootstrap --variant=minbase "$SUITE" "$ROOT" ${MIRROR:+"$MIRROR"} > "$ROOT.log" 2>&1 ||
    { tail -20 "$ROOT.log" >&2; echo "check-torch2: debootstrap failed (log: $ROOT.log)" >&2; exit 1; }
  unshare --mount --propagation private bash -euo pipefail -s "$ROOT" "$PACKAGES" >> "$ROOT.log" 2>&1 <<'BUILD' ||
ROOT=$1 PACKAGES=$2
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PACKAGES
chroot "$ROOT" apt-get clean
BUILD
    { tail -20 "$ROOT.log" >&2; echo "check-torch2: installing PyTorch 2.x in $ROOT failed (log: $ROOT.log)" >&2; exit 1; }
  echo "$PACKAGES" > "$stamp"
fi

# The checks, inside the root (scripts/torch2-exec.sh mounts the repository at /repo).
PMF_TORCH2_ROOT="$ROOT" bash scripts/torch2-exec.sh '
    cd /repo
    python3 -c "import torch, numpy, onnxruntime, sys; print(\"check-torch2: PyTorch\", torch.__version__, \"| Python\", sys.version.split()[0], \"| NumPy\", numpy.__version__, \"| onnxruntime\", onnxruntime.__version__)"
    # The whole trainer suite; export checks through the Python onnxruntime (as on the GPU machines).
    PMF_ORT_BACKEND=python python3 -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning trainer/tests
    # The export checks again through onnxruntime-node (the path Debian 12 uses).
    PMF_ORT_BACKEND=node python3 -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning trainer/tests -k "export or backend"
    # The documented newcomer command, end to end: train a toy, export it, check it.
    # (Debian 13 links onnx and onnxruntime each with ONNX schemas, so importing both prints
    # harmless "Schema error" lines: they are dropped, anything else on stderr is shown.)
    out=$(mktemp -d)
    PYTHONPATH=/repo/trainer python3 -m pmf_trainer train --preset toy-x-D2 --run-dir "$out/run" \
      --set train.steps=200 --export "$out/toy.onnx" > "$out/log" 2> "$out/err" ||
      { cat "$out/log" "$out/err"; exit 1; }
    grep -v -e "^Schema error" -e "^$" "$out/err" || true
    tail -1 "$out/log"
    rm -rf "$out"
  '
echo "check-torch2: PyTorch 2.x passed"
