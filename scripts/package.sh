#!/usr/bin/env bash
# Builds a platform-specific VSIX: scripts/package.sh [TARGET]   (default linux-x64)
# TARGET: linux-x64 | linux-arm64 | darwin-arm64 | win32-x64 | win32-arm64
# onnxruntime-node ships every platform's binaries (about 290 MB); the VSIX keeps only
# TARGET's. sharp installs only the build machine's binaries: for another TARGET, first run
#   npm install --no-save --os=<darwin|win32|linux> --cpu=<x64|arm64> sharp
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-linux-x64}"
os="${target%-*}"
cpu="${target#*-}"
case "$target" in linux-x64|linux-arm64|darwin-arm64|win32-x64|win32-arm64) ;; *)
  echo "package: unknown target '$target'" >&2; exit 2 ;;
esac
ignore=$(mktemp)
trap 'rm -f "$ignore"' EXIT
cp .vscodeignore "$ignore"
for d in node_modules/onnxruntime-node/bin/napi-v6/*/*; do
  [ "$d" = "node_modules/onnxruntime-node/bin/napi-v6/$os/$cpu" ] || echo "$d/**" >> "$ignore"
done
for d in node_modules/@img/sharp-*; do
  case "$d" in *-"$os"-"$cpu"|*-"$os"-"$cpu"-*|*"$os""$cpu"*) ;; */colour) ;; *) echo "$d/**" >> "$ignore" ;; esac
done
npm run build --silent -- --production
npx vsce package --target "$target" --ignoreFile "$ignore" --allow-missing-repository \
  --out "pmf-lab-$target.vsix"
