#!/usr/bin/env bash
# Keeps README's two Install commands, CI and the full test command in step, and the manifest's
# walkthrough and icon pointing at real commands and files (a second, no network).
#   bash scripts/tests/readme-commands.test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }
section() { awk -v h="## $1" '$0 == h { on = 1; next } on && /^## / { exit } on' README.md; }

install=$(section Install)
commands=$(printf '%s\n' "$install" | grep -E '^    [^ ]' | sed -E 's/^    //; s/ +#.*//')
[ "$commands" = "$(printf 'scripts/setup.sh start\nscripts/setup.sh test')" ] &&
  ok "README Install gives exactly the two commands" || bad "README Install commands are: $commands"
[ -x scripts/setup.sh ] && ok "scripts/setup.sh is executable (README runs it as a command)" || bad "scripts/setup.sh is not executable"
grep -qx 'bash scripts/setup.sh test' .ci/run && ok ".ci/run runs README's second command" ||
  bad ".ci/run does not run \`bash scripts/setup.sh test\`"
grep -qx 'exec npm "$mode"' scripts/setup.sh && ok "setup.sh ends in npm start / npm test" || bad "setup.sh does not exec npm \$mode"
section 'Run the tests' | grep -x '    npm test' > /dev/null && ok "README Run the tests: npm test" || bad "README Run the tests does not show npm test"
[ "$(node -p 'require("./package.json").scripts.test')" = "bash scripts/test.sh" ] &&
  ok "npm test is scripts/test.sh" || bad "package.json scripts.test is not bash scripts/test.sh"
grep -q 'onnxruntime-node-install' .npmrc && bad ".npmrc sets onnxruntime-node-install (an unknown npm config)" ||
  ok ".npmrc sets no unknown npm config"

# The walkthrough: every button runs a contributed command; every media file exists.
if out=$(node -e '
  const fs = require("fs");
  const pkg = require("./package.json");
  const cmds = new Set(pkg.contributes.commands.map((c) => c.command));
  const errs = [];
  if (!fs.existsSync(pkg.icon)) errs.push(`icon ${pkg.icon} missing`);
  for (const w of pkg.contributes.walkthroughs ?? []) for (const s of w.steps) {
    const buttons = [...s.description.matchAll(/\]\(command:([\w.]+)\)/g)].map((m) => m[1]);
    if (buttons.length === 0) errs.push(`step ${s.id} has no button`);
    for (const c of buttons) if (!cmds.has(c)) errs.push(`step ${s.id}: ${c} is not a contributed command`);
    for (const f of [s.media.image, s.media.markdown, s.media.svg].filter(Boolean)) if (!fs.existsSync(f)) errs.push(`step ${s.id}: ${f} missing`);
  }
  if (!(pkg.contributes.walkthroughs ?? []).length) errs.push("no walkthrough");
  if (errs.length) { console.log(errs.join("; ")); process.exit(1); }
' 2>&1); then ok "walkthrough buttons and media, icon"; else bad "manifest: $out"; fi

[ $fails -eq 0 ] || { echo "readme-commands: $fails failed"; exit 1; }
echo "readme-commands: all passed"
