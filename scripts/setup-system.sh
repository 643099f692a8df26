#!/usr/bin/env bash
# Installs the Debian packages pMF Lab needs (idempotent: installs only what is missing).
# Usage: sudo scripts/setup-system.sh          (CI runs it as root)
set -euo pipefail

PACKAGES=(
  # trainer: PyTorch 1.13 (CPU), ONNX, tests, figures, fast BLAS, the dataset
  python3-torch python3-onnx python3-numpy python3-pytest python3-pil python3-matplotlib
  libopenblas0-pthread dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
