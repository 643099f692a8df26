#!/usr/bin/env bash
# The tracked working tree travels to the accelerator machine (64 MiB per call, with what a call
# carries), so it must stay under 48 MB: this fails, naming the largest files, when it does not.
# New bundled models fit by being small, float16-stored, and kept once (no .pt beside the .onnx:
# `scripts/pmf-trainer rebuild-pytorch` makes one).
#   bash scripts/tests/tree-size.test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=${PMF_TREE_LIMIT_BYTES:-48000000}
if ! git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  echo "not ok - tree size: not a git checkout"; exit 1
fi
# the files as they are in the working tree (a staged or edited file counts at its current size)
# (a tracked file deleted in the working tree counts 0: stat fails on it, which must not end the script)
total=$({ git ls-files -z | xargs -0 stat -c %s 2> /dev/null || true; } | awk '{ s += $1 } END { print s + 0 }')
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
if [ "$total" -le "$limit" ]; then
  echo "ok - tracked tree $(mb "$total") (limit $(mb "$limit"))"
else
  echo "not ok - tracked tree $(mb "$total") passes the limit of $(mb "$limit"); the largest files:"
  { git ls-files -z | xargs -0 stat -c '%s %n' 2> /dev/null || true; } | sort -rn | head -8 | while read -r s n; do echo "    $(mb "$s")  $n"; done
  exit 1
fi
