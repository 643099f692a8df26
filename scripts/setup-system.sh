#!/usr/bin/env bash
# Installs the Debian packages pMF Lab needs (idempotent: installs only what is missing).
# Usage: sudo scripts/setup-system.sh          (CI runs it as root)
set -euo pipefail

PACKAGES=(
  # trainer: PyTorch 1.13 (CPU), ONNX, tests, figures, fast BLAS, the dataset
  python3-torch python3-onnx python3-numpy python3-pytest python3-pil python3-matplotlib
  libopenblas0-pthread dataset-fashion-mnist
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
if [ $need_mesa -eq 1 ] && . /etc/os-release && [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
  list=/etc/apt/sources.list.d/bookworm-backports.list
  grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ ||
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee "$list" > /dev/null
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
