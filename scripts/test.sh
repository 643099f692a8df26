#!/usr/bin/env bash
# `npm test`: the full suite, and it does not pass by skipping. It first checks that everything
# the suite needs is installed and stops, naming what to run, when something is not; then it runs
# every part with PMF_FULL_TEST=1, under which a part that finds a tool missing fails instead of
# skipping (test/e2e/harness.ts e2eAvailable(), scripts/check-torch2.sh). A test file run by hand
# (node --test out/test/e2e/x.test.js) still skips, with its reason, where a tool is missing.
#
#   lint                      ESLint on the TypeScript, flake8 on trainer/ (npm run lint; no finding passes)
#   scripts/tests/*.test.sh   the scripts' own checks (apt sources, README commands, every test folder run)
#   test:trainer              the trainer's pytest suite on Debian 12's PyTorch 1.13
#   test:torch2               the same on PyTorch 2.x in a Debian 13 root (scripts/check-torch2.sh; root)
#   test:ts                   build, core/node/engine/CLI tests, then the end-to-end tests in VS Code
set -euo pipefail
cd "$(dirname "$0")/.."

gaps=()
out=$(bash scripts/setup-system.sh --check 2>&1) || gaps+=("$out: run \`sudo scripts/setup-system.sh\`")
out=$(bash scripts/setup-e2e.sh --check 2>&1) || gaps+=("$out")
out=$(node scripts/npm-deps-current.mjs 2>&1) ||
  gaps+=("$out: run \`ONNXRUNTIME_NODE_INSTALL=skip npm ci\`")
command -v unshare > /dev/null || gaps+=("no unshare (util-linux), which the PyTorch 2.x check needs")
[ "$(id -u)" -eq 0 ] || # the one-node Slurm of test/cli/slurm.test.ts (scripts/slurm-local.sh) runs slurmd as root
  gaps+=("the Slurm test (test/cli/slurm.test.ts) starts slurmd, which needs root: run the tests as root")
if [ "$(id -u)" -ne 0 ]; then # the PyTorch 2.x root: scripts/check-torch2.sh asks sudo when it gets there
  if ! command -v sudo > /dev/null; then
    gaps+=("the PyTorch 2.x check (scripts/check-torch2.sh) needs root (chroot) and there is no sudo: run the tests as root")
  elif ! sudo -n true 2> /dev/null && [ ! -t 0 ]; then
    gaps+=("the PyTorch 2.x check (scripts/check-torch2.sh) needs root (chroot), and sudo cannot ask for a password without a terminal: run \`sudo -v\` first, or the tests as root")
  fi
fi
if [ ${#gaps[@]} -gt 0 ]; then
  echo "npm test runs every test and skips none, and this machine lacks what some of them need:" >&2
  for g in "${gaps[@]}"; do echo "  - $g" >&2; done
  echo "\`scripts/setup.sh test\` installs all of it (sudo where needed) and then runs npm test." >&2
  exit 1
fi

export PMF_FULL_TEST=1 PMF_REQUIRE_TORCH2=1
# Vulkan (the WebGPU tests on Mesa lavapipe) wants a runtime folder; a root shell in a container has none.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d)
  export XDG_RUNTIME_DIR
  trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT
fi

npm run lint --silent
for t in scripts/tests/*.test.sh; do bash "$t"; done
npm run test:trainer
npm run test:torch2
npm run test:ts
