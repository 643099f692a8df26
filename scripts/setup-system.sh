#!/usr/bin/env bash
# Installs the Debian packages pMF Lab needs (idempotent: installs only what is missing).
# Usage: sudo scripts/setup-system.sh          (CI runs it as root; scripts/setup.sh test runs it)
#        scripts/setup-system.sh --check      installs nothing: lists what is missing, exit 1 if any
# bookworm's Mesa comes from bookworm-backports, on the mirror the machine's apt sources name.
set -euo pipefail
. "$(dirname "$0")/lib/apt-sources.sh"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

PACKAGES=(
  # trainer: PyTorch 1.13 (CPU), ONNX, tests, figures, fast BLAS, the dataset; its linter (npm run lint:py)
  python3-torch python3-onnx python3-numpy python3-pytest python3-pil python3-matplotlib
  libopenblas0-pthread dataset-fashion-mnist python3-flake8
  # the Slurm array-job test (test/cli/slurm.test.ts, scripts/slurm-local.sh): a one-node Slurm on localhost
  slurm-wlm munge
)
# WebGPU without a GPU (the provider-parity tests): Mesa's software Vulkan driver, lavapipe.
# Debian 12's Mesa 22 is too old for Dawn; bookworm-backports has one that works.
BACKPORTS_PACKAGES=(mesa-vulkan-drivers)
BACKPORTS_MIN_MESA=24

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
need_mesa=1
[ -n "$mesa" ] && [ "${mesa%%.*}" -ge "$BACKPORTS_MIN_MESA" ] 2>/dev/null && need_mesa=0

if [ ${#missing[@]} -eq 0 ] && [ $need_mesa -eq 0 ]; then
  echo "setup-system: all packages present (mesa-vulkan-drivers $mesa)"
  exit 0
fi
if [ $CHECK -eq 1 ]; then
  [ $need_mesa -eq 1 ] && missing+=("mesa-vulkan-drivers>=$BACKPORTS_MIN_MESA (has: ${mesa:-none})")
  echo "setup-system: missing Debian packages: ${missing[*]}" >&2
  exit 1
fi
. /etc/os-release
if [ $need_mesa -eq 1 ] && [ "${VERSION_CODENAME:-}" = "bookworm" ] &&
   ! pmf_apt_sources | grep " bookworm-backports$" > /dev/null; then
  # The backports suite on the machine's own Debian mirror (a proxy in apt.conf still applies).
  mirror=$(pmf_debian_mirror bookworm) ||
    { echo "setup-system: no Debian mirror in the apt sources; add bookworm-backports to them and rerun" >&2; exit 1; }
  echo "setup-system: adding bookworm-backports from $mirror"
  echo "deb $mirror bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list > /dev/null
fi
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-system: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ $need_mesa -eq 1 ]; then
  echo "setup-system: installing ${BACKPORTS_PACKAGES[*]} (software Vulkan for WebGPU tests)"
  if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BACKPORTS_PACKAGES[@]}"
  else
    $SUDO apt-get install -y -qq --no-install-recommends "${BACKPORTS_PACKAGES[@]}"
  fi
fi
