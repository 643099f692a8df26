#!/usr/bin/env bash
# The two commands of README's "Install", on Debian or Ubuntu. Each installs only what is
# missing (a second run checks in about a second, then goes straight to the run), then runs:
#
#   scripts/setup.sh start   Node.js 20+ (from apt where it offers one), the npm packages without
#                            onnxruntime-node's CUDA download; then `npm start`: 40 one-step samples
#                            from the bundled Fashion-MNIST model into pmf-samples/
#   scripts/setup.sh test    the same, plus what the tests need: Debian packages (scripts/setup-system.sh),
#                            a real VS Code for the end-to-end tests (scripts/setup-e2e.sh); then
#                            `npm test`, the full suite (which builds the PyTorch 2.x root on its first run)
#
# Add --install-only to stop before the run. Root is needed for apt, the PyTorch 2.x root and the
# tests themselves where they start a local Slurm (test/cli/slurm.test.ts: slurmd runs as root):
# as a user, sudo asks when (and only when) something must be installed. CI (.ci/run)
# runs `scripts/setup.sh test`. ONNXRUNTIME_NODE_INSTALL=cuda12 installs the CUDA provider instead.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/setup.sh start|test [--install-only]" >&2; exit 2; }
mode=${1:-}
case "$mode" in start|test) ;; *) usage ;; esac
run=1
case "${2:-}" in "") ;; --install-only) run=0 ;; *) usage ;; esac
log() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo > /dev/null; then sudo "$@"
  else die "\`$*\` needs root and there is no sudo: run it as root"
  fi
}

# --- Node.js 20+ and npm ----------------------------------------------------------------------
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ] || ! command -v npm > /dev/null; then
  have=$(node --version 2>/dev/null || echo none)
  offer=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ { print $2 }')
  offer_major=$(printf '%s' "${offer:-0}" | sed -E 's/^[0-9]+://; s/[^0-9].*//')
  if [ "${offer_major:-0}" -ge 20 ] 2> /dev/null; then
    log "installing Node.js $offer and npm from apt (this machine has: $have)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
  else
    die "pMF Lab needs Node.js 20 or newer with npm (this machine has: $have; its apt offers: ${offer:-nothing}).
  Install one (nodejs.org, NodeSource or your distribution's backports), then rerun scripts/setup.sh $mode."
  fi
fi

# --- npm packages -----------------------------------------------------------------------------
# onnxruntime-node's install script downloads its CUDA libraries (hundreds of MB, from a NuGet
# feed) unless ONNXRUNTIME_NODE_INSTALL says otherwise: the environment variable is the setting
# it documents (an .npmrc key is an unknown npm config, which npm stops passing on).
if node scripts/npm-deps-current.mjs 2> /dev/null; then
  log "npm packages up to date"
else
  why=$(node scripts/npm-deps-current.mjs 2>&1 || true)
  log "npm ci (${why#npm-deps: })"
  ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL:-skip} npm ci --no-audit --no-fund
fi

# --- what the tests need ----------------------------------------------------------------------
if [ "$mode" = test ]; then
  if bash scripts/setup-system.sh --check > /dev/null 2>&1; then
    log "Debian packages present"
  else
    as_root bash scripts/setup-system.sh
  fi
  bash scripts/setup-e2e.sh --check > /dev/null 2>&1 || bash scripts/setup-e2e.sh
  bash scripts/setup-e2e.sh --check
fi

[ $run -eq 1 ] || { log "installed; \`npm $mode\` runs it"; exit 0; }
exec npm "$mode"
