#!/usr/bin/env bash
# Every folder of tests is run by the full test command: each test/<folder> holding *.test.ts
# files is named in package.json's test:ts (as out/test/<folder>/; node --test searches it
# recursively), and trainer/tests is what test:trainer runs. A new folder the command never
# ran would pass by not running (a second, no build).
#   bash scripts/tests/test-folders.test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }

ts=$(node -p 'require("./package.json").scripts["test:ts"]')
trainer=$(node -p 'require("./package.json").scripts["test:trainer"]')
folders=$(find test -name '*.test.ts' -not -path '*/node_modules/*' | cut -d/ -f2 | sort -u)
[ -n "$folders" ] || bad "no test/*/*.test.ts found"
for f in $folders; do
  case " $ts " in
    *" out/test/$f/ "*) ok "test:ts runs test/$f" ;;
    *) bad "test/$f holds tests that test:ts (\`$ts\`) never runs: add out/test/$f/ to it" ;;
  esac
done
if [ -n "$(find test -maxdepth 1 -name '*.test.ts')" ]; then
  bad "test files directly in test/ ($(find test -maxdepth 1 -name '*.test.ts' | paste -sd' ')): test:ts runs folders; move them into one"
fi
case "$trainer" in
  *" trainer/tests "*|*" trainer/tests") ok "test:trainer runs trainer/tests" ;;
  *) bad "test:trainer (\`$trainer\`) does not run trainer/tests" ;;
esac

[ $fails -eq 0 ] || { echo "test-folders: $fails failed"; exit 1; }
echo "test-folders: all passed"
